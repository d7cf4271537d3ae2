"""Train, evaluate, list, pick checkpoints of and export adapters: what the CLI and UI call.

Why one module: every front end runs the same steps in the same order. The dataset is built
and validated first, so a refused dataset writes nothing (no row, no folder). Then a registry
row and folder are created, or, when the same request (base + dataset + hyperparameters =
`run_key`) has an unfinished run whose process is gone, that run is resumed from its newest
checkpoint. The base model is loaded for training on its own (4-bit QLoRA when CUDA is
present), trained (training.py), evaluated (evaluation.py) and registered.

Does not know: SQL (library/adapters_store.py), argparse or Gradio.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.adapters import registry
from workbench.adapters.dataset import DatasetSettings, build_dataset
from workbench.adapters.training import StepReport, TrainSettings, checkpoints
from workbench.errors import TrainingBusy

EVAL_PROMPTS = 2
EVAL_NEW_TOKENS = 40


@dataclass(frozen=True)
class TrainRequest:
    project: str
    doc_ids: tuple[int, ...] | None = None
    section_ids: tuple[int, ...] | None = None
    name: str | None = None
    train: TrainSettings = TrainSettings()
    data: DatasetSettings = DatasetSettings()
    eval_prompts: int = EVAL_PROMPTS
    eval_new_tokens: int = EVAL_NEW_TOKENS


def open_store(library):
    """The library's own adapter store (its engine, migrated once when the library opened)."""
    return library.adapters


def token_counter(model: str, cache_dir: Path):
    """Counts with the tokenizer of the model being trained (not always the embedded one)."""
    from engine import embedded
    from engine.models import resolve
    from engine.tokens import TokenCounter

    spec = resolve(model)
    if spec.kind in ("embedded", "gguf"):
        gguf = spec.path if spec.kind == "gguf" else None
        return TokenCounter.from_folder(embedded.ensure_converted(cache_dir, gguf))
    return TokenCounter.from_folder(spec.path)


def preview(library, settings, request: TrainRequest) -> dict:
    """The dataset the request would train on, with every issue, without writing anything."""
    counter = token_counter(settings.model, settings.cache_dir)
    ds = build_dataset(library, request.project, counter.count, doc_ids=request.doc_ids,
                       section_ids=request.section_ids, settings=request.data, check=False)
    return {**ds.summary(), "errors": ds.errors, "examples": ds.preview()}


def train_adapter(library, settings, request: TrainRequest, *,
                  progress: Callable[[StepReport], None] | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  on_start: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) an adapter; returns the CLI's JSON shape plus details."""
    from engine.models import resolve

    project = library.get_project(request.project)
    counter = token_counter(settings.model, settings.cache_dir)
    ds = build_dataset(library, project.id, counter.count, doc_ids=request.doc_ids,
                       section_ids=request.section_ids, settings=request.data)
    spec = resolve(settings.model)
    base_hash = registry.base_model_hash(spec, settings.cache_dir)
    hyper = {k: v for k, v in request.train.to_dict().items() if k != "threads"}
    run_key = hashlib.sha256(json.dumps(
        [spec.name, base_hash, ds.snapshot_hash, hyper], sort_keys=True).encode()).hexdigest()
    store = open_store(library)
    try:
        info = _claim_or_create(store, settings, project, request, ds, spec.name, base_hash,
                                run_key, hyper)
        if on_start is not None:
            on_start({"adapter": info.name, "path": info.path, "resumed": info.step > 0})
        try:
            return _run(store, info, settings, request, ds, progress, should_stop)
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.finish(info.id, status, error=str(exc) or type(exc).__name__)
            raise
    finally:
        store.close()


def _claim_or_create(store, settings, project, request, ds, base_name, base_hash, run_key,
                     hyper):
    old = store.unfinished(project.id, run_key)
    if old is not None and (request.name is None or request.name == old.name):
        if old.status == "training" and old.pid not in (None, os.getpid()) \
                and _alive(old.pid):
            raise TrainingBusy(f"adapter {old.name!r} is being trained by process {old.pid}; "
                               "cancel it or wait for it to finish")
        return store.claim(old.id, os.getpid())
    name = registry.check_name(request.name) if request.name \
        else registry.next_name(store.names(project.id))
    folder = registry.adapter_path(settings.data_dir, project.id, name)
    info = store.create(project.id, name, str(folder), base_model=base_name,
                        base_hash=base_hash, dataset_hash=ds.snapshot_hash, run_key=run_key,
                        hyperparameters=hyper, dataset=ds.summary(),
                        steps_total=request.train.steps, pid=os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / registry.SNAPSHOT).write_text(ds.to_jsonl(), encoding="utf-8")
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_for_training(settings):
    """The base model and tokenizer: 4-bit (QLoRA) with CUDA, fp32 on CPU; transformers' own
    modules (the engine's fused V4 kernels are inference-only)."""
    import torch

    from engine.loading import load
    from engine.placement.options import LoadOptions

    cuda = torch.cuda.is_available()
    options = LoadOptions(quantization="nf4" if cuda else None,
                          dtype="bfloat16" if cuda else "float32", kernels=False)
    loaded = load(settings.model, settings.cache_dir, options)
    return loaded.model, loaded.tokenizer


def _run(store, info, settings, request: TrainRequest, ds, progress, should_stop) -> dict:
    from workbench.adapters.evaluation import EVALUATION_FILE, evaluate, prompts_from
    from workbench.adapters.targets import targets_for
    from workbench.adapters.training import make_lora_model, train

    folder = Path(info.path)
    model, tokenizer = load_for_training(settings)
    target = targets_for(model)
    peft_model = make_lora_model(model, request.train, target)

    def report(r: StepReport) -> None:
        store.progress(info.id, r.step)
        if progress is not None:
            progress(r)

    result = train(peft_model, tokenizer, [e.text for e in ds.train], request.train, folder,
                   max_tokens=ds.settings.max_tokens, progress=report, should_stop=should_stop,
                   meta={"dataset_hash": ds.snapshot_hash, "base_hash": info.base_hash})
    metrics = {"losses": result.losses, "train_seconds": result.seconds,
               "targets": target.note, "checkpoints": result.checkpoints,
               "resumed_from": result.resumed_from}
    if result.stopped:
        store.finish(info.id, "cancelled", metrics=metrics)
        return {"adapter": info.name, "path": info.path, "steps": result.step,
                "status": "cancelled", "eval": None, **metrics}
    held = [e.text for e in ds.held_out]
    ev = evaluate(peft_model, tokenizer, held, max_tokens=ds.settings.max_tokens,
                  prompts=prompts_from(held, tokenizer, request.eval_prompts),
                  max_new_tokens=request.eval_new_tokens, checkpoint=result.step)
    registry.install_checkpoint(folder, result.step)
    registry.write_json(folder / EVALUATION_FILE, ev.to_dict())
    metrics.update(_eval_metrics(ev))
    done = store.finish(info.id, "ready", metrics=metrics, checkpoint=result.step)
    registry.write_json(folder / registry.METADATA, registry.metadata(done))
    return {"adapter": info.name, "path": info.path, "steps": result.step, "status": "ready",
            "eval": _eval_metrics(ev), "samples": ev.samples, **metrics}


def _eval_metrics(ev) -> dict:
    return {"loss_before": ev.loss_before, "loss_after": ev.loss_after,
            "perplexity_before": ev.perplexity_before, "perplexity_after": ev.perplexity_after,
            "held_out_tokens": ev.held_out_tokens}


def list_adapters(library, project: str) -> list:
    store = open_store(library)
    try:
        return store.list(library.get_project(project).id)
    finally:
        store.close()


def get_adapter(library, project: str, name: str):
    store = open_store(library)
    try:
        return store.by_name(library.get_project(project).id, name)
    finally:
        store.close()


def evaluate_adapter(library, settings, project: str, name: str,
                     checkpoint: int | None = None, prompts: int = EVAL_PROMPTS,
                     new_tokens: int = EVAL_NEW_TOKENS) -> dict:
    """Re-run the evaluation of an adapter (or one of its checkpoints) on its held-out split."""
    from engine.adapters import attach_adapter
    from workbench.adapters.evaluation import EVALUATION_FILE, evaluate, prompts_from
    from workbench.adapters.training import checkpoint_dir

    info = get_adapter(library, project, name)
    folder = Path(info.path)
    source = folder if checkpoint is None else checkpoint_dir(folder, checkpoint)
    if checkpoint is not None and checkpoint not in checkpoints(folder):
        registry.install_checkpoint(folder, checkpoint)  # raises with the list of checkpoints
    _, held = registry.read_snapshot(folder)
    model, tokenizer = load_for_training(settings)
    peft_model = attach_adapter(model, source, name)
    ev = evaluate(peft_model, tokenizer, held, max_tokens=info.dataset["max_tokens"],
                  prompts=prompts_from(held, tokenizer, prompts), max_new_tokens=new_tokens,
                  checkpoint=checkpoint if checkpoint is not None else info.checkpoint)
    if checkpoint is None:
        registry.write_json(folder / EVALUATION_FILE, ev.to_dict())
    else:
        registry.write_json(checkpoint_dir(folder, checkpoint) / EVALUATION_FILE, ev.to_dict())
    return {"adapter": name, "checkpoint": ev.checkpoint, "eval": _eval_metrics(ev),
            "samples": ev.samples}


def use_checkpoint(library, project: str, name: str, step: int):
    """Make checkpoint `step` the adapter's files in use (any checkpoint, not only the last)."""
    info = get_adapter(library, project, name)
    registry.install_checkpoint(Path(info.path), step)
    store = open_store(library)
    try:
        done = store.set_checkpoint(info.id, step)
    finally:
        store.close()
    registry.write_json(Path(info.path) / registry.METADATA, registry.metadata(done))
    return done


def export_adapter(library, project: str, name: str, out: Path,
                   overwrite: bool = False) -> Path:
    """The adapter as a zip at `out`: never over the library's own files, over an existing
    file only with `overwrite`."""
    target = library.files.check_target(out, overwrite)
    return registry.export_zip(get_adapter(library, project, name), target)


def targets_note(model: str, cache_dir: Path) -> str:
    """What LoRA will train on `model`, read from its config.json (no weights loaded)."""
    from engine import embedded
    from engine.models import resolve
    from workbench.adapters.targets import choose_targets

    spec = resolve(model)
    if spec.kind in ("embedded", "gguf"):
        folder = embedded.ensure_converted(cache_dir, spec.path if spec.kind == "gguf" else None)
    else:
        folder = Path(spec.path)
    model_type = json.loads((folder / "config.json").read_text()).get("model_type", "")
    try:
        return choose_targets(model_type).note
    except ValueError as exc:
        return str(exc)
