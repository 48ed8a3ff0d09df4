"""What a client key is made of: its format, how one is generated, hashed and shown.

A key is ``gwk_`` followed by 43 URL-safe characters (256 random bits); only its HMAC under
the server secret is ever stored, and only its first characters are ever shown. The 43
characters are the unpadded URL-safe base64 of 32 bytes, so the last one carries only the
last 4 bits: it is one of the 16 characters whose two low bits are zero.
"""

from __future__ import annotations

import hmac
import re
import secrets

KEY_PREFIX = "gwk_"
KEY_RANDOM_BYTES = 32
KEY_FORMAT = re.compile(r"gwk_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")
ID_FORMAT = re.compile(r"key_[0-9a-f]{16}")
SHOWN_CHARS = 8


def generate_key() -> str:
    """A new client key with 256 bits of entropy and a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def generate_id() -> str:
    """A public, non-secret identifier for a key record (:data:`ID_FORMAT`; keys declared in
    the config file have ids of the operator's choosing)."""
    return "key_" + secrets.token_hex(8)


def hash_key(secret: bytes, key: str) -> str:
    """HMAC-SHA256 of the key under the server secret, as hex."""
    return hmac.digest(secret, key.encode(), "sha256").hex()


def is_well_formed(key: str) -> bool:
    """True for what :func:`generate_key` can make: the prefix and 43 URL-safe characters,
    the last of which can only be one of 16."""
    return KEY_FORMAT.fullmatch(key) is not None


def mask(key: str) -> str:
    """What an error or a listing may show of a key: its first characters only."""
    return key[:SHOWN_CHARS] + "****" if len(key) > SHOWN_CHARS else "****"
