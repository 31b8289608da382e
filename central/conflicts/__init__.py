"""The conflict report (head office): for a send window, which campaigns lost customers to which,
how many, for which reason — read from a simulation's decisions (``selectors.py``), as pages
(``views.py``) and API (``api.py``)."""
