"""What a proof freezes: every input of the campaign's rendering (``templates_lib.frozen``).

For a branch's campaign, one variant: its branch. For a national send (a campaign without a branch),
a *co-signed* send: one variant per branch the operation may reach
(``central.calendar.selectors.operation_eligible_branches``; every active branch of the network when the
campaign has no operation), each with that branch's details and its name as the sender, plus head
office's own variant for customers without a branch (or of a branch opened after the proof). A
branch that wrote its own texts in the campaign's local slots (``central.campaigns.local_slots``) has its
merged slot values in its variant (``slot_values``); the others render head office's.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from central.calendar.selectors import operation_eligible_branches
from central.campaigns.local_slots import local_values_by_branch
from central.identity import connections
from central.models import Campaign, SendingIdentity
from local_stores.models import Node, NodeKind
from templates_lib import frozen, rendering
from templates_lib.models import Asset, ContentRules, TemplateKind

#: How many branches' renderings a national proof shows (its hash covers them all).
NATIONAL_SAMPLES = 3


def _campaign_fields(campaign: Campaign) -> dict[str, str]:
    operation = campaign.operation if campaign.operation_id else None
    return {"offer_code": "", "start_date": operation.send_from.strftime("%d/%m/%Y") if operation else "",
            "end_date": operation.send_until.strftime("%d/%m/%Y") if operation else "",
            "send_date": campaign.send_date.strftime("%d/%m/%Y")}


def _reached_branches(campaign: Campaign) -> list[Node]:
    if campaign.operation_id:
        branches = operation_eligible_branches(campaign.operation)
    else:
        branches = Node.objects.filter(network_id=campaign.network_id, kind=NodeKind.BRANCH, is_active=True)
    return list(branches.order_by("path"))


def _variant(node: Node, *, sender_name: str, reply_to: str, identity: SendingIdentity | None = None) -> dict[str, object]:
    """A variant's branch details and sender: the name, address and Reply-To the network's sending
    identity gives (``central.identity.connections.sender_for``), frozen with the proof."""
    given = connections.sender_for(identity, name=sender_name, branch_email=reply_to)
    return {"branch": frozen.branch_details(node), "sender": frozen.sender(
        name=given.name, reply_to=given.reply_to, address=given.address, from_identity=given.from_identity)}


def snapshot_build(campaign: Campaign) -> dict[str, object]:
    """Freeze every input of ``campaign``'s rendering (without the hashes of its renderings, which
    ``snapshot_render`` adds)."""
    version = campaign.template_version
    rules = ContentRules.objects.filter(network_id=campaign.network_id).first()
    variants: dict[str, dict[str, object]] = {}
    identity = SendingIdentity.objects.select_related("network").filter(network_id=campaign.network_id).first()
    if campaign.branch_id:
        branch = campaign.branch
        variants[branch.public_id] = _variant(branch, sender_name=branch.name, reply_to=branch.email, identity=identity)
        default = branch.public_id
    else:
        head_office = Node.objects.get(network_id=campaign.network_id, kind=NodeKind.HEAD_OFFICE)
        variants[frozen.HEAD_OFFICE] = _variant(head_office, sender_name=campaign.network.name, reply_to="", identity=identity)
        local_values = local_values_by_branch(campaign)  # each branch's own texts in the local slots
        for branch in _reached_branches(campaign):
            variants[branch.public_id] = _variant(branch, sender_name=branch.name, reply_to=branch.email, identity=identity)
            if branch.pk in local_values:
                variants[branch.public_id]["slot_values"] = local_values[branch.pk]
        default = frozen.HEAD_OFFICE
    wanted = rendering.assets_wanted(version, campaign.slot_values)
    assets = {asset.public_id: frozen.freeze_asset(asset) for asset in
              Asset.objects.filter(network_id=version.template.network_id, public_id__in=wanted).order_by("public_id")}
    return {
        "format": frozen.SNAPSHOT_FORMAT,
        "language": settings.LANGUAGE_CODE,
        "channel": campaign.channel,
        "template_version": {"id": version.pk, "public_id": version.public_id, "content_hash": version.compute_hash()},
        "slot_values": campaign.slot_values,
        "campaign": _campaign_fields(campaign),
        "variants": variants,
        "default_variant": default,
        "assets": assets,
        "system": {"stop_mention": rules.sms_stop_mention if rules else "STOP au 36173",
                   "unsubscribe_mailto": settings.RELAIS_UNSUBSCRIBE_MAILTO or ""},
    }


def snapshot_render(campaign: Campaign, snapshot: dict[str, object], *, number: int, proof_mark: str):
    """Render the snapshot: the default variant in full (the proof's own subject, HTML, text or
    PDF), a few branches' samples for a national send, and the hash of every variant's rendering
    (stored in the snapshot: ``variant_hashes``, ``samples``). Returns the default rendering."""
    version = campaign.template_version
    with translation.override(str(snapshot["language"])):
        main = frozen.render_sample(version, snapshot, str(snapshot["default_variant"]), proof_mark=proof_mark)
        snapshot["variant_hashes"] = frozen.variant_hashes(version, snapshot)
        samples = []
        if not campaign.branch_id and version.template.kind != TemplateKind.PRINT:  # (print: head office's PDF)
            # every branch that wrote its own texts (approvers read them), then others up to NATIONAL_SAMPLES
            branches = [key for key in snapshot["variants"] if key != frozen.HEAD_OFFICE]
            own = [key for key in branches if "slot_values" in snapshot["variants"][key]]
            keys = own + [key for key in branches if key not in own][:max(0, NATIONAL_SAMPLES - len(own))]
            for key in keys:
                rendered = frozen.render_sample(version, snapshot, key, pdf=False)
                samples.append({"variant": key, "name": snapshot["variants"][key]["branch"]["name"],
                                "sender": snapshot["variants"][key]["sender"]["name"],
                                **{name: rendered.get(name, "") for name in ("subject", "html", "text")}})
        snapshot["samples"] = samples
    return main
