"""The API route of the branches' review of head office's national target (apart from
``central/api_urls.py``, which lists the rest of the app's)."""

from django.urls import path

from central.campaigns import target_review_api

urlpatterns = [
    path("operations/<str:public_id>/target-review/", target_review_api.TargetReviewApi.as_view(),
         name="api-operation-target-review"),
]
