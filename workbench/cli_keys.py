"""CLI commands for hosting: `keys create|list|revoke|rotate|set-limits` and `usage`;
registered into workbench/cli.py's parser by `add_commands(command)`.

    keys create NAME [--rpm N] [--tpm N] [--max-parallel N] [--models a,b] [--expires DATE]
                     [--budget USD]            prints the key once: {"name", "key", ...}
    keys set-limits NAME [same flags; `none` lifts a limit]
    usage [--by key|model|day] [--since DATE] [--csv]   {"rows": [{"key", "requests", ...}]}

A running app sees every change on its next request (the API reads keys from the library).
Does not know SQL or HTTP: it calls the Workbench's `client_keys` and `usage`.
"""
from __future__ import annotations

import argparse
import csv
import io
from datetime import date
from typing import Any

from workbench.client_keys import NO_LIMIT, parse_expiry
from workbench.errors import WorkbenchError
from workbench.library.usage_store import GROUPS

LIMITS = ("rpm", "tpm", "max_parallel", "models", "expires", "budget")
CSV_COLUMNS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens",
               "cost", "avg_latency_ms", "avg_ttft_ms")


def add_commands(command) -> None:
    p = command("keys", None, "API client keys: create, list, revoke, rotate, set-limits")
    actions = p.add_subparsers(dest="keys_action", metavar="ACTION", required=True)

    def action(name: str, run, help: str, *, named: bool = True) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help, description=help)
        a.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="machine-readable output on stdout")
        a.set_defaults(run=run)
        if named:
            a.add_argument("name")
        return a

    _limit_flags(action("create", cmd_create, "create a key; it is printed once"), lifts=False)
    action("list", cmd_list, "list keys and their limits (never the keys)", named=False)
    action("revoke", cmd_revoke, "revoke a key: refused from the next request on")
    action("rotate", cmd_rotate, "replace a key's secret (the old key stops working)")
    _limit_flags(action("set-limits", cmd_set_limits,
                        "change a key's limits (`none` lifts one)"), lifts=True)
    p = command("usage", cmd_usage, "the HTTP API's usage: requests, tokens, cost")
    p.add_argument("--by", choices=GROUPS, default="key")
    p.add_argument("--since", default=None, metavar="DATE", help="YYYY-MM-DD (inclusive)")
    p.add_argument("--csv", action="store_true", help="CSV on stdout")


def _limit_flags(p: argparse.ArgumentParser, lifts: bool) -> None:
    unset = NO_LIMIT if lifts else None
    count, text = _count(lifts), _text(lifts)
    p.add_argument("--rpm", type=count, default=unset, help="requests per minute")
    p.add_argument("--tpm", type=count, default=unset,
                   help="tokens per minute (counted when a request has finished)")
    p.add_argument("--max-parallel", type=count, default=unset, help="requests at a time")
    p.add_argument("--models", type=text, default=unset,
                   help="comma-separated models this key may use (default: all)")
    p.add_argument("--expires", type=text, default=unset, metavar="DATE",
                   help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")
    p.add_argument("--budget", type=_money(lifts), default=unset, metavar="USD",
                   help="stop at this cost (at API prices)")


def _count(lifts: bool):
    def parse(text: str):
        if lifts and text.lower() == "none":
            return None
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1"
                                             + (" (or none)" if lifts else ""))
        return int(text)
    return parse


def _money(lifts: bool):
    def parse(text: str):
        if lifts and text.lower() == "none":
            return None
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not an amount of USD above 0")
        return value
    return parse


def _text(lifts: bool):
    return lambda text: None if lifts and text.lower() == "none" else text


def _limits(args) -> dict:
    values = {"rpm": args.rpm, "tpm": args.tpm, "max_parallel": args.max_parallel,
              "budget_usd": args.budget}
    models, expires = args.models, args.expires
    values["models"] = models if models in (None, NO_LIMIT) else models.split(",")
    values["expires_at"] = expires if expires in (None, NO_LIMIT) else parse_expiry(expires)
    return values


def _summary(info) -> str:
    parts = [f"{k}={v}" for k, v in (("rpm", info.rpm), ("tpm", info.tpm),
                                     ("max-parallel", info.max_parallel),
                                     ("budget", info.budget_usd)) if v is not None]
    if info.models is not None:
        parts.append("models=" + ",".join(info.models))
    if info.expires_at is not None:
        parts.append(f"expires={info.expires_at:%Y-%m-%d %H:%M}")
    state = "revoked" if info.revoked_at else "active"
    return f"{info.name}\tlh_{info.key_id}_…\t{state}\t{' '.join(parts) or 'no limits'}"


def cmd_create(wb, args) -> tuple[Any, str]:
    info, key = wb.client_keys.create(args.name, **_limits(args))
    return ({"name": info.name, "key": key, **info.as_json()},
            f"created key {info.name}; it is shown only now:\n{key}")


def cmd_list(wb, args) -> tuple[Any, str]:
    keys = wb.client_keys.list()
    return ([k.as_json() for k in keys],
            "\n".join(_summary(k) for k in keys) or "no client keys: keys create NAME")


def cmd_revoke(wb, args) -> tuple[Any, str]:
    info = wb.client_keys.revoke(args.name)
    return info.as_json(), f"revoked {info.name}"


def cmd_rotate(wb, args) -> tuple[Any, str]:
    info, key = wb.client_keys.rotate(args.name)
    return ({"name": info.name, "key": key, **info.as_json()},
            f"rotated {info.name}; the old key no longer works. New key, shown only now:\n{key}")


def cmd_set_limits(wb, args) -> tuple[Any, str]:
    info = wb.client_keys.set_limits(args.name, **_limits(args))
    return info.as_json(), _summary(info)


def cmd_usage(wb, args) -> tuple[Any, str]:
    if args.since is not None:
        try:
            date.fromisoformat(args.since)
        except ValueError as exc:
            raise WorkbenchError(f"--since {args.since!r} is not a date: write YYYY-MM-DD") \
                from exc
    rows = wb.usage.summary(args.by, args.since)
    if args.csv:
        return {"rows": rows}, usage_csv(rows, args.by).rstrip("\n")
    lines = [f"{r[args.by]}\t{r['requests']} requests\t{r['prompt_tokens']}+"
             f"{r['completion_tokens']} tokens ({r['cached_tokens']} cached)\t"
             f"${r['cost']:.4f}" for r in rows]
    return {"rows": rows}, "\n".join(lines) or "no API usage yet"


def usage_csv(rows: list[dict], by: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((by, *CSV_COLUMNS))
    for r in rows:
        writer.writerow((r[by], *(r[c] if r[c] is not None else "" for c in CSV_COLUMNS)))
    return out.getvalue()
