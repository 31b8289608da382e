from django.urls import path

from local_stores import api

urlpatterns = [
    path("branches/", api.BranchListApi.as_view(), name="api-branch-list"),
    path("branches/<str:public_id>/", api.BranchDetailApi.as_view(), name="api-branch-detail"),
]
