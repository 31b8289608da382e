"""Purchases: the CRM's purchases imported from a CSV (``importing.py`` checks and stages, sharing
the customer import's file reading; ``services.py`` loads; ``api.py``), read by reporting's
attributed revenue."""
