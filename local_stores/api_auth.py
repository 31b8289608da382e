"""The API's token authentication (settings: REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES).

Apart from local_stores.api_base, which reads DRF's settings when imported (a cycle otherwise)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from local_stores.mfa_policy import has_second_factor, mfa_required


class SecondFactorTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (403) the token of a person whose network now requires a
    second factor of one of their roles while they have not set one up — a token made before the
    requirement would otherwise bypass it (the pages and session API calls are held by
    config.middleware.MfaRequiredMiddleware; the token endpoint refuses them a new token), and every
    token of a person whose network logs in by single sign-on only (tokens come from a password)."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if mfa_required(user) and not has_second_factor(user):
            raise exceptions.PermissionDenied(
                gettext_lazy("Second factor required: set up an authenticator app first.")
            )
        # imported late: DRF reads this module at settings time
        from local_stores.sso import password_login_refused

        if password_login_refused(user):
            # tokens are only obtained with a password (config/api_urls.py): once the network logs in
            # by single sign-on only, one obtained before no longer opens anything (docs/sso.md)
            raise exceptions.PermissionDenied(
                gettext_lazy("Your network signs in with its company account: a token obtained with a password no "
                             "longer works.")
            )
        # the middleware saw no one (the token is read here): the network's zone and currency now
        from local_stores.locale import network_locale_activate

        network_locale_activate(user)
        return user, token
