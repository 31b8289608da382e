from django.urls import path

from local_stores import (
    arbitration_views,
    campaign_target_views,
    operation_views,
    planning_views,
    target_review_views,
    views,
)

app_name = "local_stores"
urlpatterns = [
    path("branches/", views.branch_list_view, name="branch-list"),
    path("branches/<str:public_id>/", views.branch_detail_view, name="branch-detail"),
    path("branches/<str:public_id>/edit/", views.branch_edit_view, name="branch-edit"),
    path("operations/", operation_views.operations_view, name="operations"),
    path("operations/<str:public_id>/answer/", operation_views.operation_answer_view, name="operation-answer"),
    path("operations/<str:public_id>/use-kit/", operation_views.kit_use_view, name="kit-use"),
    path("operations/<str:public_id>/target-review/", target_review_views.target_review_view, name="target-review"),
    path("campaigns/<str:public_id>/", planning_views.campaign_edit_view, name="campaign-edit"),
    path("campaigns/<str:public_id>/send/<str:action>/", planning_views.campaign_send_control_view,
         name="campaign-send-control"),
    path("campaigns/<str:public_id>/target/", campaign_target_views.campaign_target_view, name="campaign-target"),
    path("campaigns/<str:public_id>/cancel/", planning_views.campaign_cancel_view, name="campaign-cancel"),
    path("campaigns/<str:public_id>/request-approval/", planning_views.campaign_request_approval_view,
         name="campaign-request-approval"),
    path("campaigns/<str:public_id>/schedule/", planning_views.campaign_schedule_view, name="campaign-schedule"),
    path("campaigns/<str:public_id>/simulate/", arbitration_views.campaign_simulate_view, name="campaign-simulate"),
    path("customers/why/", arbitration_views.customer_why_search_view, name="customer-why-search"),
    path("customers/<str:public_id>/why/", arbitration_views.customer_why_view, name="customer-why"),
    path("transfers/", arbitration_views.transfers_view, name="transfers"),
    path("transfers/<str:public_id>/decide/", arbitration_views.transfer_decide_view, name="transfer-decide"),
]
