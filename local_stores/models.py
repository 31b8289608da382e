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


def default_languages() -> list[str]:
    return ["fr", "en"]


def default_regional_grantable_roles() -> list[str]:
    return ["branch_manager"]


def default_mfa_required_roles() -> list[str]:
    return ["head_office_marketer", "approver"]


class Network(models.Model):
    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "net"), editable=False
    )
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("short name"), max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Settings its head office edits (issue 22).
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    languages = models.JSONField(_("languages"), default=default_languages, blank=True)
    default_language = models.CharField(_("default language"), max_length=8, default="fr")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    #: Roles a regional manager may grant on the branches of their region.
    regional_grantable_roles = models.JSONField(
        _("roles regional managers may grant"), default=default_regional_grantable_roles, blank=True
    )
    invitation_days = models.PositiveSmallIntegerField(_("days an invitation stays valid"), default=7)
    #: Roles whose holders must log in with a second factor (local_stores/mfa_policy.py).
    mfa_required_roles = models.JSONField(
        _("roles that must use a second factor"), default=default_mfa_required_roles, blank=True
    )

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
    #: A closed node (``is_active`` False) keeps its history; when and by whom it was closed.
    closed_at = models.DateTimeField(_("closed on"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

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
            ("manage_people", _("Invite people and grant roles in the subtree")),
            ("manage_identity", _("Manage the network's sending identity")),
            ("edit_customers", _("Create and edit customers by hand in the subtree")),
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
        "manage_people",
        "manage_identity",
        "edit_customers",
    ),
    Role.REGIONAL_MANAGER: ("view_node", "view_customers", "view_reports", "approve_proofs", "manage_people"),
    Role.BRANCH_MANAGER: ("view_node", "change_node", "view_customers", "edit_customers"),
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


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the network's audit trail is append-only")

    def delete(self):
        raise PermissionError("the network's audit trail is append-only")


class NetworkEvent(models.Model):
    """The network core's audit trail: who did what to the network's structure, people, roles,
    settings and sending identity, and when. Append-only (no update, no delete; on PostgreSQL a
    trigger refuses them too). ``details`` hold field names and old/new values of non-personal
    fields, never a secret."""

    class Action(models.TextChoices):
        NETWORK_CREATED = "network_created", _("network created")
        NETWORK_SETTINGS_CHANGED = "network_settings_changed", _("network settings changed")
        NODE_CREATED = "node_created", _("node created")
        NODE_RENAMED = "node_renamed", _("node renamed")
        NODE_MOVED = "node_moved", _("node moved")
        NODE_CLOSED = "node_closed", _("node closed")
        NODE_REOPENED = "node_reopened", _("node reopened")
        STRUCTURE_IMPORTED = "structure_imported", _("structure imported")
        PERSON_INVITED = "person_invited", _("person invited")
        INVITATION_ACCEPTED = "invitation_accepted", _("invitation accepted")
        INVITATION_REVOKED = "invitation_revoked", _("invitation revoked")
        INVITATION_RESENT = "invitation_resent", _("invitation sent again")
        ROLE_GRANTED = "role_granted", _("role granted")
        ROLE_REVOKED = "role_revoked", _("role revoked")
        PERSON_DEACTIVATED = "person_deactivated", _("person deactivated")
        PERSON_REACTIVATED = "person_reactivated", _("person reactivated")
        SESSIONS_ENDED = "sessions_ended", _("sessions ended")
        PASSWORD_RESET = "password_reset", _("password reset")
        IDENTITY_CHANGED = "identity_changed", _("sending identity changed")
        IDENTITY_SECRET_REPLACED = "identity_secret_replaced", _("sending identity secret replaced")
        IDENTITY_TEST_SENT = "identity_test_sent", _("sending identity test sent")
        CUSTOMER_CREATED = "customer_created", _("customer created by hand")
        CUSTOMER_EDITED = "customer_edited", _("customer edited by hand")
        LOGGED_IN = "logged_in", _("logged in")
        MFA_ENABLED = "mfa_enabled", _("second factor added")
        MFA_DISABLED = "mfa_disabled", _("second factor removed")
        RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", _("recovery codes regenerated")
        SSO_CONFIGURED = "sso_configured", _("single sign-on configured")
        SSO_ROLES_SYNCED = "sso_roles_synced", _("roles synchronised at single sign-on")

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="events")
    node = models.ForeignKey("Node", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("network event")
        verbose_name_plural = _("network events")
        indexes = [models.Index(fields=["network", "-at"], name="network_event_recent")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the network's audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the network's audit trail is append-only")


class Membership(models.Model):
    """A person's belonging to one network (a person belongs to one network: a consultant of two
    networks has two accounts). Deactivation is ``status`` plus ``user.is_active = False``."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DEACTIVATED = "deactivated", _("deactivated")

    class Source(models.TextChoices):
        INVITATION = "invitation", _("invitation")
        COMMAND = "command", _("command")
        DEMO = "demo", _("demo")
        SSO = "sso", _("single sign-on")

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "per"), editable=False
    )
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="memberships")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.INVITATION)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(_("deactivated on"), null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} — {self.network}"


class Invitation(models.Model):
    """A one-time, expiring link to join a network with a role on a node. Only the SHA-256 of
    the token is stored; the token itself is in the e-mail and nowhere else."""

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "inv"), editable=False
    )
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    node = models.ForeignKey("Node", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires on"))
    used_at = models.DateTimeField(_("accepted on"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked on"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["network", "email"],
                condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="one_pending_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} — {self.get_role_display()}"


# django-guardian with direct foreign keys (no generic relation): fast joins, real integrity.
class SsoConfig(models.Model):
    """A network's OpenID Connect provider (its staff log in with their company account). The
    client secret is stored encrypted (``local_stores.secrets``) and never shown back."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="sso_config")
    enabled = models.BooleanField(_("enabled"), default=False)
    issuer_url = models.URLField(_("issuer URL"), max_length=300)
    client_id = models.CharField(_("client ID"), max_length=200)
    client_secret_encrypted = models.TextField(blank=True, default="")
    client_secret_set_at = models.DateTimeField(null=True, blank=True)
    client_secret_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scopes = models.CharField(_("scopes"), max_length=200, default="openid email profile")
    groups_claim = models.CharField(_("groups claim"), max_length=100, default="groups")
    email_domains = models.JSONField(_("e-mail domains"), default=list, blank=True)
    create_people = models.BooleanField(_("create people at their first login"), default=False)
    password_login_allowed = models.BooleanField(_("password login allowed"), default=True)
    trust_provider_mfa = models.BooleanField(_("trust the provider's second factor"), default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("single sign-on configuration")
        verbose_name_plural = _("single sign-on configurations")

    def __str__(self) -> str:
        return f"SSO {self.network}"

    @property
    def provider_id(self) -> str:
        return f"net-{self.network.slug}"


class SsoRoleMapping(models.Model):
    """A value of the groups claim gives a role on a node of the network."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="sso_role_mappings")
    claim_value = models.CharField(_("claim value"), max_length=200)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", verbose_name=_("node"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)

    class Meta:
        ordering = ["claim_value", "node__name", "role"]
        constraints = [
            models.UniqueConstraint(fields=["network", "claim_value", "node", "role"], name="sso_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.claim_value} → {self.role}"


class SsoGrant(models.Model):
    """A role granted by single sign-on (revoked when the provider no longer maps it); roles
    granted by hand have no such row and single sign-on never touches them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_grants")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "node", "role"], name="sso_grant_unique")]

    def __str__(self) -> str:
        return f"SSO {self.role}"


class NodeUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Node, on_delete=models.CASCADE)


class NodeGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Node, on_delete=models.CASCADE)
