"""`accelerate launch ... -m workbench.adapters.distributed train_settings.json`: the multi-GPU
version of training.py's loop, for the folder written by scaleout.py.

Same targets, data order, learning-rate schedule and hyperparameters as the local loop; the
model is sharded by accelerate's FSDP plugin instead of sitting on one device. Every rank reads
its slice of each batch; the PEFT files are gathered and written by the main process.
Not run in CI (it needs a GPU node); the local loop is the tested reference.

Does not know: the database or the registry (the adapter folder is copied back by hand).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from workbench.adapters.targets import targets_for
from workbench.adapters.training import (TrainSettings, batch_indices, collate, encode,
                                         learning_rate, make_lora_model)


def main(settings_path: str) -> None:
    import torch
    from accelerate import Accelerator
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plan = json.loads(Path(settings_path).read_text())
    folder = Path(settings_path).resolve().parent
    settings = TrainSettings.from_dict(plan["hyperparameters"])
    accelerator = Accelerator()
    tokenizer = AutoTokenizer.from_pretrained(plan["base_model"])
    model = AutoModelForCausalLM.from_pretrained(plan["base_model"], dtype=torch.bfloat16)
    model = make_lora_model(model, settings, targets_for(model))
    rows = [json.loads(line) for line in (folder / plan["dataset"]).read_text().splitlines()]
    seqs = encode(tokenizer, [r["text"] for r in rows if r["split"] == "train"],
                  plan["max_tokens"])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
        else tokenizer.eos_token_id
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=settings.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    rank, world = accelerator.process_index, accelerator.num_processes
    for step in range(1, settings.steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, settings)
        picked = batch_indices(step, len(seqs), settings.batch_size * world, settings.seed)
        mine = [seqs[i] for i in picked[rank::world]]
        ids, mask, labels = (t.to(accelerator.device) for t in collate(mine, pad_id))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if accelerator.is_main_process:
            print(json.dumps({"step": step, "loss": float(loss.detach())}), flush=True)
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(folder / plan["output_dir"], is_main_process=accelerator
                              .is_main_process, state_dict=accelerator.get_state_dict(model))


if __name__ == "__main__":
    main(sys.argv[1])
