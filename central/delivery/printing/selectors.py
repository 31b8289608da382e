"""The print hand-off's reads: the print runs a user may download (the campaigns they see whose
customers they also see: the files hold names and addresses), the networks whose printer they set,
the campaign page's print panel, a network's printer settings. Foreign and missing both answer 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from central.campaigns.selectors import campaigns_visible_to
from central.models import Campaign, PrinterSettings, PrintFile, PrintHandoff
from local_stores.models import Network, NodeKind
from local_stores.selectors import nodes_in_scope


def print_campaigns_visible_to(user) -> QuerySet[Campaign]:
    """Campaigns whose print runs ``user`` may download: those they see (``campaigns_visible_to``)
    whose customers they also see — the files hold names and addresses. Approvers and analysts,
    who see campaigns but no customers, get none."""
    customer_nodes = nodes_in_scope(user, perm="view_customers")
    return campaigns_visible_to(user).filter(
        Q(branch__in=customer_nodes) | Q(branch__isnull=True, network__in=customer_nodes.values("network_id")))


def print_file_get(*, fetched_by, public_id: str) -> PrintFile:
    files = PrintFile.objects.filter(campaign__in=print_campaigns_visible_to(fetched_by))
    return get_object_or_404(files.select_related("campaign"), public_id=public_id)


def print_handoff_get(*, fetched_by, public_id: str) -> PrintHandoff:
    handoffs = PrintHandoff.objects.filter(campaign__in=print_campaigns_visible_to(fetched_by))
    return get_object_or_404(handoffs.select_related("campaign", "print_file"), public_id=public_id)


def networks_printing_managed_by(user) -> QuerySet[Network]:
    """Networks whose printer ``user`` sets and whose hand-offs they retry: manage_network on the
    head office."""
    head_offices = nodes_in_scope(user, perm="manage_network").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


def print_can_retry(user, campaign: Campaign) -> bool:
    return networks_printing_managed_by(user).filter(pk=campaign.network_id).exists()


def campaign_print_panel(*, fetched_by, campaign: Campaign) -> dict | None:
    """What the campaign page shows of its print runs to ``fetched_by`` (None: nothing, they do
    not see the campaign's customers, or it is no print campaign with files)."""
    if not print_campaigns_visible_to(fetched_by).filter(pk=campaign.pk).exists():
        return None
    files = list(PrintFile.objects.filter(campaign_id=campaign.pk).select_related("handoff")
                 .order_by("kind", "created_at", "id"))
    if not files:
        return None
    return {"files": files, "handoffs": [f.handoff for f in files if hasattr(f, "handoff")],
            "can_retry": print_can_retry(fetched_by, campaign)}


def printer_settings_of(network: Network) -> PrinterSettings:
    """The network's printer settings (unsaved defaults when head office never set them)."""
    return PrinterSettings.objects.filter(network=network).first() or PrinterSettings(network=network)
