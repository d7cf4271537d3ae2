"""Job kinds: the name on a job row -> the function that does its work.

Why a registry: the in-process runner (UI, CLI, notebooks) and `worker` processes claim rows
of any kind and must run the same code for each. A kind's package registers its work function
(workbench/synthesis/job_kind.py, workbench/trust/jobs.py, workbench/adapters/job_kind.py);
the runner looks the kind up by the row's `kind`, so adding a kind touches neither the runner
nor the worker. The built-in kinds' modules are imported on the first lookup (no torch).

A work function takes a `JobContext` (the row, the library, a backend per model, the settings,
progress and cancel hooks, the row's saved steps) and returns an `Outcome`. It raises
`Cancelled` when `should_stop()` turns true; finished steps it saved are its checkpoint.

Does not know SQL, threads or what any kind does.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from workbench.errors import WorkbenchError

BUILTIN_KINDS = ("workbench.synthesis.job_kind", "workbench.trust.jobs",
                 "workbench.adapters.job_kind")


@dataclass
class JobContext:
    job: Any  # JobInfo
    library: Any
    store: Any  # JobStore
    backend_for: Callable[[str | None], Any]
    settings: Any  # Settings, or None where a caller has none (then kinds use the library's)
    progress: Callable[[Any], None]  # takes synthesis.runner.Progress
    should_stop: Callable[[], bool]
    steps: Any  # the row's finished steps (jobs/manager.py DbSteps)
    planned: Any = None  # what the submitter already computed, used once in its process


@dataclass(frozen=True)
class Outcome:
    artifact_id: int | None = None
    result: dict | None = None  # kept on the row, shown by job-status
    value: Any = None  # handed to an in-process caller (e.g. a SynthesisResult)


WorkFn = Callable[[JobContext], Outcome]
_KINDS: dict[str, WorkFn] = {}
_loaded = False


def register(kind: str, work: WorkFn) -> WorkFn:
    """Make `kind` runnable; registering a kind again replaces its function."""
    _KINDS[kind] = work
    return work


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for name in BUILTIN_KINDS:
            importlib.import_module(name)
        _loaded = True


def work_for(kind: str) -> WorkFn:
    _load_builtin()
    try:
        return _KINDS[kind]
    except KeyError:
        raise WorkbenchError(f"no job kind {kind!r} is known here (known: "
                             f"{', '.join(sorted(_KINDS))})") from None


def kinds() -> tuple[str, ...]:
    _load_builtin()
    return tuple(sorted(_KINDS))
