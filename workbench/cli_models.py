"""CLI commands for models: `models`, `add-model`, `remove-model`; registered into
workbench/cli.py's parser by `add_commands(command)`.

    add-model NAME --url URL --protocol openai|anthropic [--remote-model ID]
              [--tokenizer NAME_OR_PATH] [--api-key-env VAR] [--context-window N]

A model added here is used by NAME everywhere (`--model NAME`, app.py, the Engine tab, the
HTTP API). The key is never stored: only the name of the variable that holds it.
Does not know SQL or servers: it calls the Workbench's `remotes` (workbench/remote_models.py).
"""
from __future__ import annotations

from typing import Any

from workbench.remote_models import PROTOCOLS


def add_commands(command) -> None:
    command("models", cmd_models, "list the models Longhand knows, and those added")
    p = command("add-model", cmd_add_model,
                "add a model served by an OpenAI- or Anthropic-compatible server, by name")
    p.add_argument("name", help="the name to use it by (--model NAME)")
    p.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--protocol", choices=PROTOCOLS, default="openai")
    p.add_argument("--remote-model", default=None,
                   help="the id the server knows (default: NAME)")
    p.add_argument("--tokenizer", default=None,
                   help="what counts its prompts: a local model name, a tokenizer.json or a "
                        "Hugging Face folder (default: the embedded tokenizer, as an estimate)")
    p.add_argument("--api-key-env", default=None, metavar="VAR",
                   help="environment variable that holds the API key (the key is not stored)")
    p.add_argument("--context-window", type=int, default=None,
                   help="the window in tokens, when the server's /v1/models does not say it")
    p = command("remove-model", cmd_remove_model, "remove a model added with add-model")
    p.add_argument("name")


def cmd_models(wb, args) -> tuple[Any, str]:
    from engine.models import RETIRED, known_models

    data = [{"name": m.name, "kind": m.kind, "context_window": m.context_window,
             "description": m.description, "default": m.name == wb.settings.model,
             "aliases": sorted(a for a, (target, _) in RETIRED.items() if target == m.name)}
            for m in known_models()]
    data += [{"name": r.name, "kind": "remote", "context_window": r.context_window,
              "description": f"{r.remote_model} at {r.base_url} ({r.protocol})",
              "default": r.name == wb.settings.model, "aliases": [], **r.as_json()}
             for r in wb.remotes.list()]
    text = "\n".join(f"{'*' if m['default'] else ' '} {m['name']}\t"
                     f"{m['context_window'] or '?'} tokens\t{m['description']}" for m in data)
    return data, text


def cmd_add_model(wb, args) -> tuple[Any, str]:
    info = wb.remotes.add(args.name, url=args.url, protocol=args.protocol,
                          remote_model=args.remote_model, tokenizer=args.tokenizer,
                          api_key_env=args.api_key_env, context_window=args.context_window)
    counted = (f"counted with {info.tokenizer}" if info.tokenizer else
               "counted with the embedded tokenizer (an estimate; --tokenizer for exact counts)")
    return info.as_json(), (f"added {info.name}: {info.remote_model} at {info.base_url} "
                            f"({info.protocol}), prompts {counted}; use it as --model "
                            f"{info.name}")


def cmd_remove_model(wb, args) -> tuple[Any, str]:
    info = wb.remotes.remove(args.name)
    return info.as_json(), f"removed {info.name}"
