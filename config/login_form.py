"""The login form: allauth's (rate limits, login stages such as the second factor), with the field
names Relais' login page has always had (``username``, ``password``)."""

from allauth.account.forms import LoginForm


class RelaisLoginForm(LoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields.pop("login")
        self.fields = {"username": login, **self.fields}

    def clean_username(self) -> str:
        self.cleaned_data["login"] = self.cleaned_data["username"]
        return self.clean_login()
