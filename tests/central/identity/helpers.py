"""Builders of the sending-identity tests: an SMTP server on loopback that requires its own login
(aiosmtpd's AUTH), and network beta's people, so that both networks of the world can send a real
campaign through the real path (proof, approvals, schedule, arbitration, dispatch)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from central.identity.services import identity_save
from local_stores.models import Role
from local_stores.services import role_grant
from tests.conftest import World
from tests.dispatching import SinkHandler, free_port
from tests.factories import UserFactory


@dataclass
class AuthHandler(SinkHandler):
    """The sink's handler, also keeping for each message the envelope's MAIL FROM and the login the
    client authenticated with."""

    seen: list[tuple[str, str, object]] = field(default_factory=list)
    seen_lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else str(session.auth_data or "")
        with self.seen_lock:
            self.seen.append((envelope.mail_from, login, self.received[-1].message))
        return answer


class Authenticator:
    """Accepts only ``login`` with ``password``; remembers every login tried."""

    def __init__(self, login: str, password: str) -> None:
        self.login, self.password = login, password
        self.tried: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.tried.append(auth_data.login.decode())
        ok = auth_data.login.decode() == self.login and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class AuthSmtpSink:
    """A real SMTP server on loopback that refuses mail without its own login."""

    def __init__(self, login: str, password: str) -> None:
        self.handler = AuthHandler()
        self.port = free_port()
        self.authenticator = Authenticator(login, password)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     authenticator=self.authenticator, auth_require_tls=False, auth_required=True)

    def __enter__(self) -> AuthSmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


BETA_PEOPLE = {  # world-view key: (username, role, node)
    "branch_manager": ("beta_branch_manager", Role.BRANCH_MANAGER, "W1"),
    "regional_manager": ("beta_regional_manager", Role.REGIONAL_MANAGER, "WEST"),
    "approver": ("beta_approver", Role.APPROVER, "beta:HQ"),
}


def beta_view(world: World) -> World:
    """Network beta seen through the keys the shared builders use for alpha ("alpha", "N1",
    "head_office"…): its head office, branch W1 (Brest) and three new people with beta's roles."""
    users = {"head_office": world.users["other_network_head_office"]}
    for key, (username, role, node) in BETA_PEOPLE.items():
        user = UserFactory(username=username, first_name="Tester", last_name=username.replace("_", "-").title())
        role_grant(user=user, node=world.nodes[node], role=role)
        users[key] = user
    return World(networks={"alpha": world.networks["beta"]},
                 nodes={"alpha:HQ": world.nodes["beta:HQ"], "N1": world.nodes["W1"], "NORTH": world.nodes["WEST"]},
                 users=users, customers={})


def smtp_identity(network, saved_by, *, domain: str, port: int, login: str, password: str, **fields):
    data = {"from_domain": domain, "from_local_part": "offres", "from_name": "branch", "reply_to": "branch",
            "email_method": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_username": login,
            "smtp_security": "none"} | fields
    return identity_save(network=network, saved_by=saved_by, data=data, new_secrets={"email_secret": password})
