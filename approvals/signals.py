"""Receivers of central's signals (connected in ApprovalsConfig.ready): thin, they call services."""

from approvals.services import proofs_void_for_change


def on_campaign_changed(sender, *, campaign, by, what, previous_status, **kwargs) -> None:
    proofs_void_for_change(campaign=campaign, by=by, what=what)
