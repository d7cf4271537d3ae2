"""Settings: flags > environment (LONGHAND_*) > defaults, built once and passed down.

Only `Settings.from_sources` reads the environment, and only when app.py or cli.py call it;
`env_secret` reads the one variable a remote model names for its API key, when it is used.
Also owns `is_loopback_host`: whether a bind address is reachable only from this machine.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping, MutableMapping

DEFAULT_MODEL = "smollm2-135m-instruct"
LOOPBACK_NAMES = {"localhost"}  # RFC 6761 6.3: always the loopback interface
# Set by the entry points (app.py, cli.py) before gradio/transformers are imported:
# no analytics, no Hugging Face Hub look-ups, nothing that phones home.
PRIVACY_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_SHARE": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "longhand"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("projects")
    cache_dir: Path = field(default_factory=_default_cache_dir)
    host: str = "127.0.0.1"
    port: int = 7860
    model: str = DEFAULT_MODEL
    api_key: str | None = None
    api_only: bool = False
    max_upload_bytes: int = 200 * 1024 * 1024
    max_archive_bytes: int = 1024 * 1024 * 1024  # a whole project zip, unpacked
    # Engine placement (accelerate) and quantization (bitsandbytes); None = library default.
    device_map: str | None = None
    max_memory: str | None = None  # e.g. "cpu=8GiB,0=20GiB"
    offload_folder: Path | None = None
    quantization: str | None = None  # None | "nf4" | "int8" | "fp16-cpu" | "int8-cpu" | "fp32"
    reference_v4: bool = False  # DeepSeek-V4 on transformers' modules, not the fused loader
    api_queue_size: int = 8
    # On-disk KV of prompt prefixes for local models (engine/prefix_cache.py).
    prefix_cache: bool = True  # LONGHAND_PREFIX_CACHE=0 turns it off
    prefix_cache_dir: Path | None = None  # None: <data_dir>/prefix-cache
    prefix_cache_gb: float = 8.0  # size cap; least recently used entries go first
    # API model aliases, "claude-sonnet=NAME" each (--alias, repeatable; LONGHAND_ALIAS is
    # comma-separated); any other claude* name means the served model (workbench/api/aliases.py)
    alias: tuple[str, ...] = ()
    # LONGHAND_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB puts the library's rows
    # on a PostgreSQL server; None keeps them in the data dir's SQLite file (workbench.db).
    database_url: str | None = None
    # Keep the prompt text in the API's usage rows (workbench/api/usage_log.py); off: tokens,
    # times and cost only.
    store_prompts: bool = False

    def __post_init__(self) -> None:
        # Callers (tests, notebooks) may pass plain strings for paths: store Paths, always.
        for name in ("data_dir", "cache_dir", "offload_folder", "prefix_cache_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(str(value)).expanduser())

    @property
    def db_path(self) -> Path:
        return self.data_dir / "workbench.db"

    @property
    def database(self) -> Path | str:
        """Where the library's rows live: the server URL if one is set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def prefix_cache_path(self) -> Path | None:
        """Where local backends keep prefix KV, or None when the prefix cache is off."""
        if not self.prefix_cache:
            return None
        return self.prefix_cache_dir or self.data_dir / "prefix-cache"

    @property
    def prefix_cache_bytes(self) -> int:
        return int(self.prefix_cache_gb * (1 << 30))

    def prefix_cache_options(self) -> dict:
        """engine.backends.factory.make_backend's prefix-cache arguments for local models."""
        return {"prefix_cache_dir": self.prefix_cache_path,
                "prefix_cache_bytes": self.prefix_cache_bytes}

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    def with_overrides(self, **values) -> "Settings":
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_sources(cls, flags: Mapping[str, object] | None = None,
                     env: Mapping[str, str] | None = None) -> "Settings":
        """Flags win over LONGHAND_* environment variables, which win over defaults."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"LONGHAND_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw)
        for key, val in (flags or {}).items():
            if val is not None and key in {f.name for f in fields(cls)}:
                values[key] = _coerce(key, val)
        return cls(**values)


def env_secret(variable: str, env: Mapping[str, str] | None = None) -> str | None:
    """The API key a remote model names by its variable (add-model --api-key-env): read at use,
    never stored."""
    value = (os.environ if env is None else env).get(variable)
    return value or None


def is_loopback_host(host: str) -> bool:
    """True when binding to `host` listens on loopback only.

    A literal IP decides by its address (`ipaddress`); `localhost` is loopback; any other name is
    resolved and counts only when every address it resolves to is loopback. A name that does not
    resolve (no DNS, a typo) is not loopback: the caller then asks for a key rather than guess.
    The spelling never decides: `127.0.0.1.nip.io` is a name like any other.
    """
    name = host.strip()
    if name.lower() in LOOPBACK_NAMES:
        return True
    addresses = host_addresses(name)
    return bool(addresses) and all(a.is_loopback for a in addresses)


def host_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
    """The addresses a bind to `host` may listen on; None when the name does not resolve."""
    name = host.strip()
    if not name:
        return None  # "" binds every interface: no one address to name
    literal = _ip_literal(name)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    found = [_ip_literal(str(info[4][0])) for info in infos]
    return [a for a in found if a is not None] if all(found) and found else None


def _ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return None


def apply_privacy_env(environ: MutableMapping[str, str] | None = None) -> None:
    """Write PRIVACY_ENV into the environment; called once by app.py and cli.py at start."""
    environ = os.environ if environ is None else environ
    environ.update(PRIVACY_ENV)


def _coerce(name: str, value: object) -> object:
    if name in {"data_dir", "cache_dir", "offload_folder", "prefix_cache_dir"}:
        return Path(str(value)).expanduser()
    if name in {"port", "max_upload_bytes", "max_archive_bytes", "api_queue_size"}:
        return int(value)  # type: ignore[arg-type]
    if name in {"api_only", "prefix_cache", "store_prompts"}:
        return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
    if name == "prefix_cache_gb":
        return _gigabytes(value)
    if name == "alias":
        return _aliases(value)
    return value


def _aliases(value: object) -> tuple[str, ...]:
    """`a=b` pairs from a list of flags or one comma-separated variable; a bad one is refused."""
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    out = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        alias, sep, target = (p.strip() for p in item.partition("="))
        if not sep or not alias or not target:
            raise ValueError(f"alias {item!r} must be ALIAS=MODEL, e.g. claude-sonnet=my-model")
        out.append(f"{alias}={target}")
    return tuple(out)


def _gigabytes(value: object) -> float:
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        size = -1.0
    if not size >= 0:
        raise ValueError(f"prefix cache size must be a number of gigabytes (0 or more), "
                         f"not {value!r}")
    return size
