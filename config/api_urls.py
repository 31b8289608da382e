"""Every REST endpoint lives under /api/v1/; each app lists its own."""

from allauth.core import ratelimit
from django.urls import include, path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from local_stores.mfa_policy import has_second_factor, mfa_required
from local_stores.sso import password_login_refused


# DRF's own view, documented as what it is: an operation that needs no credentials of its own (the
# schema used to say it needed a session or a token, the very thing it hands out).
@extend_schema_view(post=extend_schema(auth=[]))
class TokenApi(ObtainAuthToken):
    """Exchange a username and password for the user's API token (send it as
    ``Authorization: Token <key>``). Needs no other credentials. Refused (403) to anyone with a
    second factor, or whose network requires one of them: a password alone never hands out their
    token; refused (403) too to the people of a network that logs in by single sign-on only
    (docs/sso.md). Failed attempts count with the login page's (``ACCOUNT_RATE_LIMITS["login_failed"]``):
    beyond the limit even the right password is refused (429)."""

    def post(self, request, *args, **kwargs):
        key = str(request.data.get("username", "")).strip().lower() if hasattr(request.data, "get") else ""
        if not ratelimit.consume(request, action="login_failed", key=key, dry_run=True):
            return Response({"detail": _("Too many failed attempts: try again in a few minutes.")},
                            status=status.HTTP_429_TOO_MANY_REQUESTS)
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            ratelimit.consume(request, action="login_failed", key=key)
            return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
        user = serializer.validated_data["user"]
        if password_login_refused(user) is not None:
            return Response({"detail": _("Your network signs in with its company account: no token by password.")},
                            status=status.HTTP_403_FORBIDDEN)
        if mfa_required(user) or has_second_factor(user):
            return Response({"detail": _("Second factor required: this account cannot get a token by password.")},
                            status=status.HTTP_403_FORBIDDEN)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("", include("local_stores.api_urls")),
    path("", include("central.api_urls")),
    path("", include("central.delivery.printing.api_urls")),
    path("", include("central.campaigns.target_review_api_urls")),
    path("", include("templates_lib.api_urls")),
    path("", include("approvals.api_urls")),
    path("", include("reporting.api_urls")),
    path("", include("central.networks.api_urls")),  # issue 22: the network's settings and audit trail
    path("", include("central.structure.api_urls")),  # nodes and the structure import (issue 22)
    path("", include("central.identity.api_urls")),  # GET/PATCH network/identity/: the network's sending identity
    path("", include("central.people.api_urls")),  # people, roles, invitations (issue 22 C)
]
