from django.urls import path

from central.operations import views

app_name = "operations"
urlpatterns = [
    path("operations/", views.operations_view, name="operations"),
    path("operations/<str:public_id>/answer/", views.operation_answer_view, name="operation-answer"),
    path("operations/<str:public_id>/use-kit/", views.kit_use_view, name="kit-use"),
]
