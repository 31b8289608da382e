from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from approvals.signals import on_campaign_changed
        from central.signals import campaign_changed

        campaign_changed.connect(on_campaign_changed, dispatch_uid="approvals.void_proofs_on_change")
