"""The Engine tab: pick the backend and model (a model added with add-model among them),
placement and quantization, load or unload it, see where it lives, and chat with it.

Handlers are thin: each turns the form into an EngineChoice and calls workbench/engine_control.py,
which installs the backend in the AppContext so every tab and the HTTP API use the same model.
User errors (unknown model, unreachable server, bad max_memory text) are a gr.Warning.
The chat has Stop, temperature and answer length (ui/chat_controls.py).
Does not know: how backends load or generate, the database.
"""
from __future__ import annotations

import gradio as gr

from engine.errors import EngineError
from workbench import engine_control as control
from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.ui import chat_controls
from workbench.ui.feedback import friendly
from workbench.ui.wording import for_ui

SOURCE_LABELS = [("Embedded default (SmolLM2-135M-Instruct)", "embedded"),
                 ("Local folder or GGUF file", "local"),
                 ("Remote server", "remote"),
                 ("Added model (a remote server saved earlier)", "added")]


def build(ctx: AppContext) -> None:
    stops = chat_controls.Stops()
    with gr.Tab("Engine", id="engine") as tab:
        gr.Markdown(chat_controls.MODEL_NOTE, elem_id="lh-engine-note")
        with gr.Row(equal_height=True):
            source = gr.Radio(SOURCE_LABELS, value="embedded", label="Backend",
                              elem_id="lh-engine-source")
        with gr.Group(visible=False) as local_box:
            path = gr.Textbox(label="Model folder or GGUF file", elem_id="lh-engine-path",
                              placeholder="/models/Llama-3.2-1B-Instruct")
        with gr.Group(visible=False) as remote_box:
            with gr.Row():
                base_url = gr.Textbox(label="Server URL", elem_id="lh-engine-url",
                                      placeholder="http://127.0.0.1:8000/v1", scale=3)
                protocol = gr.Radio(list(control.PROTOCOLS), value="openai",
                                    label="Protocol", scale=1)
            with gr.Row():
                model = gr.Textbox(label="Model name on the server", elem_id="lh-engine-model",
                                   placeholder="deepseek-v4-flash")
                api_key = gr.Textbox(label="API key", type="password",
                                     elem_id="lh-engine-key")
        with gr.Group(visible=False) as added_box:
            added = gr.Dropdown(choices=ctx.workbench.remotes.names(), value=None,
                                label="Added model", elem_id="lh-engine-added",
                                info="Remote servers saved earlier under a name")
        with gr.Accordion("Placement and quantization (local models)", open=False):
            with gr.Row():
                device_map = gr.Dropdown(list(control.DEVICE_MAPS), value="default",
                                         label="device_map", allow_custom_value=True)
                quantization = gr.Dropdown(list(control.QUANTIZATIONS), value="none",
                                           label="Quantization (fp16-cpu / int8-cpu: "
                                                 "CPU decode)")
            with gr.Row():
                max_memory = gr.Textbox(label="max_memory", placeholder="cpu=8GiB,0=20GiB")
                offload_folder = gr.Textbox(label="offload_folder",
                                            placeholder="/tmp/longhand-offload")
        with gr.Row():
            load = gr.Button("Load", variant="primary", elem_id="lh-engine-load")
            unload = gr.Button("Unload", elem_id="lh-engine-unload")
            refresh = gr.Button("Refresh status")
        status = gr.Markdown(control.status_markdown(None), elem_id="lh-engine-status")
        chatbot = gr.Chatbot(label="Chat", elem_id="lh-engine-chat", height=360)
        turns = gr.State([])
        with gr.Row(equal_height=True):
            prompt = gr.Textbox(label="Message", scale=5, elem_id="lh-engine-prompt",
                                placeholder="Say something to the loaded model")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="lh-engine-send")
            clear = gr.Button("Clear", scale=1)
        temperature, length, stop = chat_controls.build()

    def choice(*values) -> control.EngineChoice:
        keys = ("source", "path", "base_url", "api_key", "model", "protocol",
                "device_map", "max_memory", "offload_folder", "quantization", "added")
        return control.EngineChoice(**{k: v or "" for k, v in zip(keys, values)})

    def show_source(kind: str):
        names = ctx.workbench.remotes.names()  # added from the CLI meanwhile: offered now
        return (gr.Group(visible=kind == "local"), gr.Group(visible=kind == "remote"),
                gr.Group(visible=kind == "added"),
                gr.Dropdown(choices=names, value=names[0] if names else None))

    @friendly("Could not load the model", 1)
    def do_load(*values, progress=gr.Progress()):
        def report(fraction: float, text: str) -> None:
            progress(fraction, desc=text)

        backend = control.load_choice(ctx, choice(*values), report)
        gr.Info(f"Loaded {backend.model}.")
        return control.status_markdown(backend)

    def do_unload():
        if not control.unload(ctx):
            gr.Info("No model was loaded.")
        return control.status_markdown(None)

    def do_chat(text: str, history: list, temp: float = chat_controls.DEFAULT_TEMPERATURE,
                max_new: float = chat_controls.DEFAULT_ANSWER_TOKENS,
                request: gr.Request = None):
        backend = ctx.loaded_backend()
        shown, answer = _messages(history), ""
        cancel = stops.start(chat_controls.session_of(request))
        try:
            # the box is emptied once, as the message is taken: later updates leave it alone,
            # so the next message can be typed (and sent, see below) while this one streams
            cleared = ""
            for answer in control.chat(backend, history, text or "", cancel=cancel,
                                       temperature=float(temp or 0.0),
                                       max_new_tokens=max(1, int(max_new or 1))):
                yield shown + _messages([control.ChatTurn(text, answer)]), gr.skip(), cleared
                cleared = gr.skip()
        except (WorkbenchError, EngineError) as exc:
            gr.Warning(for_ui(str(exc)), duration=None, title="Chat failed")
            yield gr.skip(), gr.skip(), gr.skip()
            return
        if cancel.is_set():
            answer = f"{answer} {chat_controls.STOPPED_NOTE}".strip()
        done = [*history, control.ChatTurn(text, answer)]
        yield _messages(done), done, cleared

    def do_stop(request: gr.Request):
        stops.stop(chat_controls.session_of(request))

    inputs = [source, path, base_url, api_key, model, protocol, device_map, max_memory,
              offload_folder, quantization, added]
    private = {"api_visibility": "private"}
    source.change(show_source, [source], [local_box, remote_box, added_box, added], **private)
    load.click(do_load, inputs, [status], **private)
    unload.click(do_unload, None, [status], **private)
    refresh.click(lambda: control.status_markdown(ctx.loaded_backend()), None, [status],
                  **private)
    # the model a synthesis job loaded shows as soon as the tab is opened
    tab.select(lambda: control.status_markdown(ctx.loaded_backend()), None, [status],
               **private)
    chat_in = [prompt, turns, temperature, length]
    # Send while an answer streams runs the new message after it (Gradio's default, "once",
    # dropped that click silently)
    queued = {"trigger_mode": "always_last", **private}
    send.click(do_chat, chat_in, [chatbot, turns, prompt], **queued)
    prompt.submit(do_chat, chat_in, [chatbot, turns, prompt], **queued)
    stop.click(do_stop, None, None, **private)
    clear.click(lambda: ([], []), None, [chatbot, turns], **private)


def _messages(turns: list) -> list[dict]:
    out: list[dict] = []
    for turn in turns:
        out += [{"role": "user", "content": turn.user},
                {"role": "assistant", "content": turn.assistant}]
    return out
