"""Reads of approvals, on behalf of a user."""

from local_stores.selectors import UserLike, nodes_in_scope


def approval_scope_exists(*, fetched_by: UserLike) -> bool:
    """Whether ``fetched_by`` approves proofs anywhere (and so has an inbox)."""
    return nodes_in_scope(fetched_by, perm="approve_proofs").exists()


def pending_proofs_for(*, fetched_by: UserLike) -> list:
    """Proofs waiting for ``fetched_by``'s decision. No proof exists until approvals are built,
    so the inbox is empty for everyone; the scope check above already holds."""
    return []
