"""Networks: the platform's list and creation of networks (superusers), each network's settings
(its head office) and the network's audit trail (issue 22, docs/network-administration.md)."""
