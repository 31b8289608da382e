"""The branch side of the network's rules: "why not?" for one of one's customers, simulating a
campaign, and the transfers of customers between branches. Head office's rules pages are
``central/rules/settings_views.py``; the arbitration engine is the package ``central/arbitration/``. Mounted under
``/network/`` (namespace ``rules``)."""
