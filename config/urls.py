import os

from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from central.calendar import views as calendar_views
from central.identity import webhooks as identity_webhooks
from central.people import sso_views
from config import views as config_views


def tracking_webhooks(esps: list[str]) -> list:
    """django-anymail's tracking-webhook routes of the providers ``esps``, and none of its others."""
    import anymail.urls

    wanted = {f"{esp}_tracking_webhook" for esp in esps}
    return [pattern for pattern in anymail.urls.urlpatterns if pattern.name in wanted]


# The admin logs in through the same login as every page: its rate limits and the second factor
# (Django's own admin login form asked the password only).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", config_views.home, name="home"),
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/login/", allauth_views.login, name="account_login"),  # the name allauth's stages redirect to
    # Django's logout; after a single sign-on, on to the provider's logout when it has one (docs/sso.md)
    path("accounts/logout/", sso_views.SsoLogoutView.as_view(), name="logout"),
    path("accounts/logout/", sso_views.SsoLogoutView.as_view(), name="account_logout"),  # allauth's pages' name for it
    path("accounts/2fa/", include("allauth.mfa.urls")),  # second factor: set up, asked at login (issue 22 D)
    path("accounts/sessions/", include("allauth.usersessions.urls")),  # one's open sessions, end the others (issue 22 D)
    path("accounts/reauthenticate/", allauth_views.reauthenticate, name="account_reauthenticate"),  # before MFA changes
    path("accounts/inactive/", allauth_views.account_inactive, name="account_inactive"),  # a deactivated person's login
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("central.people.public_urls")),  # invitation links, password reset (issue 22 C)
    path("accounts/", include("allauth.socialaccount.providers.openid_connect.urls")),  # SSO: oidc/net-<slug>/login/ and callback (issue 22 D)
    path("accounts/", include("central.people.sso_public_urls")),  # the login page's "company account" form (issue 22 D)
    # the branch pages (central's concept packages; the network core itself has no page)
    path("network/", include("central.branches.urls")),
    path("network/", include("central.operations.urls")),
    path("network/", include("central.campaigns.urls")),
    path("network/", include("central.rules.urls")),
    path("network/structure/", include("central.structure.urls")),  # the network's tree, its changes and CSV import (issue 22)
    path("network/", include("central.people.urls")),  # people, roles, invitations (issue 22 C)
    path("customers/", include("central.urls")),
    path("templates/", include("templates_lib.urls")),
    path("calendar/", include("central.calendar.urls")),
    path("calendar.ics/<str:token>", calendar_views.calendar_feed_view, name="calendar-feed"),
    path("approvals/", include("approvals.urls")),
    path("reports/", include("reporting.urls")),
    path("budgets/", include("central.budgets.urls")),
    path("print/", include("central.delivery.printing.urls")),  # print runs: scoped downloads, the printer's links
    path("", include("central.networks.urls")),  # issue 22: the platform's networks, a network's settings and audit trail
    path("network/sso/", include("central.people.sso_urls")),  # the network's single sign-on set-up (issue 22 D)
    path("network/identity/", include("central.identity.urls")),  # the network's own sending identity (head office)
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", config_views.healthz, name="healthz"),
    # the e-mail provider's tracking webhook (django-anymail), only with its shared secret set, and only
    # the provider Relais sends through (no inbound mail, no other provider's route)
    *([path("webhooks/email/", include((tracking_webhooks(settings.ANYMAIL_WEBHOOKS), "anymail")))]
      if settings.ANYMAIL_WEBHOOKS else []),
    # each network's own tracking webhook, with its own secret (issue 22 E: docs/sending-identity.md)
    path("webhooks/email/<slug:slug>/<str:esp>/tracking/", identity_webhooks.tracking_webhook_view,
         name="identity-tracking-webhook"),
    path("", include("central.delivery.public_urls")),  # /u/, /t/o/, /t/c/, /v/: links in messages
]

#: The uploads anyone may fetch: the images messages show (assets) and the branches' logos. The
#: rest of MEDIA_ROOT — customer files being imported, print runs with names and addresses — is
#: never served by URL (the views that need them read them behind their own checks).
PUBLIC_MEDIA = ("assets/", "logos/")

if settings.DEBUG:  # in production the web server serves these same two directories, and nothing else
    for directory in PUBLIC_MEDIA:
        urlpatterns += static(settings.MEDIA_URL + directory, document_root=os.path.join(settings.MEDIA_ROOT, directory))
