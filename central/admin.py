from django.contrib import admin

from central.calendar.selectors import calendar_periods_visible_to, operations_visible_to
from central.customers.selectors import customer_imports_visible_to, customers_visible_to
from central.identity.selectors import identity_networks_for
from central.models import (
    CalendarPeriod,
    ConsentEvent,
    Customer,
    CustomerImport,
    Operation,
    Participation,
    SendingIdentity,
)
from local_stores.admin import ScopedModelAdmin
from local_stores.models import Node, NodeKind
from local_stores.selectors import nodes_in_scope


@admin.register(Customer)
class CustomerAdmin(ScopedModelAdmin):
    view_perm = "view_customers"
    change_perm = "change_customers"
    list_display = ["public_id", "external_id", "last_name", "first_name", "email", "branch", "segment"]
    list_filter = ["segment", "consent_email", "consent_sms", "consent_post"]
    search_fields = ["last_name", "first_name", "email", "external_id"]
    list_select_related = ["branch"]
    # Consent changes are recorded with their history by services, not edited here.
    readonly_fields = [
        "public_id",
        "network",
        "branch",
        "consent_email",
        "consent_email_at",
        "consent_email_source",
        "consent_sms",
        "consent_sms_at",
        "consent_sms_source",
        "consent_post",
        "consent_post_at",
        "consent_post_source",
        "objected_at",
        "objection_source",
    ]

    def scoped_queryset(self, request):
        return customers_visible_to(request.user)

    def node_of(self, obj):
        return obj.branch


@admin.register(ConsentEvent)
class ConsentEventAdmin(ScopedModelAdmin):
    view_perm = "view_customers"
    list_display = ["customer", "channel", "status", "occurred_at", "source"]
    list_filter = ["channel", "status"]

    def scoped_queryset(self, request):
        return ConsentEvent.objects.filter(customer__in=customers_visible_to(request.user))

    def node_of(self, obj):
        return obj.customer.branch


@admin.register(CustomerImport)
class CustomerImportAdmin(ScopedModelAdmin):
    view_perm = "import_customers"
    list_display = ["original_name", "network", "status", "rows_total", "rows_rejected", "created_at"]
    list_filter = ["status"]

    def scoped_queryset(self, request):
        return customer_imports_visible_to(request.user)

    def node_of(self, obj):
        return obj.network.nodes.get(kind=NodeKind.HEAD_OFFICE)


class _CalendarAdmin(ScopedModelAdmin):
    """Calendar objects are planned through the pages and services (which check them): read here."""

    view_perm = "view_node"

    def node_of(self, obj):
        network = obj.network if hasattr(obj, "network") else obj.operation.network
        return network.nodes.get(kind=NodeKind.HEAD_OFFICE)


@admin.register(Operation)
class OperationAdmin(_CalendarAdmin):
    list_display = ["name", "network", "mode", "send_from", "send_until", "subscription_deadline", "status"]
    list_filter = ["mode", "status"]
    search_fields = ["name", "theme"]

    def scoped_queryset(self, request):
        return operations_visible_to(request.user)


@admin.register(CalendarPeriod)
class CalendarPeriodAdmin(_CalendarAdmin):
    list_display = ["name", "network", "kind", "starts_on", "ends_on"]
    change_perm = "manage_calendar"

    def scoped_queryset(self, request):
        return calendar_periods_visible_to(request.user)


@admin.register(Participation)
class ParticipationAdmin(_CalendarAdmin):
    list_display = ["operation", "branch", "status", "decided_at"]
    list_filter = ["status"]

    def scoped_queryset(self, request):
        return Participation.objects.filter(operation__in=operations_visible_to(request.user),
                                            branch__in=nodes_in_scope(request.user))

    def node_of(self, obj):
        return obj.branch


@admin.register(SendingIdentity)
class SendingIdentityAdmin(ScopedModelAdmin):
    """Read-only here (the page /network/identity/ saves it with its audit); the encrypted secrets
    are never a field of this admin, not even read-only."""

    view_perm = "manage_identity"
    list_display = ["network", "from_local_part", "from_domain", "email_method", "sms_provider", "updated_at"]
    exclude = ["email_secret_encrypted", "webhook_secret_encrypted", "sms_secret_encrypted"]
    readonly_fields = [
        "network", "from_domain", "from_local_part", "from_name", "reply_to", "reply_to_address", "email_method",
        "esp", "smtp_host", "smtp_port", "smtp_username", "smtp_security", "sms_provider", "sms_account",
        "sms_sender", "email_secret_set_at", "webhook_secret_set_at", "sms_secret_set_at", "updated_by",
        "updated_at", "last_test_at", "last_test_result",
    ]

    def scoped_queryset(self, request):
        return SendingIdentity.objects.filter(network__in=identity_networks_for(request.user))

    def node_of(self, obj):
        return Node.objects.get(network_id=obj.network_id, kind=NodeKind.HEAD_OFFICE)
