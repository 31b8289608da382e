from django.urls import path

from approvals import views

app_name = "approvals"
urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("proofs/<str:public_id>/", views.proof_view, name="proof"),
    path("proofs/<str:public_id>/content/", views.proof_content_view, name="proof-content"),
    path("proofs/<str:public_id>/pdf/", views.proof_pdf_view, name="proof-pdf"),
    path("proofs/<str:public_id>/decide/", views.proof_decide_view, name="proof-decide"),
    path("proofs/<str:public_id>/revoke/", views.proof_revoke_view, name="proof-revoke"),
    path("policies/", views.policy_list_view, name="policies"),
    path("policies/new/", views.policy_create_view, name="policy-create"),
    path("policies/<str:public_id>/", views.policy_edit_view, name="policy-edit"),
    path("audit.csv", views.audit_export_view, name="audit-export"),
]
