"""The operations open to a branch: the list (join, decline, use a kit) and the answers to them.
Head office's side of the calendar is ``central/calendar/views.py``. Mounted under ``/network/``
(namespace ``operations``)."""
