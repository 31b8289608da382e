from django.urls import path

from central.budgets import views as budget_views

app_name = "budgets"
urlpatterns = [
    path("", budget_views.budget_list_view, name="budget-list"),
    path("allocate/", budget_views.budget_allocate_view, name="budget-allocate"),
]
