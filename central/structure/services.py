"""Writes to the network's structure on behalf of a person: create, change, move, close and reopen
nodes, and import the branches from a CSV file.

Every write checks the actor first: a node outside what they read of the structure answers 404 (as
a missing one), a node they read but may not change (a regional manager) 403 with the reason. The
network core (``local_stores.structure``) makes the change and writes its audit event.
"""

from __future__ import annotations

from typing import IO

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from central.models import Campaign, Customer, OwnershipTransfer, TransferStatus
from central.models.campaigns import WITHDRAWAL_BLOCKING_STATUSES
from central.people.invitations import invitation_send
from central.structure import importing
from central.structure.importing import RowError
from central.structure.selectors import structure_can_manage
from local_stores import structure
from local_stores.audit import network_event_record
from local_stores.models import Membership, NetworkEvent, Node, NodeKind, Role, RoleGroup
from local_stores.people import invitation_create
from local_stores.services import role_grant

User = get_user_model()


def _require_manager(actor, node: Node) -> None:
    """PermissionDenied with the reason when ``actor`` reads ``node`` but may not change it (the
    caller fetched it through ``structure_node_get``: 404 otherwise)."""
    if not structure_can_manage(actor, node):
        raise PermissionDenied(_("Only head office changes the network's structure; you may read it."))


def node_create_checked(*, actor, parent: Node, kind: str, code: str, name: str, **details) -> Node:
    """A region under the head office, or a branch under a region, by someone who manages it."""
    _require_manager(actor, parent)
    if kind not in (NodeKind.REGION, NodeKind.BRANCH):
        raise ValidationError({"kind": [_("Choose a region or a branch.")]})
    if Node.objects.filter(network_id=parent.network_id, code=(code or "").strip()).exists():
        raise ValidationError({"code": [_("This code is already used in the network.")]})
    return structure.node_add(parent=parent, kind=kind, code=code or "", name=name or "", created_by=actor, **details)


@transaction.atomic
def node_change_checked(*, actor, node: Node, name: str | None = None, parent: Node | None = None,
                        details: dict | None = None) -> Node:
    """Rename, move (a branch, to another region) and change the address and contact fields."""
    _require_manager(actor, node)
    if parent is not None and parent.pk != node.parent_id:
        if not structure_can_manage(actor, parent):
            raise PermissionDenied(_("You do not manage that region."))
        node = structure.node_move(node=node, new_parent=parent, moved_by=actor)
    if name is not None:
        node = structure.node_rename(node=node, name=name, renamed_by=actor)
    if details:
        node = structure.node_details_update(node=node, data=details, updated_by=actor)
    return node


def node_close_blockers(node: Node) -> list[str]:
    """Why ``node`` cannot be closed yet (empty: it can): customers it still owns, ownership
    transfers waiting, campaigns awaiting approval, approved, scheduled, sending or paused."""
    if node.kind != NodeKind.BRANCH:
        return []
    reasons = []
    customers = Customer.objects.filter(branch=node, erased_at__isnull=True).count()
    if customers:
        reasons.append(ngettext(
            "It still owns %(count)d customer: transfer it to another branch first, on the page "
            "“Ownership transfers” (%(url)s).",
            "It still owns %(count)d customers: transfer them to other branches first, on the page "
            "“Ownership transfers” (%(url)s).", customers) % {"count": customers, "url": reverse("rules:transfers")})
    transfers = OwnershipTransfer.objects.filter(status=TransferStatus.REQUESTED).filter(
        from_branch=node).count() + OwnershipTransfer.objects.filter(status=TransferStatus.REQUESTED,
                                                                     to_branch=node).count()
    if transfers:
        reasons.append(ngettext(
            "%(count)d ownership transfer is waiting for a decision: decide it on the page “Ownership "
            "transfers” (%(url)s).",
            "%(count)d ownership transfers are waiting for a decision: decide them on the page “Ownership "
            "transfers” (%(url)s).", transfers) % {"count": transfers, "url": reverse("rules:transfers")})
    campaigns = Campaign.objects.filter(branch=node, status__in=WITHDRAWAL_BLOCKING_STATUSES).count()
    if campaigns:
        reasons.append(ngettext(
            "%(count)d campaign is awaiting approval, scheduled or sending: cancel it or let it finish first.",
            "%(count)d campaigns are awaiting approval, scheduled or sending: cancel them or let them finish first.",
            campaigns) % {"count": campaigns})
    return reasons


@transaction.atomic
def node_close_checked(*, actor, node: Node) -> Node:
    """Close a branch (or an empty region): refused, with every reason, while the branch still owns
    customers, has ownership transfers waiting, or campaigns on their way."""
    _require_manager(actor, node)
    node = Node.objects.select_for_update().get(pk=node.pk)
    blockers = node_close_blockers(node)
    if blockers:
        raise ValidationError([_("%(name)s cannot be closed yet.") % {"name": node.name}, *blockers])
    return structure.node_close(node=node, closed_by=actor)


def node_reopen_checked(*, actor, node: Node) -> Node:
    _require_manager(actor, node)
    return structure.node_reopen(node=node, reopened_by=actor)


# --- The structure import ---------------------------------------------------------------------------


def _person_of_network(email: str, network_id: int) -> tuple[str, object]:
    """Who this address is: ``("person", user)`` for an active person of the network (a membership
    of it, or a role on one of its nodes), ``("deactivated", None)``, ``("other", None)`` for a
    person of another network, ``("unknown", None)``."""
    user = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk").first()
    if user is None:
        return "unknown", None
    membership = Membership.objects.filter(user=user).first()
    ours = (membership.network_id == network_id if membership is not None
            else RoleGroup.objects.filter(group__user=user, node__network_id=network_id).exists())
    if not ours:
        mine_elsewhere = membership is not None or RoleGroup.objects.filter(group__user=user).exists()
        return ("other", None) if mine_elsewhere else ("unknown", None)
    active = user.is_active and (membership is None or membership.status == Membership.Status.ACTIVE)
    return ("person", user) if active else ("deactivated", None)


def _region_for(row: importing.CheckedRow, head_office: Node, regions: dict[str, Node], report: dict,
                actor) -> Node:
    key = row.region.casefold()
    if key not in regions:
        code = _free_code(head_office.network_id, "R-" + (slugify(row.region).upper() or "REGION")[:24])
        regions[key] = structure.node_add(parent=head_office, kind=NodeKind.REGION, code=code, name=row.region,
                                          created_by=actor)
        report["regions_created"].append({"line": row.line, "name": row.region, "code": code})
    return regions[key]


def _free_code(network_id: int, base: str) -> str:
    taken = set(Node.objects.filter(network_id=network_id, code__startswith=base).values_list("code", flat=True))
    code, number = base, 1
    while code in taken:
        number += 1
        code = f"{base}-{number}"
    return code


def _branch_write(row: importing.CheckedRow, region: Node, actor, report: dict) -> Node:
    if row.existing is None:
        branch = structure.node_add(parent=region, kind=NodeKind.BRANCH, code=row.code, name=row.name,
                                    created_by=actor, **row.details)
        report["branches_created"] += 1
        return branch
    branch = Node.objects.get(pk=row.existing)
    if branch.parent_id != region.pk:
        branch = structure.node_move(node=branch, new_parent=region, moved_by=actor)
    branch = structure.node_rename(node=branch, name=row.name, renamed_by=actor)
    branch = structure.node_details_update(node=branch, data=row.details, updated_by=actor)
    report["branches_updated"] += 1
    return branch


def _manager_for(row: importing.CheckedRow, branch: Node, actor, report: dict, invited: dict[str, int]) -> None:
    """The branch's manager: a person of the network gets the role at once, anyone else an invitation."""
    email = row.manager_email
    who, person = _person_of_network(email, branch.network_id)
    note = None
    if who == "other":
        note = _("This address belongs to a person of another network: nobody was invited.")
    elif who == "deactivated":
        note = _("This person of the network is deactivated: reactivate them first, then grant the role.")
    elif who == "person":
        role_grant(user=person, node=branch, role=Role.BRANCH_MANAGER, granted_by=actor)
        report["roles_granted"] += 1
    elif email in invited:
        note = _("This address is already invited for the branch on line %(line)d: grant this branch once they "
                 "have joined.") % {"line": invited[email]}
    else:
        invitation, token = invitation_create(node=branch, email=email, role=Role.BRANCH_MANAGER, invited_by=actor)
        invitation_send(invitation=invitation, token=token)
        invited[email] = row.line
        report["invitations_sent"] += 1
    if note:
        report["notes"].append(RowError(row.line, "manager_email", note, email).as_dict())


def structure_import(*, actor, head_office: Node, stream: IO[bytes]) -> dict:
    """Import a file of branches into the network of ``head_office`` (managed by ``actor``): the
    good rows are created or updated in one transaction (regions created by name when missing),
    the bad ones reported with their line and column. Returns the report (JSON-ready)."""
    _require_manager(actor, head_office)
    if head_office.kind != NodeKind.HEAD_OFFICE:
        raise PermissionDenied(_("Only head office imports the network's structure."))
    rows, unknown = importing.file_read(stream)  # ImportFileError for an unreadable file
    codes = {code: (kind, pk) for code, kind, pk in
             Node.objects.filter(network_id=head_office.network_id).values_list("code", "kind", "pk")}
    checked = importing.rows_check(rows, codes=codes)
    report = {"rows_total": checked.rows_total, "branches_created": 0, "branches_updated": 0, "regions_created": [],
              "invitations_sent": 0, "roles_granted": 0, "rows_rejected": len(checked.rejected_lines),
              "errors": [error.as_dict() for error in [*unknown, *checked.errors]], "notes": []}
    existing_regions = Node.objects.filter(network_id=head_office.network_id, kind=NodeKind.REGION)
    regions = {node.code.casefold(): node for node in existing_regions.order_by("is_active", "-pk")}
    regions |= {node.name.casefold(): node for node in existing_regions.order_by("is_active", "-pk")}
    invited: dict[str, int] = {}
    with transaction.atomic():
        for row in checked.rows:
            region = _region_for(row, head_office, regions, report, actor)
            if not region.is_active:
                report["errors"].append(RowError(row.line, "region", _("This region is closed."), row.region).as_dict())
                report["rows_rejected"] += 1
                continue
            try:
                with transaction.atomic():  # a savepoint: a row refused by the model leaves the others
                    branch = _branch_write(row, region, actor, report)
            except ValidationError as error:
                for field, messages in getattr(error, "message_dict", {"": error.messages}).items():
                    report["errors"].append(RowError(row.line, importing.field_column(field), " ".join(messages),
                                                     row.code).as_dict())
                report["rows_rejected"] += 1
                continue
            if row.manager_email:
                _manager_for(row, branch, actor, report, invited)
        network_event_record(
            network=head_office.network, action=NetworkEvent.Action.STRUCTURE_IMPORTED, actor=actor, node=head_office,
            details={key: report[key] for key in ("rows_total", "branches_created", "branches_updated",
                                                  "invitations_sent", "roles_granted", "rows_rejected")}
            | {"regions_created": len(report["regions_created"])},
        )
    report["errors"].sort(key=lambda error: (error["line"], error["field"]))
    return report
