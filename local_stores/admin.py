"""Django admin, scoped exactly like the pages: every admin's queryset comes from a scoping
selector, and object-level rights come from the roles a user holds (global model permissions
give nothing on their own)."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from local_stores.models import (
    Network,
    Node,
    NodeGroupObjectPermission,
    NodeUserObjectPermission,
    RoleAssignmentEvent,
    RoleGroup,
)
from local_stores.selectors import networks_visible_to, node_in_scope, nodes_in_scope, nodes_visible_to


class ScopedModelAdmin(admin.ModelAdmin):
    """Base of every Relais admin. Subclasses say which queryset a user may see
    (``scoped_queryset``), which node governs an object (``node_of``) and which node permission
    allows a change (``change_perm``). Adding and deleting stay with superusers: those go through
    services and pages that keep the audit trail."""

    view_perm = "view_node"
    change_perm: str | None = None
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def scoped_queryset(self, request: HttpRequest) -> QuerySet:
        raise TypeError(f"{type(self).__name__} must say which queryset a user sees (scoped_queryset)")

    def node_of(self, obj) -> Node:
        raise TypeError(f"{type(self).__name__} must say which node governs an object (node_of)")

    def _object_or_404(self, request: HttpRequest, object_id: str | None) -> None:
        """A foreign object and a missing one both answer 404 here too (Django's admin would
        redirect to its index with a message)."""
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._object_or_404(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._object_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        if request.user.is_superuser:
            return super().get_queryset(request)
        return self.scoped_queryset(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.is_superuser or nodes_in_scope(request.user, perm=self.view_perm).exists())
        )

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return self.has_module_permission(request)
        return node_in_scope(request.user, self.node_of(obj), perm=self.view_perm)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if self.change_perm is None:
            return False
        if obj is None:
            return request.user.is_staff and nodes_in_scope(request.user, perm=self.change_perm).exists()
        return node_in_scope(request.user, self.node_of(obj), perm=self.change_perm)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Network)
class NetworkAdmin(ScopedModelAdmin):
    list_display = ["name", "slug", "public_id", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id"]

    def scoped_queryset(self, request):
        return networks_visible_to(request.user)

    def node_of(self, obj):
        return obj.nodes.get(kind="head_office")


@admin.register(Node)
class NodeAdmin(ScopedModelAdmin):
    change_perm = "change_node"
    list_display = ["name", "code", "kind", "network", "city", "is_active"]
    list_filter = ["kind", "branch_type", "is_active"]
    search_fields = ["name", "code", "city"]
    readonly_fields = ["public_id", "network", "parent", "kind", "path"]

    def scoped_queryset(self, request):
        return nodes_visible_to(request.user)

    def node_of(self, obj):
        return obj


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Role plumbing: only superusers see it (people's roles are managed through services)."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission


@admin.register(RoleGroup)
class RoleGroupAdmin(SuperuserOnlyAdmin):
    list_display = ["node", "role", "group"]
    list_filter = ["role"]


@admin.register(RoleAssignmentEvent)
class RoleAssignmentEventAdmin(ScopedModelAdmin):
    view_perm = "manage_network"
    list_display = ["at", "user", "role", "node", "action", "by"]
    list_filter = ["role", "action"]

    def scoped_queryset(self, request):
        return RoleAssignmentEvent.objects.filter(
            node__in=nodes_in_scope(request.user, perm="manage_network")
        )

    def node_of(self, obj):
        return obj.node


admin.site.register(NodeUserObjectPermission, SuperuserOnlyAdmin)
admin.site.register(NodeGroupObjectPermission, SuperuserOnlyAdmin)
