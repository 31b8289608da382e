from django.urls import path

from central.structure import api

urlpatterns = [
    path("nodes/", api.NodeListApi.as_view(), name="api-node-list"),
    path("nodes/<str:public_id>/", api.NodeDetailApi.as_view(), name="api-node-detail"),
    path("nodes/<str:public_id>/close/", api.NodeCloseApi.as_view(), name="api-node-close"),
    path("nodes/<str:public_id>/reopen/", api.NodeReopenApi.as_view(), name="api-node-reopen"),
    path("structure-imports/", api.StructureImportApi.as_view(), name="api-structure-import"),
]
