from django.urls import path

from central.structure import views

app_name = "structure"
urlpatterns = [
    path("", views.structure_view, name="structure"),
    path("new/", views.node_create_view, name="node-create"),
    path("import/", views.structure_import_view, name="import"),
    path("import/<str:report_id>/", views.structure_import_result_view, name="import-result"),
    path("import/<str:report_id>/report.csv", views.structure_import_errors_view, name="import-report"),
    path("<str:public_id>/", views.node_detail_view, name="node-detail"),
    path("<str:public_id>/edit/", views.node_edit_view, name="node-edit"),
    path("<str:public_id>/move/", views.node_move_view, name="node-move"),
    path("<str:public_id>/close/", views.node_close_view, name="node-close"),
    path("<str:public_id>/reopen/", views.node_reopen_view, name="node-reopen"),
]
