"""Customer filters shared by the pages and the API (django-filter: typed fields, never raw
request data expanded into ``filter(**kwargs)``). They narrow a queryset that is already scoped."""

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from central.channels import registry as channels
from central.customers.importing import normalise_mobile
from central.models import Channel, ConsentStatus, Customer


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=_("Search"), max_length=100)
    branch = django_filters.CharFilter(field_name="branch__public_id", label=_("Branch"), max_length=24)
    segment = django_filters.CharFilter(field_name="segment", label=_("Segment"), max_length=32)
    consent_email = django_filters.ChoiceFilter(choices=ConsentStatus.choices, label=_("E-mail consent"))
    consent_sms = django_filters.ChoiceFilter(choices=ConsentStatus.choices, label=_("SMS consent"))
    consent_post = django_filters.ChoiceFilter(choices=ConsentStatus.choices, label=_("Post consent"))
    reachable_by = django_filters.ChoiceFilter(
        choices=Channel.choices,
        method="filter_reachable_by",
        label=_("Reachable by"),
    )
    objected = django_filters.BooleanFilter(
        field_name="objected_at", lookup_expr="isnull", exclude=True, label=_("Objected to marketing")
    )
    interest = django_filters.CharFilter(method="filter_interest", label=_("Interest"), max_length=40)
    prospect = django_filters.BooleanFilter(field_name="is_prospect", label=_("Prospects (signed up in a branch)"))

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        term = value.strip()
        if not term:
            return queryset
        mobile = normalise_mobile(term) if any(char.isdigit() for char in term) else None
        return queryset.filter(
            (Q(mobile=mobile) if mobile else Q(pk__in=[]))
            | Q(last_name__icontains=term)
            | Q(first_name__icontains=term)
            | Q(email__icontains=term.lower())
            | Q(external_id=term)
            | Q(mobile__contains=term.replace(" ", ""))
        )

    def filter_reachable_by(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        """Granted on the channel and no global objection: who a campaign could reach."""
        return queryset.filter(
            **{channels.get(value).consent_field: ConsentStatus.GRANTED}, objected_at__isnull=True
        )

    def filter_interest(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        tag = value.strip().lower()
        return queryset.filter(interests__contains=f",{tag},") if tag else queryset
