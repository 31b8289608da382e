"""The network: networks (tenants), their tree of nodes, and the roles people hold on nodes.

A network is one tenant: a head office with its regions and branches. Nothing of one network is
visible from another. Roles are granted on a node and cover its whole subtree; they are stored
as django-guardian object permissions on that node, given to one group per (node, role).
"""

from functools import partial

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from local_stores.identifiers import new_public_id


class Network(models.Model):
    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "net"), editable=False
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("short name"), max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("network")
        verbose_name_plural = _("networks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class NodeKind(models.TextChoices):
    HEAD_OFFICE = "head_office", _("Head office")
    REGION = "region", _("Region")
    BRANCH = "branch", _("Branch")


class BranchType(models.TextChoices):
    STORE = "store", _("Store")
    AGENCY = "agency", _("Agency")
    HOTEL = "hotel", _("Hotel")
    OTHER = "other", _("Other")


class Node(models.Model):
    """One place in a network's tree: the head office (root), a region, or a branch.

    ``path`` is the chain of public ids from the root (``/net_x/nod_a/nod_b/``): a subtree is one
    indexed prefix match. It is computed from the parent and never edited by hand.
    """

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "nod"), editable=False
    )
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="nodes")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NodeKind.choices)
    branch_type = models.CharField(_("branch type"), max_length=16, choices=BranchType.choices, blank=True)
    code = models.CharField(
        _("code"), max_length=32, help_text=_("The network's own code, e.g. the store number.")
    )
    name = models.CharField(_("name"), max_length=120)
    path = models.CharField(max_length=255, db_index=True, editable=False)
    # Data that messages use (merge fields) — meaningful mostly for branches.
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    opening_hours = models.TextField(_("opening hours"), blank=True)
    manager_signature = models.TextField(_("manager's signature"), blank=True)
    website_url = models.URLField(_("website"), blank=True)
    facebook_url = models.URLField(_("Facebook page"), blank=True)
    instagram_url = models.URLField(_("Instagram page"), blank=True)
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("network node")
        verbose_name_plural = _("network nodes")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="node_code_unique_in_network"),
            models.UniqueConstraint(
                fields=["network"], condition=models.Q(kind="head_office"), name="one_head_office_per_network"
            ),
        ]
        permissions = [
            ("view_customers", _("See the customers of the subtree")),
            ("change_customers", _("Edit the customers of the subtree")),
            ("import_customers", _("Import customers into the network")),
            ("manage_network", _("Manage the subtree: nodes and people")),
            ("approve_proofs", _("Approve proofs in the subtree")),
            ("view_reports", _("See the reports of the subtree")),
            ("manage_templates", _("Manage the network's templates, assets and content rules")),
            ("manage_calendar", _("Plan the network's national calendar of operations")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_branch(self) -> bool:
        return self.kind == NodeKind.BRANCH


class Role(models.TextChoices):
    HEAD_OFFICE_MARKETER = "head_office_marketer", _("Head-office marketer")
    REGIONAL_MANAGER = "regional_manager", _("Regional manager")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    APPROVER = "approver", _("Approver")
    ANALYST = "analyst", _("Analyst (read-only)")


#: What each role may do on the node it is granted on, and on that node's whole subtree.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.HEAD_OFFICE_MARKETER: (
        "view_node",
        "change_node",
        "view_customers",
        "change_customers",
        "import_customers",
        "manage_network",
        "view_reports",
        "manage_templates",
        "manage_calendar",
    ),
    Role.REGIONAL_MANAGER: ("view_node", "view_customers", "view_reports", "approve_proofs"),
    Role.BRANCH_MANAGER: ("view_node", "change_node", "view_customers"),
    Role.APPROVER: ("view_node", "approve_proofs"),
    Role.ANALYST: ("view_node", "view_reports"),
}


class RoleGroup(models.Model):
    """The group of people holding one role on one node. Its object permissions on the node are
    exactly ``ROLE_PERMISSIONS[role]``; granting the role adds the user to the group."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="role_groups")
    role = models.CharField(max_length=32, choices=Role.choices)
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="relais_role")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "role"], name="one_group_per_node_role")]
        verbose_name = _("role group")
        verbose_name_plural = _("role groups")

    def __str__(self) -> str:
        return f"{self.get_role_display()} — {self.node}"


class RoleAssignmentEvent(models.Model):
    """Audit trail of role grants and revocations."""

    class Action(models.TextChoices):
        GRANTED = "granted", _("granted")
        REVOKED = "revoked", _("revoked")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=32, choices=Role.choices)
    action = models.CharField(max_length=8, choices=Action.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("role change")
        verbose_name_plural = _("role changes")

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.role} on {self.node}"


# django-guardian with direct foreign keys (no generic relation): fast joins, real integrity.
class NodeUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Node, on_delete=models.CASCADE)


class NodeGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Node, on_delete=models.CASCADE)
