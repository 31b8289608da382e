"""Signals central sends to the apps above it (which central may not import).

``campaign_changed``: a campaign's content, target or date changed, or it was cancelled, while
approval had been requested or given. Arguments: ``campaign``, ``by`` (the user), ``what`` (the
names of what changed: ``slot_values``, ``send_date``, ``target_criteria``, ``target``,
``cancelled``) and ``previous_status``. Sent inside the change's transaction. The approvals app
voids the proof and tells its authors and approvers.

``customer_erased``: a customer was erased (RGPD art. 17). Argument: ``customer`` (already emptied).
Sent inside the erasure's transaction: the apps above remove what they keep of that person
(reporting: the providers' wording of their bounces, the links they clicked).
"""

from django.dispatch import Signal

campaign_changed = Signal()
customer_erased = Signal()
