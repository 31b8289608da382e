"""Delivery: the deliveries of a committed arbitration leave, by e-mail, SMS or post.

**Chunks.** ``campaign_dispatch`` (a campaign in status *sending*, after ``campaign_send_start``)
cuts the campaign's queued deliveries into ranges of ids (``RELAIS_DISPATCH_CHUNK_SIZE``) and
queues one Celery task per range. ``dispatch_chunk`` sends a range in batches
(``RELAIS_DISPATCH_BATCH_SIZE``, 50): queued → sending → sent, failed (with a reason) or cancelled
(with a reason). A post campaign is one task that prints its mail merge instead.

**Claiming a batch.** One conditional ``UPDATE … SET status='sending' WHERE id IN (the batch) AND
status='queued' AND campaign_id IN (campaigns in status sending) RETURNING id``, committed at once:
the rows it returns are this task's; a second task on the same range (the dispatch run twice, a
broker redelivery) finds them no longer queued and moves on. The messages are then sent one by one
on the chunk's one connection; a failed or cancelled one is committed at once, on its own; those the
provider accepted are marked *sent* together when the batch ends (one UPDATE, one INSERT of their
Contacts, one commit — at least every second if the batch is slow). So a message is sent at most
once — except if a worker dies after the provider accepted messages and before their *sent* was
committed: those (at most a batch per worker process, the messages "in flight") go again after
``dispatch_recover`` (Celery beat, every 5 minutes) has queued the stale claims again
(``RELAIS_DISPATCH_STALE_SECONDS``). What a batch does not send (the campaign paused, quiet hours,
an error) is released: queued again as if never claimed, or cancelled if the campaign was.

**Just before each message**, one query reads again the campaign (paused or cancelled: the chunk
stops before the message), the claim (taken back by a recovery: skipped) and the customer: an
objection, a withdrawn consent, a suppressed address or a missing one cancels the delivery with
that reason (so an unsubscription made during the send is honoured, even for a message already
claimed). Quiet hours (``NetworkRules.quiet_from``/``quiet_until``, in ``TIME_ZONE``) stop the
chunk, which is re-scheduled for their end; the channel's rate limit spaces the messages.

**Errors.** Temporary (SMTP 4xx, a lost connection, an SMS provider's 429/5xx): the message goes
back to the queue with ``retry_at`` = now + RETRY_SECONDS × 2^(attempt − 1), and the chunk
re-schedules itself for the earliest retry; after ``RELAIS_DISPATCH_MAX_ATTEMPTS`` attempts it
fails (``gave_up``). Permanent (SMTP 5xx): it fails at once; a hard bounce (the recipient refused,
or an enhanced status 5.1.x) puts the address's SHA-256 on the suppression list. Anything else
raised for one message (a poison recipient) fails that message alone and the chunk goes on.

**Rate limit.** Messages per second per channel (``RELAIS_RATE_LIMITS``), a token bucket in Redis
shared by every worker (``RELAIS_RATE_LIMIT_REDIS_URL``), or per process without Redis. Celery's
``rate_limit`` was not used: it counts tasks (a chunk is 200 messages), per worker.

Every sent message writes a ``Contact`` (what the pressure caps count); when no delivery of a
campaign is left to send, the campaign is *sent*.
"""
