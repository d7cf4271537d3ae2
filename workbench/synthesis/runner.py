"""The synthesis runner: one pure function from a request to an answer with verified citations.

`plan()` loads the documents, runs the template's deterministic preparation (draft alignment,
pacing metrics), packs the prompt and counts it against the backend's window. `run_synthesis()`
then runs it whole, or as the map-reduce plan the caller chose, streaming through `progress`
and checking `should_stop` between events and steps. Finished steps go to a step store, so a
job that is resumed reruns only what is missing. Thinking is kept apart from the answer. The
template's computed facts (synthesis/facts/) head the saved text and are kept, structured, in
`extra["facts"]`; the citations are the model's (checked) and the passages matched to each
sentence.

Does not know threads, job rows or the UI (workbench/jobs); talks to the library through its
public methods and to the model through the Backend protocol.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Protocol

from engine.events import (Done, GenerationParams, PrefillProgress, TextDelta, ThinkingDelta,
                           Usage)
from engine.backends.describe import describe
from engine.errors import Cancelled

from workbench.errors import BudgetExceeded, WorkbenchError
from workbench.synthesis import citations as cite
from workbench.synthesis import mapreduce, matching, pacing_metrics, pricing
from workbench.synthesis.alignment import aligned_block
from workbench.synthesis.facts import facts_for, prepend
from workbench.synthesis.budget import Budget, Chunk, count_budget, plan_chunks, refuse
from workbench.synthesis.mapreduce import StepResult
from workbench.synthesis.packing import Packed, Source, pack
from workbench.synthesis.plans import StepPlan
from workbench.synthesis.plans import run as step_plans
from workbench.synthesis.plans.chooser import Choice
from workbench.synthesis.progress_figures import Meter
from workbench.synthesis.templates import Template, get_template

STRATEGIES = ("auto", "whole", "map-reduce")
DEFAULT_MAP_TOKENS = 256
# Prompt markup an answer must never echo: the packer's tags, the tail's labels, chat turns.
STOP_MARKUP = ("<document", "</document", "<aligned-drafts", "<notes", "TASK (", "TASK:",
               "OUTPUT CONTRACT", "FACTS (computed", "QUESTION:", "<|im_start|>", "<|im_end|>")
LOOP_NGRAM = 8  # words in a run a synthesis answer may not repeat
STEP_PENALTY = 1.2  # repetition penalty for short steps (CTRL's recommended value)


@dataclass(frozen=True)
class SynthesisRequest:
    project: str
    task: str = "free"
    prompt: str = ""
    document_ids: tuple[int, ...] = ()  # empty: every document of the project
    strategy: str = "auto"  # "auto" runs whole if it fits and refuses otherwise
    max_new_tokens: int | None = None  # reserved answer; None: the template's default
    map_tokens: int = DEFAULT_MAP_TOKENS
    chunk_tokens: int | None = None  # cap on a map step's prompt; None: the window decides
    temperature: float = 0.0
    thinking: bool = False
    model: str | None = None
    plan: str = "auto"  # "auto" | "steps" | "whole" (plans/chooser.py)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["document_ids"] = list(self.document_ids)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "SynthesisRequest":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["document_ids"] = tuple(values.get("document_ids") or ())
        return cls(**values)


@dataclass(frozen=True)
class Progress:
    phase: str  # planning | prefill | generating | map | reduce | done
    step: int = 0
    steps_total: int = 0
    message: str = ""
    delta: str = ""  # answer text since the last call
    thinking: str = ""  # reasoning text since the last call
    figures: dict | None = None  # progress_figures.Figures.as_dict(): the bar's figures


class StepStore(Protocol):
    def get(self, key: str) -> StepResult | None: ...
    def put(self, key: str, result: StepResult) -> None: ...


class MemorySteps:
    """A step store that forgets when the process ends (for runs that are not jobs)."""

    def __init__(self):
        self.results: dict[str, StepResult] = {}

    def get(self, key: str) -> StepResult | None:
        return self.results.get(key)

    def put(self, key: str, result: StepResult) -> None:
        self.results[key] = result


@dataclass
class Plan:
    request: SynthesisRequest
    template: Template
    sources: list[Source]
    packed: Packed
    budget: Budget
    reserved_output: int
    extra: dict = field(default_factory=dict)
    choice: Choice = Choice("whole", "")
    steps: StepPlan | None = None  # the step plan that runs when the job runs whole

    @property
    def plan_json(self) -> dict:
        """`{"kind": "steps"|"whole", "steps": N, "reason"}`, shown before the job runs."""
        return step_plans.plan_json(self.choice, self.steps)

    @property
    def plan_text(self) -> str:
        return step_plans.describe(self.choice, self.steps)

    @property
    def sections(self) -> dict[int, list]:
        out: dict[int, list] = {}
        for s in self.sources:
            out.setdefault(s.document_id, []).extend(s.sections)
        return out


@dataclass
class SynthesisResult:
    text: str
    thinking: str
    strategy: str
    budget: Budget
    citations: list
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cost: dict
    task: str
    title: str
    model: str
    backend: str
    params: dict
    document_ids: list
    steps: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    cached_tokens: int = 0
    ttft_s: float | None = None

    def as_json(self, artifact_id: int | None = None) -> dict:
        """The `synthesize --json` object of DESIGN.md §4."""
        return {
            "text": self.text, "strategy": self.strategy, "budget": self.budget.as_json(),
            "usage": {"prompt_tokens": self.prompt_tokens, "cached_tokens": self.cached_tokens,
                      "completion_tokens": self.completion_tokens},
            "seconds": round(self.seconds, 3), "ttft_s": self.ttft_s,
            "engine": self.extra.get("engine"), "plan": self.extra.get("plan"),
            "citations": [c.as_json() for c in cite.unique(self.citations)],
            "facts": self.extra.get("facts"),
            "artifact_id": artifact_id,
        }


def load_sources(library, request: SynthesisRequest, template: Template) -> list[Source]:
    project = library.get_project(request.project)
    docs = ([library.document(i) for i in request.document_ids] if request.document_ids
            else library.documents(project.id))
    for d in docs:
        if d.project_id != project.id:
            raise WorkbenchError(f"document {d.id} ({d.title}) is not in project {project.name}")
    if not docs:
        raise WorkbenchError(f"project {project.name} has no documents to work on")
    if template.prepare == "align_drafts" and len(docs) == 1:
        versions = [v.version for v in library.versions(docs[0].id)][-4:]
        return [Source(docs[0].id, docs[0].title, docs[0].kind, v,
                       tuple(library.sections(docs[0].id, v)), label=f"v{v}")
                for v in versions]
    labelled = template.prepare == "align_drafts"
    return [Source(d.id, d.title, d.kind, d.version, tuple(library.sections(d.id)),
                   label=f"draft {k} ({d.title})" if labelled else "")
            for k, d in enumerate(docs, 1)]


def scene_index(sources: list[Source]) -> str:
    """The scenes a job may cite, one line each: a table of contents that small models copy
    anchors from and large ones navigate by."""
    lines = []
    for src in sources:
        scenes = [s for s in sorted(src.sections, key=lambda s: s.ordinal) if s.kind == "scene"]
        if scenes:
            lines.append(f"Scenes of {src.title}:")
            lines += [f"[{s.anchor}] {s.heading or ''}".rstrip() for s in scenes]
    return "\n".join(lines)


def plan(request: SynthesisRequest, backend, library) -> Plan:
    """Everything decided before the model runs: sources, prompt, exact budget."""
    if request.strategy not in STRATEGIES:
        raise WorkbenchError(f"unknown strategy {request.strategy!r}: "
                             f"choose one of {', '.join(STRATEGIES)}")
    template = get_template(request.task)
    if template.needs_question and not request.prompt.strip():
        raise WorkbenchError("a free prompt needs a question (--prompt)")
    sources = load_sources(library, request, template)
    facts, blocks, extra = "", None, {}
    if template.prepare == "align_drafts":
        blocks = [aligned_block(sources)]
    if template.prepare == "scene_index":
        facts = scene_index(sources)
    if template.prepare == "pacing_metrics":
        metrics = pacing_metrics.compute([s for src in sources for s in src.sections])
        facts = metrics.facts()
        extra["pacing"] = {"duration_s": metrics.duration_s, "words": metrics.words,
                           "wpm": metrics.wpm, "gaps": metrics.gaps,
                           "speakers": metrics.speakers}
    packed = pack(sources, template, request.prompt, facts, blocks)
    reserved = request.max_new_tokens or template.max_new_tokens
    budget = count_budget(backend, packed, reserved)
    choice, steps = step_plans.build_plan(template.name, sources, request.prompt, backend,
                                          request.plan, request.max_new_tokens)
    return Plan(request, template, sources, packed, budget, reserved, extra, choice, steps)


def chunk_plan(p: Plan, backend) -> list[Chunk]:
    if p.template.prepare == "align_drafts":
        raise BudgetExceeded("a draft comparison is read whole; choose fewer or shorter drafts")
    build = mapreduce.map_builder(p.template, p.request.prompt, 1)
    return plan_chunks(backend, p.sources, build, p.request.map_tokens,
                       p.request.chunk_tokens)


def _stream_step(backend, messages, params: GenerationParams, progress, should_stop,
                 phase: str, step: int, total: int, label: str, meter: Meter) -> StepResult:
    cancel = threading.Event()
    started = time.perf_counter()
    where = {"map": "map step ", "reduce": "reduce step ", "step": "step "}.get(phase)
    where = f"{where}{step} of {total}: " if where else ""
    reading = f"{where}reading the prompt ({label})"
    shown = meter.start_step(phase, step, total, params.max_new_tokens).as_dict()
    progress(Progress("prefill" if phase == "whole" else phase, step, total, reading,
                      figures=shown))
    text, thinking, usage, first, ttft, guard = [], [], None, True, None, None
    for ev in backend.stream(messages, params, cancel):
        if should_stop():
            cancel.set()
        if isinstance(ev, PrefillProgress):  # the local engine reading the prompt
            shown = meter.reading(ev.done_tokens, ev.total_tokens, ev.cached_tokens).as_dict()
            progress(Progress("prefill" if phase == "whole" else phase, step, total, reading,
                              figures=shown))
            continue
        if isinstance(ev, (TextDelta, ThinkingDelta)):
            shown = meter.wrote().as_dict()
        if ttft is None and isinstance(ev, (TextDelta, ThinkingDelta, Usage)):
            ttft = time.perf_counter() - started  # Usage first: the answer began with its end
        if isinstance(ev, (TextDelta, ThinkingDelta)) and first:
            first = False
            progress(Progress("generating" if phase == "whole" else phase, step, total,
                              f"{where}generating", figures=shown))
        if isinstance(ev, TextDelta):
            text.append(ev.text)
            progress(Progress("generating" if phase == "whole" else phase, step, total,
                              delta=ev.text, figures=shown))
        elif isinstance(ev, ThinkingDelta):
            thinking.append(ev.text)
            progress(Progress("generating" if phase == "whole" else phase, step, total,
                              thinking=ev.text, figures=shown))
        elif isinstance(ev, Usage):
            usage = ev
        elif isinstance(ev, Done):
            guard = ev.guard
            if ev.finish_reason == "cancelled" or cancel.is_set():
                raise Cancelled("the job was cancelled")
            if ev.finish_reason == "error":
                raise WorkbenchError(f"the model failed: {ev.error}")
    meter.finish_step()
    prompt_tokens = usage.prompt_tokens if usage else backend.count_tokens(messages)
    completion = usage.completion_tokens if usage else 0
    return StepResult(label, "".join(text), prompt_tokens, completion,
                      time.perf_counter() - started, "".join(thinking),
                      cached_tokens=getattr(usage, "cached_tokens", 0) if usage else 0,
                      ttft_s=None if ttft is None else round(ttft, 3), guard=guard)


def run_synthesis(request: SynthesisRequest, backend, library, *,
                  progress: Callable[[Progress], None] | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  steps: StepStore | None = None, planned: Plan | None = None
                  ) -> SynthesisResult:
    """Run a synthesis to the end; raises BudgetExceeded before any model call if it does not
    fit and the request did not choose map-reduce, Cancelled if `should_stop` turned true."""
    progress = progress or (lambda p: None)
    should_stop = should_stop or (lambda: False)
    steps = steps if steps is not None else MemorySteps()
    progress(Progress("planning", message="counting tokens"))
    p = planned or plan(request, backend, library)
    strategy = request.strategy
    if strategy in ("auto", "whole"):
        if not p.budget.fits:
            raise refuse(p.budget)
        strategy = "whole"

    meter = Meter()  # rates measured in this run: the bar's percent, tokens/s, time left

    def run_step(key, label, messages, max_new, phase, step, total,
                 penalty: float = 1.0) -> StepResult:
        done = steps.get(key)
        if done is not None:
            name = "step" if phase == "step" else f"{phase} step"
            progress(Progress(phase, step, total, f"{name} {step} of {total}: "
                                                  "already done, reused"))
            return StepResult(done.label, done.text, done.prompt_tokens,
                              done.completion_tokens, done.seconds, done.thinking, reused=True)
        params = GenerationParams(max_new_tokens=max_new, temperature=request.temperature,
                                  thinking=request.thinking and key == "final",
                                  repetition_penalty=penalty, loop_guard=LOOP_NGRAM,
                                  stop_markup=STOP_MARKUP)
        res = _stream_step(backend, messages, params, progress, should_stop, phase, step,
                           total, label, meter)
        if should_stop():
            raise Cancelled("the job was cancelled")
        steps.put(key, res)
        return res

    extra = {**p.extra, "engine": describe(backend)}  # what ran it, for the artifact
    facts = facts_for(p.template.name, p.sources)  # before the model: a bug here loses nothing
    stepped = strategy == "whole" and p.steps is not None
    extra["plan"] = p.plan_json if strategy == "whole" else {
        "kind": "map-reduce", "steps": None, "reason": "map-reduce was chosen"}
    progress(Progress("planning", message=p.plan_text if strategy == "whole"
                      else "plan: map-reduce over anchor-aligned parts"))
    if stepped:
        total = len(p.steps.steps)
        order = {s.key: n for n, s in enumerate(p.steps.steps, 1)}

        def one_step(key, label, messages, max_new, penalty) -> StepResult:
            n = order.get(key.split("#")[0], total)
            return run_step(key, label, messages, max_new, "step", n, total, penalty)

        text, done = step_plans.run(p.steps, one_step, should_stop, STEP_PENALTY)
        if should_stop():
            raise Cancelled("the job was cancelled")
    elif strategy == "whole":
        res = run_step("final", "answer", p.packed.messages, p.reserved_output, "whole", 1, 1)
        text, done = res.text.strip(), [res]
    else:
        chunks = chunk_plan(p, backend)
        extra["map_reduce"] = {"parts": len(chunks), "spans": [c.label for c in chunks],
                               "map_tokens": request.map_tokens,
                               "chunk_tokens": request.chunk_tokens}
        text, done = mapreduce.run(backend, chunks, p.template, request.prompt, p.packed.facts,
                                   budget=p.budget, map_tokens=request.map_tokens,
                                   answer_tokens=p.reserved_output, run_step=run_step,
                                   should_stop=should_stop)
        if should_stop():
            raise Cancelled("the job was cancelled")
    final = done[-1]
    answer = text if stepped else final.text.strip()
    offset = len(text) - len(answer)
    found = matching.with_sentences(answer, cite.check(answer, p.sections))
    found += matching.match(answer, p.sections, library.rank_sections)
    checked = [replace(c, start=c.start + offset, end=c.end + offset) for c in found]
    text, checked, answer_start = prepend(facts, text, checked, at=offset)
    extra["facts"] = {**facts.to_json(), "facts_start": offset, "answer_start": answer_start}
    prompt_tokens = sum(s.prompt_tokens for s in done)
    completion = sum(s.completion_tokens for s in done)
    cached = sum(s.cached_tokens for s in done)
    ttft = next((s.ttft_s for s in done if s.ttft_s is not None), None)  # the first step run
    extra.update(cached_tokens=cached, ttft_s=ttft)  # kept with the artifact
    progress(Progress("done", len(done), len(done), "finished"))
    return SynthesisResult(
        text=text, thinking="" if stepped else final.thinking, strategy=strategy,
        budget=p.budget,
        citations=checked, prompt_tokens=prompt_tokens, completion_tokens=completion,
        seconds=sum(s.seconds for s in done), cost=pricing.cost_dict(prompt_tokens, completion),
        task=p.template.name, title=p.template.title, model=getattr(backend, "model", "?"),
        backend=getattr(backend, "name", "?"),
        params={"max_new_tokens": p.reserved_output, "map_tokens": request.map_tokens,
                "chunk_tokens": request.chunk_tokens,
                "temperature": request.temperature, "thinking": request.thinking,
                "strategy": strategy, "plan": extra["plan"]["kind"]},
        document_ids=sorted({s.document_id for s in p.sources}), steps=done, extra=extra,
        cached_tokens=cached, ttft_s=ttft,
    )
