from django.urls import path

from central.delivery.printing import views as print_views

app_name = "print"
urlpatterns = [
    path("files/<str:public_id>/", print_views.print_file_download_view, name="file-download"),
    path("runs/<str:public_id>/manifest/", print_views.print_manifest_download_view, name="manifest-download"),
    path("runs/<str:public_id>/retry/", print_views.print_handoff_retry_view, name="handoff-retry"),
    path("printer/", print_views.printer_settings_view, name="printer-settings"),
    # the printer's links (hand-off by e-mail): the signed token is the credential
    path("d/<str:token>/", print_views.printer_download_view, name="printer-download"),
]
