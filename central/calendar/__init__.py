"""The national calendar: head office's operations (draft, publish, eligible branches, mandatory
enrolment), the branches' answers (participation), the periods (blackout, reserved for local
campaigns), the calendar feed and the deadline reminders. ``services.py`` and ``deadlines.py``
write, ``selectors.py`` reads on behalf of a user; ``views.py``, ``urls.py``, ``forms.py`` are head
office's pages, ``api.py`` the REST API of operations and participations. The branch's side of an
operation is ``central/operations/``."""
