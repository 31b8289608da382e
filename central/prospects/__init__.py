"""Prospects: a branch's public sign-up page with double opt-in for e-mail (``services.py``,
``views.py``, ``urls.py`` under the ``public`` namespace, ``forms.py``) and its counter poster."""
