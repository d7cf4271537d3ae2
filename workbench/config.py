"""Settings: flags > environment (LONGHAND_*) > defaults, built once and passed down.

Only `Settings.from_sources` reads the environment, and only when app.py or cli.py call it;
`env_secret` reads the one variable a remote model names for its API key, when it is used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping, MutableMapping

DEFAULT_MODEL = "smollm2-135m-instruct"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
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
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

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
