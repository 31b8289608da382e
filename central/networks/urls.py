from django.urls import path

from central.networks import views

app_name = "networks"
urlpatterns = [
    path("platform/networks/", views.platform_network_list_view, name="platform-network-list"),
    path("platform/networks/new/", views.platform_network_create_view, name="platform-network-create"),
    path("network/settings/", views.network_settings_view, name="network-settings"),
    path("network/audit/", views.network_audit_view, name="network-audit"),
    path("network/audit/export.csv", views.network_audit_export_view, name="network-audit-export"),
]
