from django.urls import path

from central import api

urlpatterns = [
    path("customers/", api.CustomerListApi.as_view(), name="api-customer-list"),
    path("customers/<str:public_id>/", api.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path("customer-imports/", api.CustomerImportCreateApi.as_view(), name="api-customer-import-create"),
    path(
        "customer-imports/<str:public_id>/",
        api.CustomerImportDetailApi.as_view(),
        name="api-customer-import-detail",
    ),
]
