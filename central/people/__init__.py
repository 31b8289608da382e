"""People of a network: invitations, roles on nodes, deactivation, password reset (issue 22)."""
