"""Settings: flags > environment (LONGHAND_*) > defaults, built once and passed down.

Only `Settings.from_sources` reads the environment, and only when app.py or cli.py call it.
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
    # Engine placement (accelerate) and quantization (bitsandbytes); None = library default.
    device_map: str | None = None
    max_memory: str | None = None  # e.g. "cpu=8GiB,0=20GiB"
    offload_folder: Path | None = None
    quantization: str | None = None  # None | "nf4" | "int8" | "fp16-cpu" | "int8-cpu"
    api_queue_size: int = 8

    def __post_init__(self) -> None:
        # Callers (tests, notebooks) may pass plain strings for paths: store Paths, always.
        for name in ("data_dir", "cache_dir", "offload_folder"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(str(value)).expanduser())

    @property
    def db_path(self) -> Path:
        return self.data_dir / "workbench.db"

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
    if name in {"data_dir", "cache_dir", "offload_folder"}:
        return Path(str(value)).expanduser()
    if name in {"port", "max_upload_bytes", "api_queue_size"}:
        return int(value)  # type: ignore[arg-type]
    if name == "api_only":
        return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
    return value
