from django.urls import path

from central.identity import views

app_name = "identity"

urlpatterns = [
    path("", views.identity_view, name="identity"),
    path("test/", views.identity_test_view, name="identity-test"),
]
