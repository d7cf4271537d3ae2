"""`Workbench.compare` and friends: the same job on several models, blind view, votes, board.

Why a mixin: like workbench/synthesis/api.py it adds methods to the facade without the two
files editing each other. Each model runs through `self.synthesize` (the very path the
`synthesize` command takes: same template, same packing, its own job and artifact), one after
another on one machine and at the same time across machines (each remote server is its own);
a model that fails (a remote that is down, a job that does not fit) gives a row with an
`error`, and the others still run. The comparison (figure rows, a blind order drawn once)
is stored through workbench/library/comparisons_store.py. The computed facts are the same for
every model, so they are returned once (`facts`) and left out of the blind answers.
Does not know SQL, argparse or Gradio.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Sequence

from workbench.compare.masking import mask
from workbench.compare.ratings import leaderboard
from workbench.errors import WorkbenchError
from workbench.synthesis.facts import answer_part

VERDICTS = ("tie", "both-bad")


def _labels(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def _row(model: str, art, answer, trust) -> dict:
    ttft = art.extra.get("ttft_s")
    decode = art.seconds - (ttft or 0.0)
    return {
        "model": model, "seconds": round(art.seconds, 3), "ttft_s": ttft,
        "tokens_per_s": round(art.completion_tokens / decode, 3) if decode > 0 else None,
        "prompt_tokens": art.prompt_tokens,
        "cached_tokens": art.extra.get("cached_tokens", 0),
        "completion_tokens": art.completion_tokens, "cost": art.cost,
        "citations": len(answer.citations),
        "citations_verified": len(answer.verified),
        "trust_score": None if trust is None else round(trust.score, 4),
        "strategy": art.strategy, "artifact_id": art.id, "engine": art.extra.get("engine"),
    }


def _error_row(model: str, exc: Exception) -> dict:
    return {"model": model, "error": str(exc) or type(exc).__name__, "seconds": None,
            "ttft_s": None, "tokens_per_s": None, "prompt_tokens": None, "cached_tokens": None,
            "completion_tokens": None, "cost": None, "citations": None,
            "citations_verified": None, "trust_score": None, "strategy": None,
            "artifact_id": None}


class CompareMixin:
    """Comparisons over the facade's library and `synthesize`."""

    def _comparisons(self):
        return self.library.comparisons

    def _machine(self, model: str) -> str:
        """Where a model runs: a remote added with add-model on its server's host, every other
        model -- and a "remote" on a loopback address, which shares this machine's cores, so
        running it beside a local one would skew both timings -- on this machine."""
        import ipaddress
        from urllib.parse import urlsplit

        remote = self.remotes.get(model)
        host = urlsplit(remote.base_url).hostname or "" if remote is not None else ""
        if not host or host == "localhost":
            return "this machine"
        try:
            if ipaddress.ip_address(host).is_loopback:
                return "this machine"
        except ValueError:
            pass  # a host name
        return host

    def compare(self, project: str, task: str = "free", prompt: str = "",
                documents: Sequence[int] = (), *, models: Sequence[str],
                max_new_tokens: int | None = None, progress: Callable | None = None,
                seed: int | None = None, on_model: Callable[[str], None] | None = None,
                parallel: bool = True) -> dict:
        """Run the job on each of `models`; store and return the comparison JSON.

        Models on different machines (this one, each remote server) run at the same time, one
        thread per machine, with one model at a time on each (two local models would only
        share the same cores); `parallel=False` runs all in turn. `on_model(name)` is called,
        in the thread that runs it, as each model starts, so a caller can tell whose
        `progress` events (the job's streamed deltas) follow on that thread."""
        models = list(dict.fromkeys(m.strip() for m in models if m.strip()))
        if len(models) < 2:
            raise WorkbenchError("compare needs at least two different models, e.g. "
                                 "--models smollm2-135m-instruct,my-remote")
        info = self.library.get_project(project)
        groups: dict[str, list[str]] = {}
        for model in models:
            groups.setdefault(self._machine(model) if parallel else "all", []).append(model)
        trust = self.library.trust
        by_model: dict[str, dict] = {}

        def run_group(group: list[str]) -> None:
            for model in group:
                if on_model is not None:
                    on_model(model)
                try:
                    answer = self.synthesize(project, task, prompt, documents, model=model,
                                             max_new_tokens=max_new_tokens, progress=progress)
                except Exception as exc:  # noqa: BLE001 -- one model's failure is its row
                    by_model[model] = _error_row(model, exc)
                    continue
                art = answer.artifact
                by_model[model] = _row(model, art, answer,
                                       trust.latest(info.id, art.backend, art.model))

        try:
            if len(groups) == 1:
                run_group(models)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(len(groups), thread_name_prefix="compare") as pool:
                    for future in [pool.submit(run_group, g) for g in groups.values()]:
                        future.result()
        finally:
            trust.close()
        rows = [by_model[m] for m in models]
        schedule = [group for group in groups.values()]
        ok = [r["model"] for r in rows if not r.get("error")]
        order = random.Random(seed).sample(ok, len(ok))
        request = {"task": task, "prompt": prompt, "documents": [int(d) for d in documents],
                   "max_new_tokens": max_new_tokens, "models": models}
        store = self._comparisons()
        try:
            saved = store.save(info.id, request, rows, order)
        finally:
            store.close()
        return {"comparison_id": saved.id, "project": info.name, "task": task, "rows": rows,
                "schedule": schedule, "facts": self.comparison_facts(saved.id)}

    def comparison_facts(self, comparison_id: int) -> dict | None:
        """The computed facts of the compared job, once: they come from the documents by code,
        so every model's answer carries the same (taken from the first stored answer)."""
        comp = self.comparison(comparison_id)
        first = next((r["artifact_id"] for r in comp.rows if r.get("artifact_id")), None)
        return None if first is None else self.artifact(first).extra.get("facts")

    def comparison(self, comparison_id: int):
        store = self._comparisons()
        try:
            return store.get(comparison_id)
        finally:
            store.close()

    def comparison_json(self, comparison_id: int, with_text: bool = False) -> dict:
        """The comparison as `compare` returned it (plus each model's answer text if asked)."""
        comp = self.comparison(comparison_id)
        rows = [dict(r) for r in comp.rows]
        if with_text:  # each model's own answer; the facts they share come once, below
            for r in rows:
                art = self.artifact(r["artifact_id"]) if r["artifact_id"] else None
                r["text"] = answer_part(art.text, art.extra.get("facts")) if art else ""
        return {"comparison_id": comp.id, "project_id": comp.project_id,
                "task": comp.request.get("task"), "prompt": comp.request.get("prompt"),
                "rows": rows, "facts": self.comparison_facts(comp.id),
                "votes": [{"winner": v.winner, "winner_model": v.winner_model,
                           "note": v.note} for v in comp.votes]}

    def _mask_names(self, comp) -> list[str]:
        from engine.models import RETIRED

        names = []
        for r in comp.rows:
            names.append(r["model"])
            names += [a for a, (target, _) in RETIRED.items() if target == r["model"]]
            remote = self.remotes.get(r["model"])
            if remote is not None:
                names.append(remote.remote_model)
            engine = r.get("engine") or {}
            names += [str(engine[k]) for k in ("model", "name") if engine.get(k)]
        return names

    def compare_blind(self, comparison_id: int) -> dict:
        """The answers as A/B/... in the stored order, with model names masked."""
        comp = self.comparison(comparison_id)
        by_model = {r["model"]: r for r in comp.rows}
        names = self._mask_names(comp)
        arts = [self.artifact(by_model[m]["artifact_id"]) for m in comp.order]
        answers = [{"label": label, "text": mask(answer_part(a.text, a.extra.get("facts")),
                                                 names)}
                   for label, a in zip(_labels(len(comp.order)), arts)]
        return {"comparison_id": comp.id, "task": comp.request.get("task"),
                "prompt": mask(comp.request.get("prompt") or "", names),
                "answers": answers, "votes": len(comp.votes)}

    def vote(self, comparison_id: int, winner: str, note: str = "") -> dict:
        """Record a blind vote (a label, "tie" or "both-bad"); returns it with the names."""
        comp = self.comparison(comparison_id)
        labels = dict(zip(_labels(len(comp.order)), comp.order))
        choice = winner.strip()
        choice = choice.upper() if choice.upper() in labels else choice.lower()
        if choice not in labels and choice not in VERDICTS:
            raise WorkbenchError(f"--winner must be one of {', '.join([*labels, *VERDICTS])} "
                                 f"(got {winner!r})")
        store = self._comparisons()
        try:
            saved = store.add_vote(comp.id, choice, labels.get(choice), note)
        finally:
            store.close()
        return {"comparison_id": comp.id, "vote_id": saved.id, "winner": choice,
                "winner_model": saved.winner_model, "note": saved.note, "revealed": labels}

    def leaderboard(self, project: str) -> dict:
        info = self.library.get_project(project)
        store = self._comparisons()
        try:
            comps = store.for_project(info.id)
        finally:
            store.close()
        return {"project": info.name, "rating": "elo", "votes": sum(len(c.votes) for c in comps),
                "rows": leaderboard(comps)}

    def export_comparison(self, comparison_id: int, fmt: str = "md",
                          out: str | Path | None = None, overwrite: bool = False) -> str:
        """The comparison as md, csv or json text; also written to `out` if given (an
        existing file only with `overwrite`, the library's own files never)."""
        from workbench.compare.export import render

        body = render(self.comparison_json(comparison_id, with_text=True), fmt)
        if out is not None:
            self.library.write_output(Path(out).expanduser(), body.encode("utf-8"), overwrite)
        return body
