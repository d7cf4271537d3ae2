"""Model aliases: the names clients send that mean a model this server serves.

Owns the rule that turns a request's `model` into the name the catalog looks up. Claude Code
and the Anthropic SDKs send Anthropic's model names (`claude-sonnet-4-5-20250929`, or
`claude-opus-4-8[1m]` when the user set no model), so:
- an alias from `--alias claude-sonnet=NAME` (Settings.alias) matches that name exactly or as
  a prefix followed by `-` or `[` (`claude-sonnet` covers `claude-sonnet-4-5[1m]`); the
  longest matching alias wins; matching ignores case;
- any other name starting with `claude` means the served model, as DeepSeek's own API maps
  every Claude name to its default model;
- every other name is left as it is.
Does not know which names are served: catalog.py checks the target, and responses keep the
name the client sent.
"""
from __future__ import annotations

CLAUDE_PREFIX = "claude"


class Aliases:
    def __init__(self, pairs: tuple[str, ...], served: str):
        """`pairs`: "alias=target" strings (Settings.alias); `served`: the default model."""
        self._served = served
        mapping = dict(p.split("=", 1) for p in pairs)
        self._pairs = sorted(((a.strip().lower(), t.strip()) for a, t in mapping.items()),
                             key=lambda pair: -len(pair[0]))

    def target(self, name: str) -> str:
        key = name.strip().lower()
        for alias, target in self._pairs:
            if key == alias or (key.startswith(alias) and key[len(alias)] in "-["):
                return target
        if key.startswith(CLAUDE_PREFIX):
            return self._served
        return name

    def listed(self) -> list[tuple[str, str]]:
        """(alias, target) as configured, for /v1/models and error messages."""
        return [(a, t) for a, t in self._pairs]
