from django.urls import path

from approvals import api

urlpatterns = [
    path("proofs/", api.ProofListApi.as_view(), name="api-proof-list"),
    path("proofs/<str:public_id>/", api.ProofDetailApi.as_view(), name="api-proof-detail"),
    path("proofs/<str:public_id>/content/", api.ProofContentApi.as_view(), name="api-proof-content"),
    path("proofs/<str:public_id>/pdf/", api.ProofPdfApi.as_view(), name="api-proof-pdf"),
    path("proofs/<str:public_id>/decisions/", api.ProofDecisionApi.as_view(), name="api-proof-decisions"),
    path("proofs/<str:public_id>/revoke/", api.ProofRevokeApi.as_view(), name="api-proof-revoke"),
    path("campaigns/<str:public_id>/proofs/", api.CampaignProofListApi.as_view(), name="api-campaign-proofs"),
    path("campaigns/<str:public_id>/schedule/", api.CampaignScheduleApi.as_view(), name="api-campaign-schedule"),
    path("approval-policies/", api.ApprovalPolicyListApi.as_view(), name="api-approval-policy-list"),
    path(
        "approval-policies/<str:public_id>/",
        api.ApprovalPolicyDetailApi.as_view(),
        name="api-approval-policy-detail",
    ),
    path("approval-audit/", api.AuditListApi.as_view(), name="api-approval-audit"),
]
