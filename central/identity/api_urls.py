from django.urls import path

from central.identity import api

urlpatterns = [
    path("network/identity/", api.SendingIdentityApi.as_view(), name="api-network-identity"),
    path("network/identity/test-send/", api.SendingIdentityTestApi.as_view(), name="api-network-identity-test"),
]
