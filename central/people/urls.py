from django.urls import path

from central.people import views

app_name = "people"
urlpatterns = [
    path("people/", views.people_list_view, name="people-list"),
    path("people/invite/", views.person_invite_view, name="person-invite"),
    path("people/<str:public_id>/", views.person_detail_view, name="person-detail"),
    path("people/<str:public_id>/roles/grant/", views.person_role_view, {"action": "grant"}, name="person-role-grant"),
    path("people/<str:public_id>/roles/revoke/", views.person_role_view, {"action": "revoke"},
         name="person-role-revoke"),
    path("people/<str:public_id>/deactivate/", views.person_state_view, {"action": "deactivate"},
         name="person-deactivate"),
    path("people/<str:public_id>/reactivate/", views.person_state_view, {"action": "reactivate"},
         name="person-reactivate"),
    path("people/<str:public_id>/end-sessions/", views.person_state_view, {"action": "end-sessions"},
         name="person-sessions-end"),
    path("invitations/<str:public_id>/revoke/", views.invitation_action_view, {"action": "revoke"},
         name="invitation-revoke"),
    path("invitations/<str:public_id>/resend/", views.invitation_action_view, {"action": "resend"},
         name="invitation-resend"),
    path("people/<str:public_id>/sessions/end/", views.person_session_end_view, name="person-session-end"),
]
