"""Work a click does not wait for (issue 19, defect 11): the approvals' e-mails are queued, after the
commit, as the task ``approvals.notification_send`` instead of being sent inside the request. In
production a worker sends them; in the demo and here the task runs in-process (eager), so the
e-mail still leaves — only once the decision is committed."""

from unittest import mock

import pytest
from django.core import mail

from approvals import tasks
from approvals.services import proof_decide, proof_request
from central.services import campaign_update
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(world):
    campaign = joined_campaign(world)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres"})
    return campaign


def test_requesting_a_proof_queues_the_approvers_email_after_the_commit(world, campaign,
                                                                       django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.notification_send_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
        delay.assert_not_called()  # nothing queued before the commit
        for callback in callbacks:
            callback()

    (subject, body, recipients), _kwargs = delay.call_args
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

    with mock.patch("django.core.mail.send_mail", side_effect=flaky):  # as a worker runs it (errors not raised)
        result = tasks.notification_send_task.apply(args=["[Relais] sujet", "corps", ["valideur@example.org"]],
                                                    throw=False)

    assert sent == ["refused", ["valideur@example.org"]] and result.get() == 1
