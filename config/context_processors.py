"""What the menu offers: only the sections the user reaches (a link that answers 404 is a dead end)."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from approvals.selectors import approval_scope_exists, networks_setting_policies
from central.networks.selectors import audit_trail_reachable, networks_managed_by
from local_stores.models import Role
from local_stores.selectors import nodes_in_scope, role_set_of


def menu(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def sections() -> dict[str, bool]:

        return {
            "customers": nodes_in_scope(user, perm="view_customers").exists(),
            "approvals": approval_scope_exists(fetched_by=user) or networks_setting_policies(user).exists(),
            # the API's documentation: for head office and administrators, not a store manager's menu
            "network_settings": networks_managed_by(user).exists(),  # issue 22
            "network_audit": audit_trail_reachable(user),
            "api": user.is_staff or Role.HEAD_OFFICE_MARKETER in role_set_of(user),
        }

    return {"menu": SimpleLazyObject(sections)}
