from django.urls import path

from central.calendar import views as calendar_views
from central.conflicts import views as conflict_views
from central.rules import settings_views as rules_views

app_name = "calendar"
urlpatterns = [
    path("", calendar_views.calendar_view, name="calendar"),
    path("feed/", calendar_views.calendar_feed_settings_view, name="calendar-feed-settings"),
    path("operations/new/", calendar_views.operation_create_view, name="operation-create"),
    path("periods/", calendar_views.period_list_view, name="periods"),
    path("rules/", rules_views.rules_view, name="rules"),
    path("suppressions/", rules_views.suppressions_view, name="suppressions"),
    path("arbitration/", rules_views.arbitration_view, name="arbitration"),
    path("conflicts/", conflict_views.conflicts_view, name="conflicts"),
    path("operations/<str:public_id>/", calendar_views.operation_detail_view, name="operation-detail"),
    path("operations/<str:public_id>/answer/", calendar_views.operation_answer_view, name="operation-answer"),
    path("operations/<str:public_id>/edit/", calendar_views.operation_edit_view, name="operation-edit"),
    path("operations/<str:public_id>/publish/", calendar_views.operation_publish_view, name="operation-publish"),
    path("operations/<str:public_id>/national/", calendar_views.national_campaign_create_view,
         name="national-campaign-create"),
]
