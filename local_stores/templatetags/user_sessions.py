"""A recorded session's browser and device in words, for the sessions pages."""

from django import template

from local_stores.people import device_label

register = template.Library()


@register.filter
def device(user_agent: str) -> str:
    return device_label(user_agent)
