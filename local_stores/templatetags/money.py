"""``{% load money %}`` then ``{{ amount|money }}`` (to the cent) or ``{{ price|money:"precise" }}``
(a unit cost, every significant decimal): the one way pages show money (see ``local_stores.money``)."""

from django import template

from local_stores.money import money as format_money

register = template.Library()


@register.filter
def money(value, precision: str = "") -> str:
    return format_money(value, precise=precision == "precise")
