"""Proofs, approval policies, decisions and the audit trail: built by the approvals issue."""
