from django import template

from local_stores.models import SsoConfig

register = template.Library()


@register.simple_tag
def sso_available() -> bool:
    """Whether some network lets its staff log in with their company account (the login page
    shows the "company account" form only then)."""
    return SsoConfig.objects.filter(enabled=True).exists()
