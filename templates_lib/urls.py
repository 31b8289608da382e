from django.urls import path

from templates_lib import brand_kit_views, editor_views, views

app_name = "templates_lib"
urlpatterns = [
    path("", views.template_list_view, name="template-list"),
    path("new/", views.template_create_view, name="template-create"),
    path("assets/", views.asset_list_view, name="asset-list"),
    path("assets/<str:public_id>/archive/", views.asset_archive_view, name="asset-archive"),
    path("rules/", views.content_rules_view, name="content-rules"),
    path("brand-kit/", brand_kit_views.brand_kit_view, name="brand-kit"),
    path("preview/<str:token>.pdf", views.preview_pdf_view, name="preview-pdf"),
    path("versions/<str:public_id>/edit/", views.draft_edit_view, name="draft-edit"),
    path("versions/<str:public_id>/preview/", views.draft_preview_view, name="draft-preview"),
    path("versions/<str:public_id>/publish/", views.version_publish_view, name="version-publish"),
    path("versions/<str:public_id>/visual/", editor_views.visual_editor_view, name="visual-editor"),
    path("versions/<str:public_id>/visual/preview/", editor_views.visual_preview_view, name="visual-preview"),
    path("versions/<str:public_id>/visual/save/", editor_views.visual_save_view, name="visual-save"),
    path("<str:public_id>/", views.template_detail_view, name="template-detail"),
    path("<str:public_id>/new-version/", views.version_new_draft_view, name="version-new-draft"),
    path("<str:public_id>/archive/", views.template_archive_view, name="template-archive"),
    path("<str:public_id>/try/", views.template_try_view, name="template-try"),
]
