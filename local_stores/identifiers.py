"""Public identifiers: random and non-sequential, so that no URL or export reveals a count or
lets anyone guess a neighbour's id."""

import base64
import secrets

_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: safe to read out on the phone
# base32 turns 10 random bytes into 16 characters of a 32-letter alphabet: mapped onto ours,
# that is 80 random bits per id, drawn with one call to the system's random source.
_FROM_BASE32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)


def new_public_id(prefix: str, length: int = 16) -> str:
    """A random identifier such as ``cus_k3m9…`` (80 bits of randomness for length 16)."""
    if length == 16:
        return prefix + "_" + base64.b32encode(secrets.token_bytes(10)).decode().translate(_FROM_BASE32)
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
