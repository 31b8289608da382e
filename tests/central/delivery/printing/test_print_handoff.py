"""The print hand-off (issue 18, item 8): a print run reaches the network's printer as its PDF, the
approved BAT byte for byte, and a CSV manifest — over a real SFTP server on loopback (asyncssh's,
started by the test, its files on disk read back), or by e-mail with signed links. A server that
refuses leaves the run *failed* with its reason; head office's Retry then delivers it. Campaigns
reach *sending* the real way (proof, two approvals, schedule, arbitration, send start)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import threading
import time
from pathlib import Path

import asyncssh
import pytest
import weasyprint
from django.core import mail

from approvals.models import Proof, ProofStatus
from central.delivery import sending
from central.delivery.printing import services as printing
from central.delivery.printing.services import PrinterSecrets, printer_settings_save
from central.models import PrinterSettings, PrintFile, PrintHandoff, PrintHandoffStatus
from tests.dispatching import add_customers, print_version, to_sending
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


class SftpServer:
    """asyncssh's SFTP server on 127.0.0.1, rooted in a temporary directory, one user with a
    password. ``refuse`` makes it refuse every login (as a printer whose account was locked)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.fingerprint = self.host_key.get_fingerprint("sha256")
        self.refuse = False
        self.logins = 0
        self.login_times: list[float] = []  # time.monotonic() of each login attempt
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        server = self

        class Handler(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                server.logins += 1
                server.login_times.append(time.monotonic())
                return not server.refuse and (username, password) == ("printer", "s3cret-Pa55")

        async def start() -> None:
            self.listener = await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=Handler,
                sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(self.root)))
            self.port = self.listener.sockets[0].getsockname()[1]
            self.ready.set()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def __enter__(self) -> SftpServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.listener.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def files(self, directory: str = "incoming") -> dict[str, bytes]:
        folder = self.root / directory
        return {path.name: path.read_bytes() for path in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.fixture
def sftp(tmp_path):
    (tmp_path / "sftp" / "incoming").mkdir(parents=True)
    with SftpServer(tmp_path / "sftp") as server:
        yield server


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """A service and the tasks it queues after its commit (in-process), as in production."""
    def call(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)
    return call


def sftp_printer(world, server: SftpServer, **overrides) -> PrinterSettings:
    values = {"method": "sftp", "host": "127.0.0.1", "port": server.port, "username": "printer",
              "remote_directory": "incoming", "host_key_fingerprint": server.fingerprint,
              "secrets": PrinterSecrets(password="s3cret-Pa55")} | overrides
    return printer_settings_save(network=world.networks["alpha"], saved_by=world.users["head_office"], **values)


def print_campaign(world, run, count: int = 3):
    campaign = joined_campaign(world, version=print_version(world), channels=["post"], reachable=0)
    add_customers(world, count, prefix="p", channel="post")
    campaign = to_sending(world, campaign)
    run(sending.campaign_dispatch, campaign=campaign)
    return campaign


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_a_print_run_reaches_the_printer_by_sftp_with_its_bat_and_manifest(world, media, sftp, run):
    sftp_printer(world, sftp)
    campaign = print_campaign(world, run)
    merge = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE)
    handoff = PrintHandoff.objects.get(print_file=merge)
    assert (handoff.status, handoff.attempts, handoff.reason, handoff.method) == ("delivered", 1, "", "sftp")
    received = sftp.files()
    base = f"relais-{campaign.public_id}-{handoff.public_id}"
    assert sorted(received) == sorted([f"{base}.pdf", f"{base}-bat.pdf", f"{base}.csv"])  # no ".part" left
    merge_bytes = (media / merge.file.name).read_bytes()
    assert received[f"{base}.pdf"] == merge_bytes and handoff.pdf_sha256 == sha(merge_bytes)
    # the BAT: the approved proof's PDF exactly as frozen — the same SHA-256 at every step
    proof = Proof.objects.get(campaign=campaign, status=ProofStatus.APPROVED)
    frozen = bytes(proof.pdf)
    assert received[f"{base}-bat.pdf"] == frozen
    assert sha(received[f"{base}-bat.pdf"]) == sha(frozen) == handoff.bat_sha256
    assert handoff.bat_number == proof.number
    rows = manifest_rows(received[f"{base}.csv"])
    assert [(r["piece"], r["pieces"], r["first_page"], r["last_page"], r["pages"]) for r in rows] == [
        ("1", "3", "1", "1", "1"), ("2", "3", "2", "2", "1"), ("3", "3", "3", "3", "1")]
    assert [(r["name"], r["address"], r["postal_code"], r["city"]) for r in rows] == [
        ("Prénom0 P000", "0 rue des Vignes", "59000", "Lille"), ("Prénom1 P001", "1 rue des Vignes", "59001", "Lille"),
        ("Prénom2 P002", "2 rue des Vignes", "59002", "Lille")]
    assert {(r["pdf_file"], r["pdf_pages"], r["pdf_sha256"], r["bat_file"], r["bat_sha256"]) for r in rows} == {
        (f"{base}.pdf", "3", sha(merge_bytes), f"{base}-bat.pdf", sha(frozen))}
    assert sha(received[f"{base}.csv"]) == handoff.manifest_sha256
    # a second delivery of a delivered run does nothing (no new login, no new attempt)
    logins = sftp.logins
    printing.print_handoff_deliver(handoff_id=handoff.pk)
    handoff.refresh_from_db()
    assert (handoff.attempts, sftp.logins) == (1, logins)
    # the campaign page shows it, to the branch and to head office
    for role in ("branch_manager", "head_office"):
        page = world.client_for(role).get(f"/network/campaigns/{campaign.public_id}/").content.decode()
        assert "Delivered to the printer" in page and f"/print/runs/{handoff.public_id}/manifest/" in page, role
        assert "Retry" not in page


def test_a_refusing_server_leaves_the_run_failed_with_its_reason_then_head_office_retries(world, media, sftp, run):
    sftp_printer(world, sftp)
    sftp.refuse = True
    campaign = print_campaign(world, run)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    # the first attempt and Celery's 4 automatic retries (in-process: at once), each refused
    assert (handoff.status, handoff.attempts, sftp.logins) == (PrintHandoffStatus.FAILED, 5, 5)
    assert handoff.reason == "SFTP: the server refused the user name or its password or key"
    assert sftp.files() == {}
    manager_page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert "Failed" in manager_page and handoff.reason in manager_page and "Retry" not in manager_page
    head_office = world.client_for("head_office")
    page = head_office.get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert handoff.reason in page and f"/print/runs/{handoff.public_id}/retry/" in page
    # the branch may not retry: 403, nothing tried
    assert world.client_for("branch_manager").post(f"/print/runs/{handoff.public_id}/retry/").status_code == 403
    handoff.refresh_from_db()
    assert (handoff.attempts, sftp.logins) == (5, 5)
    # the printer unlocks the account; head office retries
    sftp.refuse = False
    response = run(head_office.post, path=f"/print/runs/{handoff.public_id}/retry/")
    assert response.status_code == 302 and response["Location"].endswith(f"/network/campaigns/{campaign.public_id}/#print")
    handoff.refresh_from_db()
    assert (handoff.status, handoff.attempts, handoff.reason, sftp.logins) == (PrintHandoffStatus.DELIVERED, 6, "", 6)
    received = sftp.files()
    assert len(received) == 3
    assert sha(received[f"relais-{campaign.public_id}-{handoff.public_id}.pdf"]) == handoff.pdf_sha256
    # delivered: no retry any more
    again = head_office.post(f"/print/runs/{handoff.public_id}/retry/", follow=True)
    assert "This print run was already delivered to the printer." in again.content.decode()


def test_a_server_with_another_host_key_gets_nothing(world, media, sftp, run):
    other = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")
    sftp_printer(world, sftp, host_key_fingerprint=other)
    campaign = print_campaign(world, run, count=1)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    assert (handoff.status, handoff.attempts) == (PrintHandoffStatus.FAILED, 5)
    assert handoff.reason == "SFTP: the server's host key is not the fingerprint set for the printer"
    assert (sftp.files(), sftp.logins) == ({}, 0)  # not even the password was sent


def test_the_api_shows_the_status_and_head_office_retries_through_it(world, media, sftp, run):
    sftp_printer(world, sftp)
    sftp.refuse = True
    campaign = print_campaign(world, run, count=2)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    answer = world.client_for("branch_manager").get(f"/api/v1/campaigns/{campaign.public_id}/print/").json()
    assert [(f["kind"], f["pages"], f["recipients"]) for f in answer["files"]] == [("flyer", 1, 0), ("mail_merge", 2, 2)]
    [shown] = answer["handoffs"]
    assert (shown["id"], shown["status"], shown["attempts"], shown["reason"], shown["pieces"]) == (
        handoff.public_id, "failed", 5, "SFTP: the server refused the user name or its password or key", 2)
    assert world.client_for("branch_manager").post(f"/api/v1/print-runs/{handoff.public_id}/retry/").status_code == 403
    sftp.refuse = False
    response = run(world.client_for("head_office").post, path=f"/api/v1/print-runs/{handoff.public_id}/retry/")
    assert response.status_code == 200
    handoff.refresh_from_db()
    assert (handoff.status, handoff.attempts) == ("delivered", 6)
    again = world.client_for("head_office").post(f"/api/v1/print-runs/{handoff.public_id}/retry/")
    assert again.status_code == 400 and again.json() == {"status": ["This print run was already delivered to the printer."]}


def test_by_email_the_printer_gets_signed_links_to_the_three_files(world, media, run, settings):
    settings.RELAIS_BASE_URL = "https://relais.example.test"
    printer_settings_save(network=world.networks["alpha"], saved_by=world.users["head_office"], method="email",
                          email="atelier@imprimerie.example.test")
    campaign = print_campaign(world, run, count=2)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    assert (handoff.status, handoff.method, handoff.destination) == ("delivered", "email", "atelier@imprimerie.example.test")
    [message] = [m for m in mail.outbox if m.to == ["atelier@imprimerie.example.test"]]
    links = re.findall(r"https://relais\.example\.test(/print/d/[^/\s]+/)", message.body)
    assert len(links) == 3 and handoff.pdf_sha256 in message.body and handoff.bat_sha256 in message.body
    anonymous = world.client_for("anonymous")
    bodies = [b"".join(anonymous.get(link).streaming_content) for link in links]
    assert [sha(body) for body in bodies] == [handoff.pdf_sha256, handoff.bat_sha256, handoff.manifest_sha256]
    proof = Proof.objects.get(campaign=campaign, status=ProofStatus.APPROVED)
    assert bodies[1] == bytes(proof.pdf)
    token = links[0].split("/")[3]
    assert anonymous.get(f"/print/d/{token[:-2]}xx/").status_code == 404  # a forged signature
    assert anonymous.get("/print/d/nothing/").status_code == 404


def test_without_a_printer_the_run_stays_prepared_for_download(world, media, run):
    campaign = print_campaign(world, run, count=1)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    assert (handoff.status, handoff.attempts, handoff.method) == ("prepared", 0, "")
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert "Prepared" in page and f"/print/files/{handoff.print_file.public_id}/" in page


def test_page_ranges_come_from_the_pieces_anchors():
    """A piece longer than a page: the manifest's ranges follow the PDF, not a count."""
    pieces = "".join(f'<section style="break-after: page" id="relais-piece-{n}">piece {n}'
                     + ('<div style="height: 400mm"></div>' if n == 2 else "") + "</section>" for n in (1, 2, 3))
    pdf = weasyprint.HTML(string=f"<html><body>{pieces}</body></html>").write_pdf()
    assert printing.piece_page_ranges(pdf, 3) == [(1, 1), (2, 3), (4, 4)]
    plain = weasyprint.HTML(string="<p style='break-after: page'>a</p><p style='break-after: page'>b</p><p>c</p><p>d</p>"
                            ).write_pdf()
    assert printing.piece_page_ranges(plain, 3) == [(1, 1), (2, 2), (3, 3)]  # no anchors: equal pieces
    with pytest.raises(ValueError):
        printing.piece_page_ranges(plain, 2)
    assert printing.piece_page_ranges(plain, 0) == []


def test_automatic_retries_are_bounded_with_a_growing_delay():
    assert [printing.retry_delay(retry) for retry in range(0, 7)] == [None, 60, 120, 240, 480, None, None]


def test_secrets_are_encrypted_at_rest_and_never_shown_back(world):
    key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    printer = printer_settings_save(
        network=world.networks["alpha"], saved_by=world.users["head_office"], method="sftp", host="sftp.example.test",
        username="printer", host_key_fingerprint="SHA256:" + "A" * 43,
        secrets=PrinterSecrets(password="s3cret-Pa55", private_key=key))
    stored = PrinterSettings.objects.filter(pk=printer.pk).values("password_encrypted", "private_key_encrypted").get()
    assert "s3cret-Pa55" not in stored["password_encrypted"] and "PRIVATE KEY" not in stored["private_key_encrypted"]
    assert printing.secret_decrypt(stored["password_encrypted"]) == "s3cret-Pa55"
    assert printing.secret_decrypt(stored["private_key_encrypted"]) == key
    page = world.client_for("head_office").get("/print/printer/").content.decode()
    assert "s3cret-Pa55" not in page and "PRIVATE KEY" not in page and "A password is stored" in page
    api = world.client_for("head_office").get("/api/v1/printer-settings/alpha/").json()
    assert (api["has_password"], api["has_private_key"], api["host"]) == (True, True, "sftp.example.test")
    assert "password" not in api and "private_key" not in api
    # saving again without typing them keeps them
    printer_settings_save(network=world.networks["alpha"], saved_by=world.users["head_office"], method="sftp",
                          host="sftp2.example.test", username="printer", host_key_fingerprint="SHA256:" + "A" * 43)
    printer.refresh_from_db()
    assert printing.secret_decrypt(printer.password_encrypted) == "s3cret-Pa55" and printer.host == "sftp2.example.test"


def test_the_settings_page_as_a_browser_posts_it(world):
    client = world.client_for("head_office")
    response = client.post("/print/printer/", {"network": "alpha", "method": "sftp", "host": "", "port": "22",
                                               "username": "", "private_key": "not\r\na key\r\n"})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index('class="alert alert-danger"') < page.index('name="host"')
    assert "Required for SFTP." in page and "Give the server&#x27;s SHA-256 host key fingerprint" in page
    assert "This is not a private key Relais can read" in page
    assert not PrinterSettings.objects.exists()
    key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode().replace("\n", "\r\n")
    response = client.post("/print/printer/", {
        "network": "alpha", "method": "sftp", "host": "sftp.example.test", "port": "2222", "username": "printer",
        "remote_directory": "in", "host_key_fingerprint": "SHA256:" + "B" * 43, "private_key": key})
    assert response.status_code == 302
    printer = PrinterSettings.objects.get(network=world.networks["alpha"])
    assert (printer.method, printer.port, printer.remote_directory) == ("sftp", 2222, "in")
    assert asyncssh.import_private_key(printing.secret_decrypt(printer.private_key_encrypted))
    for role in ("branch_manager", "regional_manager", "approver", "analyst", "other_network_head_office"):
        assert world.client_for(role).get("/print/printer/?network=alpha").status_code == 404, role
    assert world.client_for("other_network_head_office").post("/print/printer/", {
        "network": "alpha", "method": "none", "port": "22"}).status_code == 404
    printer.refresh_from_db()
    assert printer.method == "sftp"


def test_a_failure_that_retrying_cannot_mend_is_not_retried(world, media, run):
    """No printer set (a network that turned its hand-off off after the run was prepared): one
    attempt, failed with the reason, no automatic retry."""
    campaign = print_campaign(world, run, count=1)
    handoff = PrintHandoff.objects.get(campaign=campaign)
    from central.tasks import print_handoff_deliver_task

    assert print_handoff_deliver_task.apply(args=[handoff.pk]).get() == "failed"
    handoff.refresh_from_db()
    assert (handoff.status, handoff.attempts) == ("failed", 1)
    assert handoff.reason == "The network has no printer set: download the files from the campaign page."
    assert print_handoff_deliver_task.apply(args=[10**9]).get() == "missing"
