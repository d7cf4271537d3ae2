"""Remote models as first-class models: add, list and remove them by name, and turn a name into
the backend that reaches its server.

Why: a model on vLLM, SGLang, DeepSeek's API or another Longhand is used exactly like a local
one -- `--model NAME` in the CLI and app.py, the Engine tab, every model dropdown, the HTTP API's
/v1/models -- so its server, protocol, tokenizer and key variable are stored once in the library
(workbench/library/remotes_store.py) and read by everyone. Adding checks everything that can be
checked without the server (name, URL, protocol, the tokenizer loads); keys are never stored,
only the name of the variable that holds one, read when the backend is made. Backends are kept
per stored row, so a model changed or removed from another process is never served stale.

Does not know: SQL (the store), how a server is spoken to (engine/backends), argparse or Gradio.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

from workbench.config import Settings, env_secret
from workbench.errors import WorkbenchError
from workbench.library.remotes_store import RemoteModelInfo, RemoteModelStore

PROTOCOLS = ("openai", "anthropic")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class RemoteModels:
    """The library's remote models and their backends (made on first use, kept per row)."""

    def __init__(self, settings: Settings, store: RemoteModelStore):
        """`store` is the library's (`library.remotes`)."""
        self.settings = settings
        self.store = store
        self._backends: dict[RemoteModelInfo, object] = {}
        self._lock = threading.Lock()

    def list(self) -> list[RemoteModelInfo]:
        return self.store.list()

    def names(self) -> list[str]:
        return [m.name for m in self.store.list()]

    def get(self, name: str | None) -> RemoteModelInfo | None:
        return self.store.get(name) if name and name.strip() else None

    def add(self, name: str, *, url: str, protocol: str = "openai",
            remote_model: str | None = None, tokenizer: str | None = None,
            api_key_env: str | None = None,
            context_window: int | None = None) -> RemoteModelInfo:
        info = self.checked(name, url=url, protocol=protocol, remote_model=remote_model,
                            tokenizer=tokenizer, api_key_env=api_key_env,
                            context_window=context_window)
        return self.store.add(info)

    def remove(self, name: str) -> RemoteModelInfo:
        info = self.store.remove(name)
        with self._lock:
            for key in [k for k in self._backends if k.name == info.name]:
                del self._backends[key]
        return info

    def checked(self, name: str, *, url: str, protocol: str, remote_model: str | None,
                tokenizer: str | None, api_key_env: str | None,
                context_window: int | None) -> RemoteModelInfo:
        """The row to store, or a WorkbenchError saying what to change."""
        from engine.backends.remote_tokens import check_tokenizer
        from engine.backends.server_info import check_remote_args
        from engine.errors import EngineError
        from engine.models import EMBEDDED_NAME, RETIRED

        name = (name or "").strip()
        if not NAME.match(name):
            raise WorkbenchError(
                f"model name {name!r} must be 1-100 letters, digits or . _ : / @ - (no spaces; "
                "'+' is kept for base+adapter names)")
        if name.lower() == EMBEDDED_NAME or name.lower() in RETIRED:
            raise WorkbenchError(f"{name!r} already names a model Longhand knows; choose "
                                 "another name")
        protocol = (protocol or "").strip().lower()
        if protocol not in PROTOCOLS:
            raise WorkbenchError(f"protocol must be openai or anthropic, not {protocol!r}")
        remote = (remote_model or name).strip()
        if api_key_env is not None and not VARIABLE.match(api_key_env.strip()):
            raise WorkbenchError(
                f"--api-key-env takes the name of an environment variable (such as "
                f"DEEPSEEK_API_KEY), not {api_key_env!r}; the key itself is never stored")
        try:
            base_url = check_remote_args(remote, (url or "").strip(), context_window)
            if tokenizer:
                tokenizer = tokenizer.strip()
                path = Path(tokenizer).expanduser()
                tokenizer = str(path.resolve()) if path.exists() else tokenizer
                check_tokenizer(tokenizer, self.settings.cache_dir)
        except EngineError as exc:
            raise WorkbenchError(str(exc)) from exc
        return RemoteModelInfo(name, base_url, protocol, remote, tokenizer or None,
                               api_key_env.strip() if api_key_env else None, context_window)

    def backend(self, name: str, *, probe: bool = True):
        """The backend for a stored remote model; WorkbenchError when there is none by `name`."""
        info = self.get(name)
        if info is None:
            raise WorkbenchError(f"no added model named {name!r}")
        with self._lock:
            backend = self._backends.get(info)
            if backend is None:
                backend = self._backends[info] = make_remote_backend(self.settings, info,
                                                                     probe=probe)
            return backend

    def close(self) -> None:
        self.store.close()


def make_remote_backend(settings: Settings, info: RemoteModelInfo, *, probe: bool = True):
    """Reach the row's server with the key its variable holds now (None: no key sent)."""
    from engine.backends.factory import make_backend

    api_key = env_secret(info.api_key_env) if info.api_key_env else None
    if info.api_key_env and api_key is None:
        raise WorkbenchError(f"{info.name} reads its API key from the environment variable "
                             f"{info.api_key_env}, which is not set in this shell")
    return make_backend(info.remote_model, cache_dir=settings.cache_dir, base_url=info.base_url,
                        api_key=api_key, protocol=info.protocol,
                        context_window=info.context_window, probe=probe, name=info.name,
                        tokenizer=info.tokenizer)
