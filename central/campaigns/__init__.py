"""Campaigns: a branch's or head office's send of one template version on one channel.
``services.py`` writes (create from an operation or a kit, edit, status, schedule, cancel, the
target's changes), ``selectors.py`` reads on behalf of a user (the scoping selector, audience,
history), ``clashes.py`` what a planned campaign collides with, ``targeting.py`` the criteria as
SQL, ``states.py`` the state a person reads, ``local_slots.py`` and ``target_review*.py`` the
national send's local slots and the branches' review of its target, ``api.py`` the REST API.
The branch's pages: the campaign editor (``views.py``, ``forms.py``, ``checklist.py``), the
proposed list (``target_views.py``) and the review of head office's national target
(``target_review_views.py``), mounted under ``/network/`` (namespace ``campaigns``)."""
