"""Routes reached without logging in (mounted under accounts/): an invitation's link and the
password reset by e-mail (Django's URL names, which its views reverse)."""

from django.urls import path

from central.people import public_views, views
from central.people.sso_forms import SsoAwarePasswordResetForm

urlpatterns = [
    path("invitation/<str:token>/", public_views.invitation_accept_view, name="invitation-accept"),
    path("password/reset/", public_views.PasswordResetView.as_view(form_class=SsoAwarePasswordResetForm),  # docs/sso.md
         name="password_reset"),
    path("password/reset/sent/", public_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", public_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/done/", public_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("sessions/end/", views.own_session_end_view, name="usersession-end"),  # one of one's own sessions
]
