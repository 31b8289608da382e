"""Shared builders for calendar and campaign tests: a published template of network alpha and a
published operation using it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from central.calendar.services import operation_publish, operation_save
from central.models import OperationMode
from templates_lib import services as template_services

SMS_BODY = "{{ branch.name }} : {{ slot.message }}. {{ system.stop_mention }}"


def sms_version(world, *, network="alpha", author="head_office"):
    """A published SMS template with one required short-text slot, ``message``."""
    template = template_services.template_create(
        network=world.networks[network], kind="sms", name="Promo SMS", created_by=world.users[author])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users[author], body=SMS_BODY, slots=[
        {"name": "message", "type": "short_text", "label": "Message", "max_length": 60, "required": True,
         "default": "vins de fête"},
    ])
    return template_services.version_publish(version=draft, published_by=world.users[author])


def plan(world, *, mode=OperationMode.OPT_IN, eligible=(), publish=True, versions=(), **fields):
    """An operation of network alpha (opt-in by default, window in 20 to 30 days, deadline in 10)."""
    today = timezone.localdate()
    values = {
        "name": "Foire aux vins", "theme": "vins", "channels": ["email", "sms"], "mode": mode,
        "send_from": today + timedelta(days=20), "send_until": today + timedelta(days=30),
        "subscription_deadline": today + timedelta(days=10) if mode != OperationMode.KIT else None,
        "allowed_criteria": ["segment"], **fields,
    }
    operation = operation_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                               eligible_nodes=[world.nodes[key] for key in eligible], template_versions=versions,
                               **values)
    return operation_publish(operation=operation, published_by=world.users["head_office"]) if publish else operation


def joined_campaign(world, *, branch="N1", manager="branch_manager", version=None, reachable=2, **operation_fields):
    """N1 joins a published opt-in SMS operation; ``reachable`` of its customers accept SMS.
    Returns the branch's draft campaign."""
    from central.calendar.services import participation_answer
    from central.models import Campaign, ConsentStatus, Customer

    version = version or sms_version(world)
    operation = plan(world, versions=[version], **operation_fields)
    node = world.nodes[branch]
    for index in range(reachable):
        Customer.objects.create(network=node.network, branch=node, external_id=f"{branch}-sms-{operation.pk}-{index}",
                                last_name=f"Client{index}", mobile=f"06000000{index:02d}",
                                consent_sms=ConsentStatus.GRANTED)
    participation_answer(operation=operation, branch=node, status="joined", answered_by=world.users[manager])
    return Campaign.objects.get(operation=operation, branch=node)
