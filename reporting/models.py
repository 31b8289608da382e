"""Delivery and engagement events and their roll-ups: built by the reporting issue."""
