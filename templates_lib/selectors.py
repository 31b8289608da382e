"""Reads of the template library, on behalf of a user.

Head-office marketers (``manage_templates`` on the head office) see every template and asset of
their network, drafts and archives included. Everyone else with a role in a network sees its
templates that have a published version and are not archived, and its live assets.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from local_stores.models import Network, NodeKind
from local_stores.selectors import UserLike, networks_visible_to, nodes_in_scope
from templates_lib.models import Asset, ContentRules, Template, TemplateVersion, VersionStatus
from templates_lib.slots import Guardrails


def networks_managed_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose templates ``user`` manages (head office holding manage_templates)."""
    head_offices = nodes_in_scope(user, perm="manage_templates").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


def templates_visible_to(user: UserLike) -> QuerySet[Template]:
    """The scoping selector for templates."""
    published = TemplateVersion.objects.filter(template=OuterRef("pk"), status=VersionStatus.PUBLISHED)
    return (
        Template.objects.annotate(has_published=Exists(published))
        .filter(
            Q(network__in=networks_managed_by(user))
            | Q(network__in=networks_visible_to(user), is_archived=False, has_published=True)
        )
        .select_related("network")
    )


def template_list(
    *, fetched_by: UserLike, search: str = "", kind: str = "", archived: bool = False
) -> QuerySet[Template]:
    templates = templates_visible_to(fetched_by).filter(is_archived=archived)
    if search:
        templates = templates.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if kind:
        templates = templates.filter(kind=kind)
    return templates.order_by("network__name", "name")


def template_get(*, fetched_by: UserLike, public_id: str) -> Template:
    """One visible template; Http404 for a foreign one and a missing one alike."""
    return get_object_or_404(templates_visible_to(fetched_by), public_id=public_id)


def template_is_managed_by(user: UserLike, template: Template) -> bool:
    return networks_managed_by(user).filter(pk=template.network_id).exists()


def versions_visible_to(user: UserLike, template: Template) -> QuerySet[TemplateVersion]:
    """A template's versions: all of them for its managers, the published ones for the rest."""
    versions = template.versions.all()
    if not template_is_managed_by(user, template):
        versions = versions.filter(status=VersionStatus.PUBLISHED)
    return versions.order_by("-number")


def version_get(*, fetched_by: UserLike, public_id: str) -> TemplateVersion:
    """One version of a visible template: any version for its managers, a published one for the
    rest; Http404 for anything else, missing or foreign alike."""
    versions = TemplateVersion.objects.filter(template__in=templates_visible_to(fetched_by)).select_related(
        "template", "template__network"
    )
    managed = Template.objects.filter(network__in=networks_managed_by(fetched_by))
    versions = versions.filter(Q(template__in=managed) | Q(status=VersionStatus.PUBLISHED))
    return get_object_or_404(versions, public_id=public_id)


def latest_published(template: Template) -> TemplateVersion | None:
    return template.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()


def current_draft(template: Template) -> TemplateVersion | None:
    return template.versions.filter(status=VersionStatus.DRAFT).first()


def assets_visible_to(user: UserLike) -> QuerySet[Asset]:
    """The scoping selector for assets."""
    return Asset.objects.filter(
        Q(network__in=networks_managed_by(user)) | Q(network__in=networks_visible_to(user), is_archived=False)
    ).select_related("network")


def asset_list(
    *, fetched_by: UserLike, network: Network | None = None, search: str = "", tag: str = ""
) -> QuerySet[Asset]:
    assets = assets_visible_to(fetched_by).filter(is_archived=False)
    if network is not None:
        assets = assets.filter(network=network)
    if search:
        assets = assets.filter(Q(name__icontains=search) | Q(tags__icontains=search.lower()))
    if tag:
        assets = assets.filter(tags__contains=f",{tag.lower()},")
    return assets.order_by("name")


def asset_get(*, fetched_by: UserLike, public_id: str) -> Asset:
    return get_object_or_404(assets_visible_to(fetched_by), public_id=public_id)


def guardrails_for(network: Network) -> Guardrails:
    """The network's content rules, ready to check slot values."""
    rules = ContentRules.objects.filter(network=network).first()
    if rules is None:
        return Guardrails()
    return Guardrails.from_text(rules.forbidden_patterns, rules.allowed_link_domains)


def live_asset_ids(network: Network) -> set[str]:
    return set(Asset.objects.filter(network=network, is_archived=False).values_list("public_id", flat=True))


def live_asset_tags(network: Network) -> dict[str, str]:
    """The network's images that slots may use, with their stored tags (",noel,vins,") by id."""
    return dict(Asset.objects.filter(network=network, is_archived=False).values_list("public_id", "tags"))
