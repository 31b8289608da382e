from django.urls import path

from central.people import sso_views

app_name = "sso"
urlpatterns = [
    path("", sso_views.sso_view, name="sso"),
    path("mappings/", sso_views.sso_mappings_view, name="sso-mappings"),
    path("discovery/", sso_views.sso_discovery_view, name="sso-discovery"),
]
