from django.urls import path

from approvals import views

app_name = "approvals"
urlpatterns = [path("", views.inbox_view, name="inbox")]
