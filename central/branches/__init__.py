"""The branch pages: the list of branches one sees, a branch's page (its campaigns, its customers'
consent, the campaigns built with details it has since changed) and the form to edit its details.
Mounted under ``/network/`` (namespace ``branches``)."""
