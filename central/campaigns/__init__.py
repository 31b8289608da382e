"""A branch's campaigns: the campaign editor (``views.py``, its forms in ``forms.py``, the checklist
at the top of its page in ``checklist.py``), the proposed list (``target_views.py``) and the review
of head office's national target (``target_review_views.py``). Mounted under ``/network/``
(namespace ``campaigns``)."""
