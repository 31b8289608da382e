from django.urls import path

from central.rules import views

app_name = "rules"
urlpatterns = [
    path("campaigns/<str:public_id>/simulate/", views.campaign_simulate_view, name="campaign-simulate"),
    path("customers/why/", views.customer_why_search_view, name="customer-why-search"),
    path("customers/<str:public_id>/why/", views.customer_why_view, name="customer-why"),
    path("transfers/", views.transfers_view, name="transfers"),
    path("transfers/<str:public_id>/decide/", views.transfer_decide_view, name="transfer-decide"),
]
