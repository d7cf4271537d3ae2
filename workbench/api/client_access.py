"""Who is calling, and may they: the client-key check, limits and the usage meter per request.

Owns the per-request decision routing.py asks for. A request is the admin's when it carries
the admin `--api-key`, a client's when it carries a live client key (`lh_...`, looked up in
the library on every request, so a key revoked, rotated or re-limited from the CLI counts on
the very next request, without a restart), and open when neither is set up: no admin key and
no active client key in the library (loopback only, see auth.ensure_safe_bind). Anything else
is a 401 in the caller's protocol's shape.
A client key's limits: its model list (403 for any other model, checked wherever a body names
one), its budget (429 insufficient_quota once its usage has cost that much, without a
Retry-After: waiting will not help), then rpm, tpm and max_parallel (rate_limits.py: 429 with
Retry-After). Generation requests (/v1/chat/completions, /v1/responses, /v1/messages) get a
`Ticket`: its meter is filled by service.py and ends as one usage row (usage_log.py); one
refused by a limit is a row too (its status, no tokens), so rows equal requests and the admin
sees who hits the limits. A request refused as unauthenticated has no row: it is nobody's.
Does not know SQL (workbench/client_keys.py, library/usage_store.py) or the wire formats.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from workbench.client_keys import ClientKeys, looks_like_key
from workbench.config import Settings
from workbench.library.keys_store import KeyInfo

from .auth import presented_key
from .errors import ApiError
from .rate_limits import Limits, RateLimited, RateLimiter
from .usage_log import Meter, UsageLog

METERED = frozenset({"/v1/chat/completions", "/v1/responses", "/v1/messages"})
HOW = "send 'Authorization: Bearer <key>' or 'x-api-key: <key>'"


@dataclass(frozen=True)
class Caller:
    key: KeyInfo | None  # None: the admin (admin key, or the open loopback server)


class Ticket:
    """An admitted generation request: ends once, as a usage row and a released lease."""

    def __init__(self, meter: Meter, usage: UsageLog, lease=None):
        self.meter, self._usage, self._lease, self._done = meter, usage, lease, False

    def finish(self, status: int) -> None:
        if self._done:
            return
        self._done = True
        if self._lease is not None:
            self._lease.release(self.meter.tokens)
        self._usage.record(self.meter.entry(status))


class ClientAccess:
    def __init__(self, settings: Settings, keys: ClientKeys, usage: UsageLog, *,
                 aliases: Callable[[str], str] = lambda name: name,
                 avg_seconds: Callable[[], float] = lambda: 2.0):
        self.settings, self.keys, self.usage = settings, keys, usage
        self.limiter = RateLimiter()
        self._aliases, self._avg_seconds = aliases, avg_seconds

    async def identify(self, request: Request) -> Caller:
        given = presented_key(request)
        admin = self.settings.api_key
        if admin and given and hmac.compare_digest(given.encode("utf-8"),
                                                   admin.encode("utf-8")):
            return Caller(None)
        if looks_like_key(given):
            info = await run_in_threadpool(self.keys.lookup, given)
            if info is None:
                raise ApiError(401, "authentication", "invalid API key")
            if info.revoked_at is not None:
                raise ApiError(401, "authentication", f"API key {info.name!r} was revoked")
            if info.expires_at is not None and info.expires_at <= datetime.now(timezone.utc):
                raise ApiError(401, "authentication", f"API key {info.name!r} expired on "
                               f"{info.expires_at:%Y-%m-%d %H:%M} UTC")
            return Caller(info)
        if admin or await run_in_threadpool(self.keys.any_active):
            if given is None:
                raise ApiError(401, "authentication", f"missing API key: {HOW}")
            raise ApiError(401, "authentication", "invalid API key")
        return Caller(None)

    async def admit(self, request: Request, caller: Caller, path: str,
                    started: float) -> Ticket | None:
        """A ticket for a generation request, None for others; a refusal here is an ApiError
        and, on a generation route, still a usage row (with its status, no tokens)."""
        body = getattr(request, "_json", None)
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) else ""
        key = caller.key
        if path not in METERED:
            if key is not None and key.models is not None and model:
                self._check_model(key, model)
            return None
        meter = Meter(path, key.id if key else None, started=started, model=model)
        try:
            lease = None if key is None else await self._limit(key, model)
        except ApiError as err:
            self.usage.record(meter.entry(err.status))
            raise
        request.state.usage_meter = meter
        return Ticket(meter, self.usage, lease)

    async def _limit(self, key: KeyInfo, model: str):
        if key.models is not None and model:
            self._check_model(key, model)
        if key.budget_usd is not None:
            spent = await run_in_threadpool(self.usage.store.spent, key.id)
            if spent >= key.budget_usd:
                raise ApiError(429, "quota", f"API key {key.name!r} has used its budget of "
                               f"${key.budget_usd:g} (spent ${spent:.4f}); ask the admin to "
                               "raise it (keys set-limits --budget)")
        try:  # counted with or without limits, so a limit set later sees the last minute
            return self.limiter.acquire(key.id, Limits(key.rpm, key.tpm, key.max_parallel),
                                        self._avg_seconds())
        except RateLimited as exc:
            raise ApiError(429, "rate_limited", f"rate limit for API key {key.name!r}: "
                           f"{exc.message}; retry in {exc.retry_after} s",
                           headers={"Retry-After": str(exc.retry_after)}) from exc

    def may_use(self, key: KeyInfo | None, model: str) -> bool:
        """Whether the caller may use `model` (a served id or an alias of one)."""
        if key is None or key.models is None:
            return True
        allowed = {m.lower() for m in key.models}
        return model.strip().lower() in allowed or self._aliases(model).lower() in allowed

    def _check_model(self, key: KeyInfo, model: str) -> None:
        if self.may_use(key, model):
            return
        raise ApiError(403, "forbidden", f"API key {key.name!r} may not use model {model!r}; "
                       f"it may use: {', '.join(key.models or ()) or 'none'}", param="model")
