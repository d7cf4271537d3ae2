"""Which plan a synthesis runs: the template's short steps, or the whole task in one call.

The rule, from what the embedded default did with whole tasks (issue 15): a model the registry
marks `tier="small"`, or a local model with a short window, gets steps; a model marked
`"strong"`, a remote model, or a local one with a large window gets the whole task. The user may
ask for either (`plan="steps"|"whole"`); a template without a step plan always runs whole.
The decision and its reason are shown before the job runs (CLI, `--json`, Synthesize tab).

Does not know the steps themselves (the template modules) or how they run (run.py).
"""
from __future__ import annotations

from dataclasses import dataclass

PLANS = ("auto", "steps", "whole")
SHORT_WINDOW = 32_768  # a local model with less than this reads whole tasks poorly


@dataclass(frozen=True)
class Choice:
    kind: str  # "steps" | "whole"
    reason: str


def tier(backend) -> str | None:
    """The backend's size/capability hint: "small", "strong" or None (not known)."""
    return getattr(backend, "tier", None)


def choose(backend, template_name: str, requested: str = "auto",
           has_plan: bool = True) -> Choice:
    if requested not in PLANS:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(f"unknown plan {requested!r}: choose one of {', '.join(PLANS)}")
    if not has_plan:
        return Choice("whole", f"the {template_name} template has no step plan")
    if requested == "steps":
        return Choice("steps", "short steps were requested")
    if requested == "whole":
        return Choice("whole", "the whole task in one call was requested")
    hint = tier(backend)
    window = getattr(backend, "context_window", 0) or 0
    remote = getattr(backend, "name", "local") != "local"
    if hint == "strong":
        return Choice("whole", "a strong model takes the whole task in one call")
    if hint == "small":
        return Choice("steps", "a small model does short, well-posed steps best")
    if remote:
        return Choice("whole", "a remote model takes the whole task in one call")
    if window < SHORT_WINDOW:
        return Choice("steps", f"a local model with a short window ({window:,} tokens) does "
                               "short steps best")
    return Choice("whole", f"a local model with a {window:,}-token window takes the whole "
                           "task in one call")
