"""Client keys: mint them, check what a caller presents, and manage names and limits.

A key is `lh_<key_id>_<secret>`: `key_id` (12 hex digits) is public and indexed, `secret` is
32 random bytes (url-safe base64). Only `sha256(secret)` is stored and compared in constant
time (`hmac.compare_digest`); a fast hash is enough because the secret is random, not a
password (no stretching needed, as for GitHub or LiteLLM tokens). The key is shown once, by
`create` and `rotate`. Limits are checked here for shape (positive numbers, a future expiry);
they are enforced per request by workbench/api/client_access.py.
Reference: ../shared/research/CLIENTS_AND_HOSTING.md section 2 (LiteLLM virtual keys).
Does not know SQL (library/keys_store.py) or HTTP.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone

from workbench.errors import WorkbenchError
from workbench.library.keys_store import KeyInfo, KeyStore

PREFIX = "lh_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
KEY = re.compile(r"^lh_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NO_LIMIT = object()  # set_limits: leave this field as it is


def mint() -> tuple[str, str, str]:
    """(key, key_id, secret_hash) for a new key."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return f"{PREFIX}{key_id}_{secret}", key_id, _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_key(text: str | None) -> bool:
    return bool(text) and text.startswith(PREFIX)


def parse_expiry(text: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO date-time (UTC when no zone is given)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise WorkbenchError(f"expiry {text!r} is not a date: write YYYY-MM-DD or "
                             "YYYY-MM-DDTHH:MM") from exc
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def check_limits(limits: dict) -> dict:
    """The limits as stored: positive integers, a budget > 0, models as a tuple or None."""
    out = {}
    for name, value in limits.items():
        if value is None or name == "expires_at":
            out[name] = value
        elif name in ("rpm", "tpm", "max_parallel"):
            if not isinstance(value, int) or value < 1:
                raise WorkbenchError(f"--{name.replace('_', '-')} must be a whole number "
                                     f"of at least 1, not {value!r}")
            out[name] = value
        elif name == "budget_usd":
            if not float(value) > 0:
                raise WorkbenchError(f"--budget must be more than 0 USD, not {value!r}")
            out[name] = float(value)
        elif name == "models":
            names = tuple(m.strip() for m in value if m.strip())
            out[name] = names or None
    expires = out.get("expires_at")
    if expires is not None and expires <= datetime.now(timezone.utc):
        raise WorkbenchError(f"expiry {expires.isoformat()} is in the past")
    return out


class ClientKeys:
    """The library's client keys."""

    def __init__(self, store: KeyStore):
        self.store = store  # the Library's shared store (library/stores.py)

    def create(self, name: str, **limits) -> tuple[KeyInfo, str]:
        if not NAME.match(name or ""):
            raise WorkbenchError(f"key name {name!r} must be 1-100 letters, digits, '.', '_' "
                                 "or '-', starting with a letter or digit")
        key, key_id, digest = mint()
        return self.store.add(name, key_id, digest, check_limits(limits)), key

    def list(self) -> list[KeyInfo]:
        return self.store.list()

    def revoke(self, name: str) -> KeyInfo:
        return self.store.revoke(name)

    def rotate(self, name: str) -> tuple[KeyInfo, str]:
        key, key_id, digest = mint()
        return self.store.rotate(name, key_id, digest), key

    def set_limits(self, name: str, **limits) -> KeyInfo:
        given = {k: v for k, v in limits.items() if v is not NO_LIMIT}
        if not given:
            raise WorkbenchError("set-limits needs at least one limit to change")
        return self.store.set_limits(name, check_limits(given))

    def lookup(self, presented: str) -> KeyInfo | None:
        """The key row whose hash matches, revoked or not; None for anything else."""
        match = KEY.match(presented)
        if match is None:
            return None
        info = self.store.by_key_id(match.group(1))
        if info is None or not hmac.compare_digest(_hash(match.group(2)), info.secret_hash):
            return None
        return info

    def any_active(self) -> bool:
        return self.store.any_active()

    def close(self) -> None:
        self.store.close()
