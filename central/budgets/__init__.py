"""Budgets: what a campaign costs (``costs.py``: unit costs from the channel registry's rates and
the network's prices, pages of a print, SMS segments), the budgets head office allocates to a
node and a period (``services.py`` writes, ``selectors.py`` reads on behalf of a user) and their
pages and API (``views.py``, ``urls.py``, ``forms.py``, ``api.py``)."""
