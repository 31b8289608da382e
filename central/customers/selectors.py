"""Reads of the customer referential and its imports, always on behalf of a user.

``customers_visible_to`` is the one scoping selector for customers: every page, API view, count,
export and task that reads customers starts from it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from central.channels import registry as channels
from central.customers.consent import address_hash
from central.customers.filters import CustomerFilterSet
from central.models import ConsentEvent, ConsentStatus, Customer, CustomerImport, Suppression
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import UserLike, node_in_scope, nodes_in_scope


def customers_visible_to(user: UserLike) -> QuerySet[Customer]:
    """Customers owned by a branch lying in a subtree where ``user`` may see customers."""
    return Customer.objects.filter(branch__in=nodes_in_scope(user, perm="view_customers"))


def customer_list(*, fetched_by: UserLike, filters: Mapping[str, str] | None = None) -> QuerySet[Customer]:
    """Visible customers narrowed by ``filters`` (see ``CustomerFilterSet``: q, branch, segment,
    consent_email/sms/post, reachable_by, objected, interest). Invalid filter values are ignored
    here; pages and the API validate them first and tell the user."""
    customers = customers_visible_to(fetched_by).filter(erased_at__isnull=True).select_related("branch")
    if filters:
        customers = CustomerFilterSet(data=filters, queryset=customers).qs
    return customers.order_by("last_name", "first_name", "id")


def customer_get(*, fetched_by: UserLike, public_id: str) -> Customer:
    """One visible customer; Http404 for a foreign one and a missing one alike."""
    return get_object_or_404(
        customers_visible_to(fetched_by).select_related("branch", "network"), public_id=public_id
    )


def customer_consent_history(*, customer: Customer) -> QuerySet[ConsentEvent]:
    """The consent history of a customer already fetched through ``customer_get`` (with who recorded
    each change: the person, the import)."""
    return customer.consent_events.select_related("recorded_by", "customer_import").order_by("-occurred_at", "-id")


def branches_editable_by(user: UserLike) -> QuerySet[Node]:
    """The open branches whose customers ``user`` may create and edit by hand (``edit_customers``)."""
    return (nodes_in_scope(user, perm="edit_customers").filter(kind=NodeKind.BRANCH, is_active=True)
            .select_related("network").order_by("network__name", "name"))


def customer_editable_by(user: UserLike, customer: Customer) -> bool:
    """Whether ``user`` may edit ``customer`` (already fetched through ``customer_get``) by hand."""
    return customer.erased_at is None and node_in_scope(user, customer.branch, perm="edit_customers")


def possible_duplicates(*, customer: Customer) -> QuerySet[Customer]:
    """Other customers of the same branch with the same e-mail address or mobile number: perhaps the
    same person twice (shown, never refused)."""
    same = Q()
    if customer.email:
        same |= Q(email=customer.email.lower())
    if customer.mobile:
        same |= Q(mobile=customer.mobile)
    if not same:
        return Customer.objects.none()
    return (Customer.objects.filter(same, branch_id=customer.branch_id, erased_at__isnull=True)
            .exclude(pk=customer.pk).order_by("last_name", "first_name", "id"))


def suppressed_channels(*, customer: Customer) -> list[str]:
    """The channels (their labels) whose address of ``customer`` is on the network's suppression
    list: nothing is sent there, whatever the consent (a warning on the customer's page)."""
    hashes = {spec.code: address_hash(spec.matched_value(customer)) for spec in channels.with_matched_address()
              if spec.matched_value(customer)}
    if not hashes:
        return []
    found = set(Suppression.objects.filter(network_id=customer.network_id, value_hash__in=hashes.values())
                .values_list("channel", "value_hash"))
    return [str(channels.get(code).label) for code, value_hash in hashes.items() if (code, value_hash) in found]


def customer_segments(*, fetched_by: UserLike) -> list[str]:
    return list(
        customers_visible_to(fetched_by)
        .exclude(segment="")
        .order_by("segment")
        .values_list("segment", flat=True)
        .distinct()
    )


def consent_summary(*, fetched_by: UserLike, branch: Node | None = None) -> dict[str, int]:
    """Counts of the visible customers (of one branch, if given) by reachable channel."""
    customers = customers_visible_to(fetched_by)
    if branch is not None:
        customers = customers.filter(branch=branch)
    reachable = Q(objected_at__isnull=True)
    return customers.aggregate(
        total=Count("id"),
        **{spec.code: Count("id", filter=reachable & Q(**{spec.consent_field: ConsentStatus.GRANTED}))
           for spec in channels.all()},
        objected=Count("id", filter=Q(objected_at__isnull=False)),
        prospects=Count("id", filter=Q(is_prospect=True)),
    )


def customer_counts_by_branch(*, fetched_by: UserLike) -> dict[int, int]:
    """Number of visible customers per branch id."""
    rows = customers_visible_to(fetched_by).values("branch_id").annotate(total=Count("id"))
    return {row["branch_id"]: row["total"] for row in rows}


def networks_importable_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose head office grants ``user`` the right to import customers."""
    head_offices = nodes_in_scope(user, perm="import_customers").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


def customer_imports_visible_to(user: UserLike) -> QuerySet[CustomerImport]:
    """Imports of the networks where ``user`` may import customers."""
    return CustomerImport.objects.filter(network__in=networks_importable_by(user)).select_related(
        "network", "created_by"
    )


def customer_import_get(*, fetched_by: UserLike, public_id: str) -> CustomerImport:
    if "\x00" in public_id:  # PostgreSQL takes no NUL: no such import
        raise Http404
    return get_object_or_404(customer_imports_visible_to(fetched_by), public_id=public_id)


def can_import_customers(user: UserLike) -> bool:
    return networks_importable_by(user).exists()
