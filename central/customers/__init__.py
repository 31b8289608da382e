"""Customers: the referential and everything that belongs to the customer as a person.
``selectors.py`` (the scoping selector ``customers_visible_to``, lists, counts), ``services.py``
(the CSV import's start and run, erasure), ``importing.py`` with ``columns.py`` and
``csv_files.py`` (the import's file, row checks and set-based load), ``consent.py`` (every
consent write), ``suppression.py`` (the network's suppression list), ``transfers.py`` (ownership
transfers between branches); pages, API, filters, exports and labels beside them."""
