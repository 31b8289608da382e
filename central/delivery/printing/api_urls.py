from django.urls import path

from central.delivery.printing import api as print_api

urlpatterns = [
    path("campaigns/<str:public_id>/print/", print_api.CampaignPrintApi.as_view(), name="api-campaign-print"),
    path("print-files/<str:public_id>/", print_api.PrintFileApi.as_view(), name="api-print-file"),
    path("print-runs/<str:public_id>/manifest/", print_api.PrintManifestApi.as_view(), name="api-print-manifest"),
    path("print-runs/<str:public_id>/retry/", print_api.PrintRetryApi.as_view(), name="api-print-retry"),
    path("printer-settings/<slug:slug>/", print_api.PrinterSettingsApi.as_view(), name="api-printer-settings"),
]
