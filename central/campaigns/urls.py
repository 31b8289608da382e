from django.urls import path

from central.campaigns import target_review_views, target_views, views

app_name = "campaigns"
urlpatterns = [
    path("operations/<str:public_id>/target-review/", target_review_views.target_review_view, name="target-review"),
    path("campaigns/<str:public_id>/", views.campaign_edit_view, name="campaign-edit"),
    path("campaigns/<str:public_id>/send/<str:action>/", views.campaign_send_control_view,
         name="campaign-send-control"),
    path("campaigns/<str:public_id>/target/", target_views.campaign_target_view, name="campaign-target"),
    path("campaigns/<str:public_id>/cancel/", views.campaign_cancel_view, name="campaign-cancel"),
    path("campaigns/<str:public_id>/request-approval/", views.campaign_request_approval_view,
         name="campaign-request-approval"),
    path("campaigns/<str:public_id>/schedule/", views.campaign_schedule_view, name="campaign-schedule"),
]
