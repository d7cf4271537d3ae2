"""A scripted backend for worker tests (a real class speaking the Backend protocol, its answers
known in advance) and the documents its jobs read. Every call is logged as "PID MARKER" to a
file shared by all processes, so a test can tell which process ran which job and how often."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from engine.events import Done, TextDelta, Usage
from workbench.importers.base import ParsedDocument, Section


class ScriptedBackend:
    name, model, context_window = "scripted", "scripted-notes", 700

    def __init__(self, log: Path, block_at: int = 0, wait_for_other: bool = False,
                 pause_s: float = 0.0):
        self.log, self.block_at, self.pause_s = log, block_at, pause_s
        self.wait_for_other = wait_for_other

    def count_tokens(self, messages):
        return sum(len(m.content.split()) + 4 for m in messages)

    def _lines(self) -> list[list[str]]:
        return [ln.split() for ln in self.log.read_text().splitlines()] if self.log.exists() \
            else []

    def stream(self, messages, params, cancel=None):
        found = re.search(r"job-\d+", " ".join(m.content for m in messages))
        me = str(os.getpid())
        with self.log.open("a") as f:
            f.write(f"{me} {found.group(0) if found else '-'}\n")
        mine = sum(1 for pid, _ in self._lines() if pid == me)
        if self.block_at and mine == self.block_at:
            while True:  # the kill lands here, mid-step
                time.sleep(1)
        if self.wait_for_other and mine == 1:  # both workers are surely claiming at once
            deadline = time.monotonic() + 60
            while not any(pid != me for pid, _ in self._lines()):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        time.sleep(self.pause_s)
        yield TextDelta("- [Sc. 1] the kitchen scene sets the pace.")
        yield Usage(self.count_tokens(messages), 9)
        yield Done("stop")


def screenplay(scenes: int, repeat: int) -> tuple[ParsedDocument, bytes]:
    parts = [Section("scene", f"Sc. {i + 1}", i,
                     f"INT. ROOM {i + 1} - NIGHT\n\n" + "MARA waits by the door. " * repeat,
                     heading=f"INT. ROOM {i + 1} - NIGHT", number=str(i + 1))
             for i in range(scenes)]
    text = "\n\n".join(s.text for s in parts)
    doc = ParsedDocument("Long Night", "screenplay", "fountain", text, parts,
                         {"scenes": scenes})
    return doc, text.encode()
