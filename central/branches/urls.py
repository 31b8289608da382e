from django.urls import path

from central.branches import views

app_name = "branches"
urlpatterns = [
    path("branches/", views.branch_list_view, name="branch-list"),
    path("branches/<str:public_id>/", views.branch_detail_view, name="branch-detail"),
    path("branches/<str:public_id>/edit/", views.branch_edit_view, name="branch-edit"),
]
