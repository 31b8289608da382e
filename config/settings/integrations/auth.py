"""Login (django-allauth): password, then the second factor (TOTP, recovery codes) for whoever has
one, rate limits on failed logins; nobody signs up. The cache the rate limits count in is shared in
production (Redis, RELAIS_CACHE_URL), local to the process in demo and tests.
See docs/people-and-roles.md, "Two-factor login"."""

from config.settings.env import IS_PRODUCTION, env

AUTH_APPS = [
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",  # single sign-on, one OpenID Connect provider per network (docs/sso.md)
    "allauth.socialaccount.providers.openid_connect",
]
AUTH_MIDDLEWARE = [
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "config.middleware.MfaRequiredMiddleware",
]

ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_ADAPTER = "local_stores.auth_adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "config.login_form.RelaisLoginForm"}
ACCOUNT_SESSION_REMEMBER = True  # the session lasts SESSION_COOKIE_AGE, as before
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_VERIFICATION = "none"
#: Failed logins: 10 a minute from one address, 5 per 5 minutes on one account (then even the
#: right password is refused until the window passes).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/300s/key",
    "reset_password": "20/m/ip,5/m/key",
}
#: Open sessions are recorded at login (device, address) and listed at /accounts/sessions/; their
#: activity is not tracked at each request (no write per page).
USERSESSIONS_TRACK_ACTIVITY = False
#: Single sign-on: the providers are built from each network's SsoConfig (no SocialApp rows, no
#: secret in allauth's tables); people are linked or created in the adapter, never by a sign-up form.
SOCIALACCOUNT_ADAPTER = "local_stores.auth_adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
MFA_ADAPTER = "local_stores.auth_adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Relais"

if IS_PRODUCTION:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("RELAIS_CACHE_URL", default=env.str("CELERY_BROKER_URL")),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
