"""Signals central sends to the apps above it (which central may not import).

``campaign_changed``: a campaign's content, target or date changed, or it was cancelled, while
approval had been requested or given. Arguments: ``campaign``, ``by`` (the user), ``what`` (the
names of what changed: ``slot_values``, ``send_date``, ``target_criteria``, ``target``,
``cancelled``) and ``previous_status``. Sent inside the change's transaction. The approvals app
voids the proof and tells its authors and approvers.
"""

from django.dispatch import Signal

campaign_changed = Signal()
