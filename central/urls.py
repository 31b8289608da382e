from django.urls import path

from central.customers import views
from central.prospects import views as prospects_views

app_name = "central"
urlpatterns = [
    path("", views.customer_list_view, name="customer-list"),
    path("export.csv", views.customer_export_view, name="customer-export"),
    path("new/", views.customer_create_view, name="customer-create"),  # issue 22: customers by hand
    path("import/", views.customer_import_view, name="customer-import"),
    path("imports/<str:public_id>/", views.customer_import_detail_view, name="customer-import-detail"),
    path(
        "imports/<str:public_id>/errors.csv", views.customer_import_errors_view, name="customer-import-errors"
    ),
    path("signup-poster/<str:public_id>.pdf", prospects_views.signup_poster_view, name="signup-poster"),
    path("<str:public_id>/", views.customer_detail_view, name="customer-detail"),
    path("<str:public_id>/erase/", views.customer_erase_view, name="customer-erase"),
    path("<str:public_id>/edit/", views.customer_edit_view, name="customer-edit"),  # issue 22: customers by hand
]
