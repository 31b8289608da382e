from django.urls import path

from central.people import api, sso_api

urlpatterns = [
    path("people/", api.PersonListApi.as_view(), name="api-person-list"),
    path("people/<str:public_id>/", api.PersonDetailApi.as_view(), name="api-person-detail"),
    path("people/<str:public_id>/roles/", api.PersonRolesApi.as_view(), name="api-person-roles"),
    path("people/<str:public_id>/deactivate/", api.PersonStateApi.as_view(operation="deactivate"),
         name="api-person-deactivate"),
    path("people/<str:public_id>/reactivate/", api.PersonStateApi.as_view(operation="reactivate"),
         name="api-person-reactivate"),
    path("invitations/", api.InvitationListApi.as_view(), name="api-invitation-list"),
    path("invitations/<str:public_id>/revoke/", api.InvitationActionApi.as_view(operation="revoke"),
         name="api-invitation-revoke"),
    path("invitations/<str:public_id>/resend/", api.InvitationActionApi.as_view(operation="resend"),
         name="api-invitation-resend"),
]
# single sign-on set-up (central/people/sso_api.py, docs/sso.md)
urlpatterns += [
    path("network/sso/", sso_api.SsoConfigApi.as_view(), name="api-sso-config"),
    path("network/sso/mappings/", sso_api.SsoMappingListApi.as_view(), name="api-sso-mappings"),
    path("network/sso/mappings/<str:mapping_id>/", sso_api.SsoMappingDetailApi.as_view(), name="api-sso-mapping"),
    path("network/sso/discovery/", sso_api.SsoDiscoveryApi.as_view(), name="api-sso-discovery"),
]
