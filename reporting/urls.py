from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("campaigns/<str:public_id>/promote/", views.campaign_promote_view, name="campaign-promote"),
]
