"""The network's rules and what they decide: ``services.py`` (rules check and update, simulations),
``selectors.py`` (rules, simulations' results, "why not?" in plain words), ``simulation_queue.py``,
``api.py``. Head office's pages are ``settings_views.py`` (rules, suppression list, simulation);
the branch side — "why not?" for one of one's customers, simulating a campaign, ownership transfers
— is ``views.py``, mounted under ``/network/`` (namespace ``rules``). The arbitration engine
itself is the package ``central/arbitration/``."""
