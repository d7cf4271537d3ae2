"""The Engine tab's chat controls: Stop, temperature and answer length, and the plain note on
which model is loaded by default and how to add a stronger one.

Stop sets the cancel event the running answer streams with (one per browser session), so the
engine stops generating at once and the words so far stay in the chat, marked as stopped.
Glue only: generation is engine_control.chat's. Does not know backends or the database.
"""
from __future__ import annotations

import threading

import gradio as gr

DEFAULT_TEMPERATURE = 0.0
DEFAULT_ANSWER_TOKENS = 256
STOPPED_NOTE = "[stopped]"
MODEL_NOTE = (
    "**The embedded model is a small local default** (SmolLM2-135M-Instruct, 135 million "
    "parameters): it runs on any computer without a download and is good for trying the "
    "app, not for judging a screenplay. For real work add a stronger model: choose "
    "**Local folder or GGUF file** and give the path of a model on this computer, or "
    "**Remote server** and give the address of an OpenAI- or Anthropic-compatible server "
    "(for instance a bigger model served on another machine), then press Load.")


class Stops:
    """One cancel event per browser session, for the answer it is streaming."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def start(self, session: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._events[session] = event
        return event

    def stop(self, session: str) -> bool:
        with self._lock:
            event = self._events.get(session)
        if event is None or event.is_set():
            return False
        event.set()
        return True


def build() -> tuple[gr.Slider, gr.Number, gr.Button]:
    """Temperature, answer length and Stop, laid out in one row."""
    with gr.Row(equal_height=True):
        temperature = gr.Slider(0.0, 2.0, value=DEFAULT_TEMPERATURE, step=0.05,
                                label="Temperature (0: always the likeliest word)",
                                elem_id="lh-chat-temperature", scale=3)
        length = gr.Number(value=DEFAULT_ANSWER_TOKENS, precision=0, minimum=1,
                           maximum=8192, label="Answer length (tokens)",
                           elem_id="lh-chat-length", scale=1)
        stop = gr.Button("Stop", variant="stop", elem_id="lh-chat-stop", scale=1)
    return temperature, length, stop


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"
