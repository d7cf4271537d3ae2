"""`Workbench.synthesize` and friends: the Python API for synthesis jobs, mixed into the facade.

Why a mixin: the facade (workbench/workbench.py) owns projects and imports; this file owns the
synthesis methods, so the two grow without editing each other. It relies only on the facade's
`settings` and `library`. Backends are created on first use per model name and kept; a
`base+adapter` name gets its own copy of the base with that finished LoRA adapter attached
(a copy, so the app's shared base -- also serving the HTTP API -- never changes under a job).

Does not know Gradio or argparse.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence


class SynthesisMixin:
    """Synthesis, jobs and artifacts over the facade's library."""

    def model_backend(self, model: str | None = None):
        """The backend for `model` (default: settings.model), loaded once and kept."""
        name = model or self.settings.model
        lock = self.__dict__.setdefault("_synthesis_lock", threading.Lock())
        with lock:
            cache = self.__dict__.setdefault("_backends", {})
            if name not in cache:
                cache[name] = self._load_backend(name)
            return cache[name]

    def _load_backend(self, name: str):
        """A backend for `name`; for `base+adapter`, the base with that adapter attached."""
        from pathlib import Path

        from engine.adapters import attach_adapter, split_model_name
        from engine.backends.factory import make_backend
        from workbench.context import load_options

        base, adapter = split_model_name(name)
        if adapter is None:
            return self.make_model_backend(name)
        from workbench.adapters.registry import resolve_model_name
        from workbench.adapters.service import open_store

        store = open_store(self.library)
        try:
            _, info = resolve_model_name(store, name)
        finally:
            store.close()
        backend = make_backend(base, cache_dir=self.settings.cache_dir,
                               options=load_options(self.settings),
                               **self.settings.prefix_cache_options())
        attach_adapter(backend, Path(info.path), info.name)
        return backend

    def make_model_backend(self, name: str):
        """A new backend for `name`: an added remote model (`add-model`), else a local model
        loaded with the settings' placement (--device-map, --max-memory, ...)."""
        from engine.backends.factory import make_backend
        from workbench.context import load_options

        if self.remotes.get(name) is not None:
            return self.remotes.backend(name)
        return make_backend(name, cache_dir=self.settings.cache_dir,
                            options=load_options(self.settings),
                            **self.settings.prefix_cache_options())

    def use_backend(self, backend, model: str | None = None) -> None:
        """Hand over an already loaded backend (e.g. the app's) instead of loading another."""
        self.__dict__.setdefault("_backends", {})[model or self.settings.model] = backend

    @property
    def jobs(self):
        """The JobManager for this data dir (job rows live in the library's database)."""
        lock = self.__dict__.setdefault("_synthesis_lock", threading.Lock())
        with lock:
            if "_jobs" not in self.__dict__:
                from workbench.jobs.manager import JobManager

                self.__dict__["_jobs"] = JobManager(self.library, self.library.jobs,
                                                    self.model_backend, self.settings)
            return self.__dict__["_jobs"]

    def synthesis_request(self, project: str, task: str = "free", prompt: str = "",
                          documents: Sequence[int] = (), *, model: str | None = None,
                          max_new_tokens: int | None = None, strategy: str = "auto",
                          thinking: bool = False, map_tokens: int | None = None,
                          chunk_tokens: int | None = None, plan: str = "auto"):
        from workbench.synthesis.runner import DEFAULT_MAP_TOKENS, SynthesisRequest

        return SynthesisRequest(project=project, task=task, prompt=prompt or "",
                                document_ids=tuple(int(d) for d in documents),
                                strategy=strategy, max_new_tokens=max_new_tokens,
                                map_tokens=map_tokens or DEFAULT_MAP_TOKENS,
                                chunk_tokens=chunk_tokens, thinking=thinking, model=model,
                                plan=plan)

    def plan_synthesis(self, project: str, task: str = "free", prompt: str = "",
                       documents: Sequence[int] = (), **options):
        """The budget and prompt a synthesis would use, without running it."""
        from workbench.synthesis.runner import plan

        request = self.synthesis_request(project, task, prompt, documents, **options)
        return plan(request, self.model_backend(request.model), self.library)

    def map_reduce_parts(self, planned):
        """The parts (budget.Chunk) a map-reduce of `planned` (from plan_synthesis) reads,
        without running it; BudgetExceeded when it cannot run that way."""
        from workbench.synthesis.runner import chunk_plan

        return chunk_plan(planned, self.model_backend(planned.request.model))

    def synthesize(self, project: str, task: str = "free", prompt: str = "",
                   documents: Sequence[int] = (), *, background: bool = False,
                   detach: bool = False, progress: Callable | None = None, **options):
        """Run a synthesis as a job; returns the finished job's `Answer`, or with
        `background=True` the JobInfo at once (follow it with `job_status` / `jobs.follow`),
        or with `detach=True` the JobInfo of a job queued for `worker` processes.

        Raises BudgetExceeded (with `.budget`) when the documents do not fit and
        `strategy="map-reduce"` was not chosen."""
        request = self.synthesis_request(project, task, prompt, documents, **options)
        job = self.jobs.submit(request, background=background, listener=progress,
                               detach=detach)
        return job if background or detach else self.answer(job.id)

    def answer(self, job_id: int):
        """The finished job's text, citations (objects) and artifact."""
        from workbench.errors import WorkbenchError
        from workbench.synthesis.citations import Citation

        job = self.jobs.store.job(job_id)
        if job.status != "done" or job.artifact_id is None:
            raise WorkbenchError(f"job {job_id} is {job.status}"
                                 + (f": {job.error}" if job.error else ""))
        art = self.jobs.store.artifact(job.artifact_id)
        cites = [Citation.from_record(c) for c in art.citations]
        return Answer(art.text, cites, art, job)

    def job_status(self, job_id: int):
        """The job's row; a job whose process died is reported (and kept) as interrupted."""
        job = self.jobs.store.job(job_id)
        if job.status in ("queued", "running") and self.jobs.is_orphan(job):
            self.jobs.store.mark_interrupted([job_id])
            job = self.jobs.store.job(job_id)
        return job

    def cancel_job(self, job_id: int):
        return self.jobs.cancel(job_id)

    def resume_job(self, job_id: int, *, background: bool = False,
                   progress: Callable | None = None):
        """Finish a job whose process died; its finished steps are reused, not redone."""
        job = self.jobs.resume(job_id, background=background, listener=progress)
        return job if background else self.answer(job_id)

    def artifacts(self, project: str):
        return self.jobs.store.artifacts(self.library.get_project(project).id)

    def artifact(self, artifact_id: int):
        return self.jobs.store.artifact(artifact_id)

    def export_artifact(self, artifact_id: int, fmt: str = "md", out: str | Path | None = None,
                        overwrite: bool = False) -> str:
        """The artifact as md, csv, srt or edl text; also written to `out` if given (an existing
        file only with `overwrite`, the library's own files never)."""
        from workbench.jobs.exports import export

        body = export(self.artifact(artifact_id), fmt)
        if out is not None:
            self.library.write_output(Path(out).expanduser(), body.encode("utf-8"), overwrite)
        return body


class Answer:
    """A finished synthesis: `text` (the computed facts, then the model's answer), `citations`
    (Citation objects), `facts` (tables and chart data), the stored `artifact`."""

    def __init__(self, text, citations, artifact, job):
        self.text, self.citations, self.artifact, self.job = text, citations, artifact, job

    @property
    def facts(self):
        """The computed facts (workbench.synthesis.facts.Facts), or None for an old artifact."""
        from workbench.synthesis.facts import Facts

        return Facts.from_json(self.artifact.extra.get("facts"))

    @property
    def verified(self) -> list:
        return [c for c in self.citations if c.verified]

    @property
    def unverified(self) -> list:
        return [c for c in self.citations if not c.verified]

    def __repr__(self) -> str:
        return (f"Answer({len(self.text)} chars, {len(self.verified)} verified and "
                f"{len(self.unverified)} unverified citations, artifact {self.artifact.id})")
