"""Which model names this server answers to, and the backend behind them.

Owns the mapping from a request's `model` field to the served backend: the configured model's
name and its registry aliases (case-insensitive; a retired alias such as `deepseek-reasoner`
also fixes thinking mode, as engine.models says), plus `base+adapter` for every finished LoRA
adapter trained on that model (from the library's adapter registry, when one is given;
`base+<project id>/adapter` where two projects share a name), plus every remote model added
to the library (`add-model NAME`, workbench/remote_models.py: read at each request, so one added
from the CLI while the app runs is served at once). Anything else is a
404 listing what is served. Before any of that, `claude*` names and `--alias` names become
their target (aliases.py), once, here, for both protocols and count_tokens; responses keep the
name the client sent. A name never reaches the file system from an HTTP request: an
adapter's folder comes from its registry row.
Does not load models itself: `backend_provider()` does (lazily, once; thread-safe by contract).
"""
from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable

from engine import models
from engine.backends.protocol import Backend
from engine.adapters import split_model_name
from engine.errors import EngineError
from workbench.config import Settings
from workbench.errors import AdapterNotFound

from .adapter_switch import AdapterSwitch
from .aliases import Aliases
from .errors import ApiError, unknown_model

BackendProvider = Callable[[], Backend]


@dataclass(frozen=True)
class Resolved:
    backend: Backend
    name: str  # the name echoed back in responses: what the client asked for
    thinking: bool | None  # forced by a retired alias; None: the request decides


@dataclass(frozen=True)
class Checked:
    name: str
    thinking: bool | None
    adapter: object | None  # the registry's AdapterInfo for `base+adapter`, else None
    remote: bool = False  # an added remote model other than the served one
    target: str = ""  # the name served, after aliases (`name` is what the client sent)


def _canonical(name: str) -> tuple[str, bool | None]:
    key = name.strip().lower()
    if key in models.KNOWN:
        return models.KNOWN[key].name, None
    if key in models.RETIRED:
        target, thinking = models.RETIRED[key]
        return target, thinking
    return name.strip(), None


class Catalog:
    def __init__(self, settings: Settings, backend_provider: BackendProvider,
                 adapter_store=None, remotes=None):
        """`adapter_store`: a library.adapters_store.AdapterStore (None: no adapters served);
        `remotes`: workbench.remote_models.RemoteModels (None: no added models served)."""
        self._settings = settings
        self._provider = backend_provider
        self._store = adapter_store
        self._remotes = remotes
        self._lock = threading.Lock()
        self._switch = AdapterSwitch()
        self.aliases = Aliases(settings.alias, settings.model)
        self._started = int(time.time())

    def _adapters(self) -> list:
        """Finished adapters trained on the served model."""
        if self._store is None:
            return []
        served, _ = _canonical(self._settings.model)
        return [a for a in self._store.ready() if _canonical(a.base_model)[0] == served]

    def model_ids(self) -> list[str]:
        adapters = self._adapters()
        names = [a.name for a in adapters]
        base = self._settings.model
        return [base] + [f"{base}+{a.project_id}/{a.name}" if names.count(a.name) > 1
                         else f"{base}+{a.name}" for a in adapters] + self._remote_names()

    def _remote_names(self) -> list[str]:
        if self._remotes is None:
            return []
        served = self._settings.model.strip().lower()
        return [n for n in self._remotes.names() if n.lower() != served]

    def _remote(self, name: str):
        """The added remote model called `name`, unless it is the served model itself."""
        if self._remotes is None or name.strip().lower() == self._settings.model.lower():
            return None
        return self._remotes.get(name)

    def context_window(self, model_id: str | None = None) -> int | None:
        """A served model's window from the registry, its config or its stored row, without
        loading it (None: only its server knows)."""
        remote = self._remote(model_id) if model_id else None
        if remote is not None:
            return remote.context_window
        stored = self._remotes.get(self._settings.model) if self._remotes else None
        if stored is not None:
            return stored.context_window
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", models.RetiredModelName)
                return models.resolve(self._settings.model).context_window
        except EngineError:
            return None

    def backend(self) -> Backend:
        """The served backend; the first call loads the model (call it off the event loop)."""
        with self._lock:
            return self._provider()

    def created(self, model_id: str) -> int:
        """When a listed model came to be (Unix seconds): a remote's or adapter's registry row,
        the served model's weights (file or folder), else when this server started."""
        remote = self._remote(model_id)
        if remote is not None and remote.created_at is not None:
            return int(remote.created_at.timestamp())
        if "+" in model_id:
            adapter = next((a for a in self._adapters()
                            if model_id.endswith(("+" + a.name, f"/{a.name}"))), None)
            if adapter is not None:
                return int(adapter.created_at.timestamp())
        path = self._weights_path()
        return int(path.stat().st_mtime) if path is not None else self._started

    def _weights_path(self):
        from engine.embedded import embedded_gguf_path

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", models.RetiredModelName)
                spec = models.resolve(self._settings.model)
            path = embedded_gguf_path() if spec.kind == "embedded" else spec.path
        except EngineError:
            return None
        return path if path is not None and path.exists() else None

    def lookup(self, name: str) -> Checked:
        """The served name, forced thinking and adapter; ApiError 404 otherwise. No loading."""
        target = self.aliases.target(name)
        try:
            checked = self._lookup(target)
        except ApiError as exc:
            if target == name:
                raise
            raise ApiError(404, "not_found", f"model {name.strip()!r} is an alias (--alias) "
                           f"of {target!r}, which is not served here; available: "
                           f"{', '.join(self.model_ids())}", param="model") from exc
        return replace(checked, name=name.strip(), target=checked.name)

    def _lookup(self, name: str) -> Checked:
        from workbench.adapters.registry import resolve_model_name

        if self._remote(name) is not None:
            return Checked(name.strip(), None, None, remote=True)
        served, _ = _canonical(self._settings.model)
        base, adapter_name = split_model_name(name)
        wanted, thinking = _canonical(base if adapter_name else name)
        if wanted != served or (adapter_name and self._store is None):
            raise unknown_model(name, self.model_ids())
        adapter = None
        if adapter_name:
            try:
                _, adapter = resolve_model_name(self._store, name.strip())
            except AdapterNotFound as exc:
                raise unknown_model(name, self.model_ids()) from exc
            if _canonical(adapter.base_model)[0] != served:
                raise unknown_model(name, self.model_ids())
        return Checked(name, thinking, adapter)

    def check(self, name: str) -> tuple[str, bool | None]:
        """(name, forced thinking) for a served name; ApiError 404 otherwise. No loading."""
        checked = self.lookup(name)
        return checked.name, checked.thinking

    def resolve(self, name: str) -> Resolved:
        """The backend for `name`: with its adapter attached while it generates, or bare."""
        checked = self.lookup(name)
        if checked.remote:
            return Resolved(self._remotes.backend(checked.target), checked.name, None)
        backend = self.backend()
        if checked.adapter is not None and not hasattr(backend, "swap_model"):
            raise unknown_model(name, [self._settings.model])  # adapters need a local model
        view = self._switch.view(backend, checked.adapter, checked.target)
        return Resolved(view, checked.name, checked.thinking)
