"""Work a click does not wait for (issue 19, defect 11): the approvals' e-mails are queued, after the
commit, as the task ``approvals.notification_send`` instead of being sent inside the request; head
office's *Simulate* is queued as ``central.arbitration_simulate`` and its page shows it running
(htmx asks again every 2 s) until it is done. In production a worker runs them; in the demo and
here the tasks run in-process (eager), so the work still happens — once the click is committed."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals import tasks
from approvals.services import proof_decide, proof_request
from central.campaigns.services import campaign_update
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(world):
    campaign = joined_campaign(world)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres"})
    return campaign


def test_requesting_a_proof_queues_the_approvers_email_after_the_commit(world, campaign,
                                                                       django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.notification_send_task, "apply_async") as delay:  # queued by name (task_queue)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
        delay.assert_not_called()  # nothing queued before the commit
        for callback in callbacks:
            callback()

    subject, body, recipients = delay.call_args.kwargs["args"]
    assert tasks.notification_send_task.name == "approvals.notification_send"
    assert subject.startswith("[Relais] ") and recipients == [world.users["regional_manager"].email]
    assert "/approvals/proofs/" in body
    assert mail.outbox == []  # queued, not sent by the request


def test_in_process_the_queued_email_still_leaves(world, campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    assert [message.to for message in mail.outbox] == [[world.users["regional_manager"].email]]

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    assert world.users["approver"].email in {address for message in mail.outbox for address in message.to}


def test_a_mail_server_that_refuses_once_is_tried_again():
    sent = []

    def flaky(subject, body, sender, recipients, fail_silently):
        if not sent:
            sent.append("refused")
            raise ConnectionRefusedError("the mail server is restarting")
        sent.append(recipients)
        return 1

    with mock.patch("approvals.tasks.send_mail", side_effect=flaky):  # as a worker runs it (errors not raised)
        result = tasks.notification_send_task.apply(args=["[Relais] sujet", "corps", ["valideur@example.org"]],
                                                    throw=False)

    assert sent == ["refused", ["valideur@example.org"]] and result.get() == 1


# --- Head office's *Simulate*: queued, the page shows it running, then its results -----------------


def test_simulate_is_queued_and_the_page_shows_it_running_until_it_is_done(world, django_capture_on_commit_callbacks):
    from central.models import ArbitrationRun

    client = world.client_for("head_office")
    start = timezone.localdate() + timedelta(days=1)
    window = {"network": "alpha", "from": start.isoformat(), "to": (start + timedelta(days=6)).isoformat()}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/calendar/arbitration/", window)
    assert response.status_code == 302

    # queued, not run: no finished simulation yet, and the page says it is running and asks again
    assert not ArbitrationRun.objects.filter(finished_at__isnull=False).exists()
    body = client.get("/calendar/arbitration/", window).content.decode()
    assert 'data-testid="simulation-queued"' in body and 'hx-trigger="every 2s"' in body
    assert "progress=1" in body and 'data-testid="simulation-run"' not in body
    poll = client.get("/calendar/arbitration/", {**window, "progress": "1"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'data-testid="simulation-queued"' in poll.content.decode()
    assert "HX-Refresh" not in poll.headers

    for callback in callbacks:  # the task, in-process
        callback()

    run = ArbitrationRun.objects.get()  # the queued record gave way to the run
    assert run.finished_at is not None and "rules" in run.summary and run.started_by == world.users["head_office"]
    poll = client.get("/calendar/arbitration/", {**window, "progress": "1"}, HTTP_HX_REQUEST="true")
    assert poll.headers.get("HX-Refresh") == "true"  # done: the panel reloads the page
    body = client.get("/calendar/arbitration/", window).content.decode()
    assert 'data-testid="simulation-run"' in body and 'data-testid="simulation-queued"' not in body


def test_a_queued_simulation_whose_author_lost_the_right_runs_nothing(world, django_capture_on_commit_callbacks):
    from central.models import ArbitrationRun
    from central.rules.simulation_queue import arbitration_simulate_queue
    start = timezone.localdate() + timedelta(days=1)
    user = world.users["head_office"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        arbitration_simulate_queue(network=world.networks["alpha"], starts_on=start, ends_on=start + timedelta(days=6),
                                   run_by=user)
    user.groups.clear()  # every role taken away (roles are groups) before the task runs
    for callback in callbacks:
        callback()
    assert not ArbitrationRun.objects.exists()


def test_a_simulation_refused_at_the_click_is_not_queued(world):
    from central.models import ArbitrationRun
    from central.rules.simulation_queue import arbitration_simulate_queue

    start = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError):
        arbitration_simulate_queue(network=world.networks["alpha"], starts_on=start, ends_on=start - timedelta(days=1),
                                   run_by=world.users["head_office"])
    assert not ArbitrationRun.objects.exists()
