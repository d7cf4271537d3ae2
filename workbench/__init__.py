"""Longhand's product layer: the library, importers, synthesis, jobs, adapters, UI and CLI.

`from workbench import Workbench` is the Python API for notebooks and scripts. The import is
lazy so that `import workbench` stays cheap: no torch, no gradio, no database until used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.workbench import Workbench

__all__ = ["Workbench"]


def __getattr__(name: str) -> Any:
    if name == "Workbench":
        from workbench.workbench import Workbench

        return Workbench
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
