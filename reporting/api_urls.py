from django.urls import path

from reporting.api import ReportApi

urlpatterns = [
    path("reports/", ReportApi.as_view(), name="api-reports"),
]
