"""Masking model names in answers for blind votes: `mask(text, names)`.

Votes only count while the judge cannot tell which model wrote what, and models name themselves
("As DeepSeek, I...", "I am Qwen", "SmolLM here"). `mask` replaces, case-insensitively and on
word boundaries, (1) every name given (the compared model ids, their aliases, a remote's
server-side id), longest first, and (2) the model families we know by their stems (DeepSeek,
Qwen, SmolLM, Kimi, Llama, Mistral, Gemma, Phi, Claude, GPT, Gemini, ...) with any version
suffix ("Qwen3.6-27B", "SmolLM2-135M"), by MASK. Written here, not taken from a library,
because the list is the product: it is short, ours and tested.
Does not know which models were compared (the caller passes the names).
"""
from __future__ import annotations

import re
from typing import Iterable

MASK = "[model]"
FAMILIES = ("deepseek", "qwen", "smol ?lm", "kimi", "llama", "mistral", "mixtral", "gemma",
            "phi", "claude", "gpt", "gemini", "chatgpt", "glm", "yi", "olmo", "granite")
_NUM = r"[a-z]*\d(?:\w|\.(?=\d))*"  # 3.6, 27B, K2.6, V4 (a sentence's full stop stays)
_SUFFIX = r"(?:[-_ .]?(?:" + _NUM + r"|flash|pro|instruct|chat|coder|mini)(?![\w]))*"
FAMILY_RE = re.compile(r"(?<![\w-])(?:" + "|".join(FAMILIES) + r")" + _SUFFIX + r"(?![\w-])",
                       re.IGNORECASE)


def mask(text: str, names: Iterable[str] = ()) -> str:
    """`text` with each of `names` and every known model family name replaced by MASK."""
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        pattern = r"(?<![\w])" + re.escape(name) + r"(?![\w])"
        text = re.sub(pattern, MASK, text, flags=re.IGNORECASE)
    return FAMILY_RE.sub(MASK, text)
