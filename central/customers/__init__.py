"""Customers: what belongs to the customer as a person — their consent (``central.customers.consent``)."""
