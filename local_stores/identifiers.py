"""Public identifiers: random and non-sequential, so that no URL or export reveals a count or
lets anyone guess a neighbour's id."""

import secrets

_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: safe to read out on the phone


def new_public_id(prefix: str, length: int = 16) -> str:
    """A random identifier such as ``cus_k3m9…`` (80 bits of randomness for length 16)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
