from django.contrib import admin

from local_stores.admin import ScopedModelAdmin
from local_stores.models import NodeKind
from templates_lib.models import Asset, ContentRules, Template, TemplateVersion
from templates_lib.selectors import assets_visible_to, networks_managed_by, templates_visible_to


class _NetworkOwnedAdmin(ScopedModelAdmin):
    """Library objects belong to a network: its head office's marketers manage them."""

    view_perm = "view_node"
    change_perm = "manage_templates"

    def node_of(self, obj):
        network = obj.network if hasattr(obj, "network") else obj.template.network
        return network.nodes.get(kind=NodeKind.HEAD_OFFICE)


@admin.register(Template)
class TemplateAdmin(_NetworkOwnedAdmin):
    list_display = ["name", "kind", "network", "is_archived", "created_at"]
    list_filter = ["kind", "is_archived"]
    search_fields = ["name"]
    readonly_fields = ["public_id", "network", "kind", "created_by"]

    def scoped_queryset(self, request):
        return templates_visible_to(request.user)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(_NetworkOwnedAdmin):
    """Read-only: versions are edited and published through the pages and the API, which check them."""

    change_perm = None
    list_display = ["template", "number", "status", "published_at"]
    list_filter = ["status"]

    def scoped_queryset(self, request):
        return TemplateVersion.objects.filter(template__in=templates_visible_to(request.user))


@admin.register(Asset)
class AssetAdmin(_NetworkOwnedAdmin):
    list_display = ["name", "network", "width", "height", "tags", "is_archived"]
    search_fields = ["name", "tags"]
    readonly_fields = ["public_id", "network", "file", "width", "height", "content_type", "size"]

    def scoped_queryset(self, request):
        return assets_visible_to(request.user)


@admin.register(ContentRules)
class ContentRulesAdmin(_NetworkOwnedAdmin):
    """Read-only here: the content-rules page validates every pattern and domain."""

    view_perm = "manage_templates"
    change_perm = None
    list_display = ["network", "updated_at"]

    def scoped_queryset(self, request):
        return ContentRules.objects.filter(network__in=networks_managed_by(request.user))
