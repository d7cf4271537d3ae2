"""Adapter folders on disk, their metadata, export as zip, and `base+adapter` model names.

Layout of one adapter (under `<data_dir>/adapters/<project id>/<name>/`):
    adapter_config.json, adapter_model.safetensors   the checkpoint in use (standard PEFT
                                                     layout: `peft` and vLLM load it as is)
    checkpoints/step-NNNNNN/                         every checkpoint, each loadable the same way
    dataset.jsonl                                    the dataset snapshot it was trained on
    metadata.json                                    base model + hash, dataset hash,
                                                     hyperparameters, metrics, dates
    evaluation.json                                  held-out loss/perplexity + side-by-side text
The registry rows themselves live in the library database (library/adapters_store.py).

Does not know: training or evaluation internals, SQL.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from workbench.adapters.training import ADAPTER_FILES, checkpoint_dir, checkpoints
from workbench.errors import AdapterNotFound, WorkbenchError

ADAPTERS_DIR = "adapters"
SNAPSHOT = "dataset.jsonl"
METADATA = "metadata.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def adapter_path(data_dir: Path, project_id: int, name: str) -> Path:
    return Path(data_dir) / ADAPTERS_DIR / str(project_id) / name


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise WorkbenchError(f"{name!r} is not a usable adapter name: use letters, digits, "
                             "'.', '_' or '-' (up to 64 characters, no '+').")
    return name


def next_name(existing: set[str], prefix: str = "style") -> str:
    n = 1
    while f"{prefix}-{n}" in existing:
        n += 1
    return f"{prefix}-{n}"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False, default=_json_default)
    os.replace(tmp, path)


def read_snapshot(folder: Path) -> tuple[list[str], list[str]]:
    """(train texts, held-out texts) from the adapter's dataset snapshot."""
    train, held = [], []
    for line in (Path(folder) / SNAPSHOT).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        (held if row["split"] == "held_out" else train).append(row["text"])
    return train, held


def install_checkpoint(folder: Path, step: int) -> None:
    """Make checkpoint `step` the adapter's top-level PEFT files (each file replaced atomically)."""
    if step not in checkpoints(folder):
        raise AdapterNotFound(f"no checkpoint at step {step}; there are: "
                              + (", ".join(map(str, checkpoints(folder))) or "none"))
    source = checkpoint_dir(folder, step)
    for name in ADAPTER_FILES:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=folder)
        os.close(fd)
        shutil.copyfile(source / name, tmp)
        os.replace(tmp, Path(folder) / name)


def metadata(info) -> dict:
    """What metadata.json holds: the registry row, minus process details."""
    data = asdict(info)
    for key in ("pid", "path", "run_key"):
        data.pop(key, None)
    return data


def export_zip(info, out_path: Path) -> Path:
    """The adapter in use (PEFT files), its metadata, evaluation and dataset snapshot, zipped."""
    folder = Path(info.path)
    if info.status != "ready" or not all((folder / f).is_file() for f in ADAPTER_FILES):
        raise WorkbenchError(f"adapter {info.name!r} is not ready ({info.status}); "
                             "finish or resume its training first")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}-", dir=out_path.parent)
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in (*ADAPTER_FILES, "evaluation.json", SNAPSHOT):
            if (folder / name).is_file():
                z.write(folder / name, f"{info.name}/{name}")
        z.writestr(f"{info.name}/{METADATA}",
                   json.dumps(metadata(info), indent=1, default=_json_default))
    os.replace(tmp, out_path)
    return out_path


def resolve_model_name(store, model_name: str):
    """`base+adapter` -> (base name, AdapterInfo); a plain name -> (name, None).

    The adapter may be written `project/name` when two projects use the same name."""
    from engine.adapters import split_model_name

    base, adapter = split_model_name(model_name)
    if adapter is None:
        return base, None
    project, _, name = adapter.rpartition("/")
    found = [a for a in store.named(name) if a.status == "ready"
             and (not project or str(a.project_id) == project)]
    if not found:
        raise AdapterNotFound(f"no finished adapter named {name!r} (model {model_name!r})")
    if len(found) > 1:
        raise AdapterNotFound(f"{len(found)} projects have an adapter named {name!r}: write "
                              f"it as {base}+<project id>/{name}")
    return base, found[0]


def base_model_hash(spec, cache_dir: Path) -> str:
    """A hash that changes when the base weights change.

    A single file (the embedded GGUF, any GGUF) is hashed whole (memoized by engine.embedded).
    A folder is hashed by its config and each weight file's size and safetensors header (names,
    shapes, dtypes, offsets): reading hundreds of GB of a V4 checkpoint to hash it is not
    reasonable, and a re-exported checkpoint changes its headers."""
    from engine import embedded

    if spec.kind == "embedded":
        return embedded.file_digest(embedded.embedded_gguf_path(), cache_dir)
    if spec.kind == "gguf":
        return embedded.file_digest(Path(spec.path), cache_dir)
    folder = Path(spec.path)
    h = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for weights in sorted(folder.glob("*.safetensors")):
        h.update(weights.name.encode())
        h.update(str(weights.stat().st_size).encode())
        with open(weights, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            h.update(f.read(min(size, 100 * 1024 * 1024)))
    return h.hexdigest()


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
