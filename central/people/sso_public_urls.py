from django.urls import path

from central.people import sso_views

urlpatterns = [
    path("sso/", sso_views.company_login_view, name="sso-login"),
]
