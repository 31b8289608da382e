"""The public endpoints of messages: unsubscription, open pixel, click redirect, view online.
No login: the delivery's token (130 random bits) is the credential; an unknown one answers 404.
And the SMS provider's webhook for replies (STOP), authenticated by the provider's signature; and
(included from central/prospects/urls.py) a branch's sign-up page."""

from django.urls import include, path

from central.delivery import public_views

app_name = "public"
urlpatterns = [
    path("u/<str:token>/", public_views.unsubscribe_view, name="unsubscribe"),
    path("t/o/<str:token>.gif", public_views.open_pixel_view, name="open"),
    path("t/c/<str:token>/", public_views.click_view, name="click"),
    path("v/<str:token>/", public_views.view_online_view, name="view-online"),
    path("sms/inbound/twilio/", public_views.sms_inbound_twilio_view, name="sms-inbound-twilio"),
    # a branch's sign-up page (prospects), and the confirmation link of its e-mails: same namespace
    path("", include("central.prospects.urls")),
]
