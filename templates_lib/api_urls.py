from django.urls import path

from templates_lib import api, brand_kit_api

urlpatterns = [
    path("templates/", api.TemplateListApi.as_view(), name="api-template-list"),
    path("templates/create/", api.TemplateCreateApi.as_view(), name="api-template-create"),
    path("templates/<str:public_id>/", api.TemplateDetailApi.as_view(), name="api-template-detail"),
    path("templates/<str:public_id>/archive/", api.TemplateArchiveApi.as_view(), name="api-template-archive"),
    path("template-versions/<str:public_id>/", api.DraftUpdateApi.as_view(), name="api-draft-update"),
    path("template-versions/<str:public_id>/check/", api.VersionCheckApi.as_view(), name="api-version-check"),
    path("template-versions/<str:public_id>/publish/", api.VersionPublishApi.as_view(), name="api-version-publish"),
    path("template-versions/<str:public_id>/preview/", api.VersionPreviewApi.as_view(), name="api-version-preview"),
    path("assets/", api.AssetListApi.as_view(), name="api-asset-list"),
    path("assets/upload/", api.AssetUploadApi.as_view(), name="api-asset-upload"),
    path("assets/<str:public_id>/archive/", api.AssetArchiveApi.as_view(), name="api-asset-archive"),
    path("brand-kits/<slug:slug>/", brand_kit_api.BrandKitApi.as_view(), name="api-brand-kit"),
]
