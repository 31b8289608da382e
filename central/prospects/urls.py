"""A branch's public sign-up page and the confirmation link of its e-mails. No ``app_name``: included
by ``central/delivery/public_urls.py``, so the names stay ``public:signup`` and ``public:signup-confirm``."""

from django.urls import path

from central.prospects import views

urlpatterns = [
    path("join/confirm/<str:token>/", views.signup_confirm_view, name="signup-confirm"),
    path("join/<str:public_id>/", views.signup_view, name="signup"),
]
