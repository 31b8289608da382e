from django.urls import path

from central.networks import api

urlpatterns = [
    path("network/", api.NetworkSettingsApi.as_view(), name="api-network-settings"),
    path("network-events/", api.NetworkEventListApi.as_view(), name="api-network-events"),
]
