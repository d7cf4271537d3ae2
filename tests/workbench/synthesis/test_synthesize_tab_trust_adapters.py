"""The Synthesize tab's handler functions: the latest trust score beside the budget with a
warning for a prompt as long as a badly scored region, and the adapter picker whose
`base+adapter` choice runs the job on the base with that LoRA adapter attached."""
from __future__ import annotations

import pytest

from workbench.config import DEFAULT_MODEL
from workbench.library.trust_store import TrustStore
from workbench.ui.tab_synthesize import adapter_choices, job_model, trust_html

CYBER_BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


def cell(length: int, depth: float, accuracy: float) -> dict:
    return {"length": length, "depth": depth, "accuracy": accuracy,
            "cited_accuracy": accuracy}


def save_check(wb, model: str, cells: list[dict], score: float) -> None:
    store = TrustStore.connect(wb.library.db_path)
    try:
        store.save_run(wb.project("p").id, backend="local", model=model, window=8192,
                       request={}, score=score, cited_score=score, cells=cells,
                       prompt_tokens=0, completion_tokens=0, seconds=1.0, cost={})
    finally:
        store.close()


def test_trust_score_and_warning_follow_the_job_length(wb):
    assert "No trust check" in trust_html(wb, "p", "local", DEFAULT_MODEL, 500)
    save_check(wb, DEFAULT_MODEL, [cell(1000, 0, 1.0), cell(1000, 100, 1.0),
                                   cell(4000, 0, 0.2), cell(4000, 50, 0.4),
                                   cell(4000, 100, 1.0)], score=0.72)
    short = trust_html(wb, "p", "local", DEFAULT_MODEL, 800)
    assert "72% of planted facts found" in short and "lh-syn-trust-warning" not in short
    long = trust_html(wb, "p", "local", DEFAULT_MODEL, 3000)
    assert "72%" in long and "lh-syn-trust-warning" in long
    assert "4,000 tokens" in long and "53%" in long and "0%, 50%" in long
    beyond = trust_html(wb, "p", "local", DEFAULT_MODEL, 9000)
    assert "longer than any" in beyond
    assert "No trust check" in trust_html(wb, "p", "local", "other-model", 800)
    assert trust_html(wb, None, "local", DEFAULT_MODEL, 800) == ""


@pytest.mark.slow
def test_adapter_choice_runs_the_job_with_it_attached(wb, testdocs, backend):
    from engine.adapters import active_adapter
    from engine.models import resolve
    from workbench.adapters import registry
    from workbench.adapters.service import open_store

    assert adapter_choices(wb, "p", DEFAULT_MODEL) == []
    project = wb.project("p")
    folder = registry.adapter_path(wb.settings.data_dir, project.id, "house")
    _save_random_lora(backend.hf_model, folder)
    store = open_store(wb.library)
    info = store.create(project.id, "house", str(folder), base_model=resolve(DEFAULT_MODEL).name,
                        base_hash="test", dataset_hash="test", run_key="test",
                        hyperparameters={}, dataset={}, steps_total=0, pid=None)
    store.create(project.id, "half-done", str(folder) + "-x", base_model=DEFAULT_MODEL,
                 base_hash="t", dataset_hash="t", run_key="t2", hyperparameters={}, dataset={},
                 steps_total=5, pid=None)
    store.finish(info.id, "ready")
    store.close()
    chosen = f"{DEFAULT_MODEL}+house"
    assert adapter_choices(wb, "p", DEFAULT_MODEL) == [(chosen, chosen)]
    assert adapter_choices(wb, "p", "qwen3-0.6b") == []
    assert job_model(DEFAULT_MODEL, chosen) == chosen
    assert job_model(DEFAULT_MODEL, None) == DEFAULT_MODEL

    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    wb.use_backend(backend)
    base = wb.synthesize("p", "coverage", documents=[res.document.id], max_new_tokens=12,
                       plan="whole")
    styled = wb.synthesize("p", "coverage", documents=[res.document.id], max_new_tokens=12,
                           plan="whole",
                           model=job_model(DEFAULT_MODEL, chosen))
    attached = wb.model_backend(chosen)
    assert attached is not backend and active_adapter(attached) == "house"
    assert active_adapter(backend) is None  # the shared base is never changed
    assert styled.artifact.model == chosen
    assert styled.text and styled.text != base.text


def _save_random_lora(hf_model, folder) -> None:
    """A real PEFT LoRA (seeded random weights, so it changes answers); the model is restored."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(7)
    wrapped = get_peft_model(hf_model, LoraConfig(r=4, lora_alpha=16, init_lora_weights=False,
                                                  target_modules=["q_proj", "v_proj"]))
    wrapped.save_pretrained(str(folder))
    wrapped.unload()
