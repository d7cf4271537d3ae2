"""Run a trust check and keep its result: the one call the CLI, the Trust tab and the job runner
share, so a check run from any of them lands in the same table the same way.

Does not know how the grid runs (runner.py) or SQL (workbench/library/trust_store.py).
"""
from __future__ import annotations

from typing import Callable

from workbench.library.trust_store import TrustRunInfo
from workbench.trust.runner import TrustProgress, TrustRequest, TrustResult, run_trust


def stored_cells(result: TrustResult) -> list[dict]:
    """Cells as stored: the `--json` fields plus every answer and its per-needle scores."""
    return [dict(c.as_json(), answers=list(c.answers)) for c in result.cells]


def record(library, result: TrustResult, job_id: int | None = None) -> TrustRunInfo:
    """Save a finished check under its project, backend and model."""
    project_id = library.get_project(result.request.project).id
    store = library.trust
    try:
        return store.save_run(
            project_id, backend=result.backend, model=result.model, window=result.window,
            request=result.request.to_dict(), score=result.score,
            cited_score=result.cited_score, cells=stored_cells(result),
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            seconds=result.seconds, cost=result.cost, notes=result.notes, job_id=job_id)
    finally:
        store.close()


def run_check(library, backend, request: TrustRequest, *,
              progress: Callable[[TrustProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None, steps=None,
              job_id: int | None = None) -> tuple[TrustResult, TrustRunInfo]:
    """Run the grid and store it; nothing is stored if it is cancelled or fails."""
    result = run_trust(request, backend, library, progress=progress,
                       should_stop=should_stop, steps=steps)
    return result, record(library, result, job_id)
