"""Project-wide request middleware."""

from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from local_stores.mfa_policy import mfa_required, second_factor_satisfied


class RejectNulPathMiddleware:
    """A path with a NUL byte names nothing Relais has, and PostgreSQL refuses NUL in a text lookup
    (``DataError``: a server error) — so such a request answers 404 before any view looks it up.
    Found by the API fuzzing (tests/security/test_api_fuzz.py): ``GET /api/v1/branches/a%00b/`` was a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            raise Http404
        return self.get_response(request)


#: Paths someone who must set up a second factor may still open: the set-up itself, logging out,
#: changing the language, static files, and the invitation and password-reset links.
MFA_SETUP_ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/login/", "/accounts/reauthenticate/",
                              "/accounts/inactive/", "/i18n/", "/static/",
                              "/accounts/invitation/", "/accounts/password/", "/accounts/reset/", "/healthz")


class MfaRequiredMiddleware:
    """A person whose network requires a second factor of one of their roles, and who has none yet,
    is sent to set up an authenticator app from every page; the API answers 403 until it is done
    (docs/people-and-roles.md, "Two-factor login")."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not path.startswith(MFA_SETUP_ALLOWED_PREFIXES)
                and mfa_required(user) and not second_factor_satisfied(user, request.session)):
            if path.startswith("/api/"):
                return JsonResponse({"detail": str(_("Second factor required: set up an authenticator app first."))},
                                    status=403)
            return redirect("mfa_activate_totp")
        return self.get_response(request)
