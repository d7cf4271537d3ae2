"""Byte counts as people read them, for size-limit messages ("1,000 bytes", "1.5 KB", "200.0 MB").

Why its own module: the registry, the text decoder and the Workbench facade all report sizes,
and a limit of 1,000 bytes once printed as "0.0 MB over 0.0 MB".
Owns: formatting only. Does not know: any limit.
"""
from __future__ import annotations

_UNITS = ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB"))


def format_size(n: int) -> str:
    """'1 byte', '1,023 bytes', '1.5 KB', '200.0 MB', '3.0 GB' (binary multiples)."""
    for factor, unit in _UNITS:
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:,} byte{'' if n == 1 else 's'}"


def over_limit(size: int, limit: int) -> str:
    """'The file is X, over the import limit of Y': exact bytes when both round alike."""
    shown, cap = format_size(size), format_size(limit)
    if shown == cap:
        shown, cap = f"{size:,} bytes", f"{limit:,} bytes"
    return f"The file is {shown}, over the import limit of {cap}"
