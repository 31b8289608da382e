"""Every REST endpoint lives under /api/v1/; each app lists its own."""

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include("local_stores.api_urls")),
    path("", include("central.api_urls")),
    path("", include("templates_lib.api_urls")),
    path("", include("approvals.api_urls")),
    path("", include("reporting.api_urls")),
]
