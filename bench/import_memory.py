"""Peak memory and time of importing one large text file: `python bench/import_memory.py`.

Why: a 40 MB transcript once took 6.2 GB to import (about 150x the file) and an 83 MB one
aborted in the tokenizer. This bench imports generated files of realistic text through the
product's own path (`Workbench.import_files`, which the CLI, UI and HTTP upload call), one
fresh subprocess per case so each peak RSS (`ru_maxrss`) is that import's alone.

Files: `transcript` repeats the cues of the real Apollo 11 TEC transcript in the testdocs
(Spacelog format, a `[DD:HH:MM:SS]` stamp every cue, real speaker labels and text);
`prose` repeats the paragraphs of sherlock.txt. Both are generated into a temp dir.

Prints one JSON line per case with the fields of DESIGN.md §4 plus `file_mb`, `baseline_gb`
(the process with the tokenizer loaded, before the import), `peak_over_file` (peak RSS / file
size) and `import_over_file` ((peak - baseline) / file size). `ours_s` is the import's time.
Does not know: how the import works inside; it only drives it and measures.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTDOCS = ROOT.parent / "shared" / "testdocs"
TEC = TESTDOCS / "transcripts" / "Spacelog__Spacelog" / "a11" / "TEC"
SHERLOCK = TESTDOCS / "prose" / "jsvine__markovify" / "sherlock.txt"
MB = 1024 * 1024
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repository's packages
FIELDS = ("bench", "case", "ours_s", "reference_s", "speedup", "max_abs_diff",
          "ours_peak_gb", "reference_peak_gb")


def write_transcript(path: Path, size: int, source: Path = TEC) -> int:
    """A Spacelog-style transcript of about `size` bytes: real cues, a fresh stamp each."""
    cues = re.findall(r"^([A-Z][A-Z0-9 ]{0,11}): (\S.*)$", source.read_text(encoding="utf-8"),
                      re.MULTILINE)
    written, i = 0, 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        while written < size:
            speaker, said = cues[i % len(cues)]
            t = i * 5
            block = (f"[{t // 86400:02d}:{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}]\n"
                     f"{speaker}: {said}\n\n")
            out.write(block)
            written += len(block.encode("utf-8"))
            i += 1
    return path.stat().st_size


def write_prose(path: Path, size: int, source: Path = SHERLOCK) -> int:
    """Prose of about `size` bytes: the paragraphs of a real novel, repeated."""
    text = source.read_text(encoding="utf-8").replace("\r\n", "\n").strip() + "\n\n"
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        while written < size:
            out.write(text)
            written += len(text.encode("utf-8"))
    return path.stat().st_size


WRITERS = {"transcript": write_transcript, "prose": write_prose}


def child(path: Path, data_dir: Path, cache_dir: Path) -> dict:
    """Runs in the measured subprocess: tokenizer first (the baseline), then the import."""
    import psutil

    from workbench import Workbench
    from workbench.config import Settings

    settings = Settings(data_dir=data_dir, cache_dir=cache_dir,
                        max_upload_bytes=max(200 * MB, path.stat().st_size + 1))
    wb = Workbench(settings)
    wb.new_project("bench")
    wb.token_counter()
    baseline = psutil.Process().memory_info().rss
    started = time.perf_counter()
    result = wb.import_files("bench", [path])
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak": peak, "baseline": baseline,
            "tokens": result[0].document.tokens}


def run_case(kind: str, size_mb: float, cache_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="longhand-import-bench-") as tmp:
        path = Path(tmp) / (f"{kind}.txt")
        size = WRITERS[kind](path, int(size_mb * MB))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(path), str(Path(tmp) / "data"),
             str(cache_dir)], capture_output=True, text=True, cwd=ROOT)
        row = {name: None for name in FIELDS}
        row.update(bench="import-memory", case=f"{kind}-{size_mb:g}mb",
                   file_mb=round(size / MB, 2))
        if proc.returncode != 0:
            row["error"] = (f"exit {proc.returncode}: "
                            + (proc.stderr.strip().splitlines() or ["no message"])[-1])
            return row
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(ours_s=round(got["seconds"], 2), ours_peak_gb=round(got["peak"] / 1e9, 3),
                   baseline_gb=round(got["baseline"] / 1e9, 3),
                   peak_over_file=round(got["peak"] / size, 1),
                   import_over_file=round((got["peak"] - got["baseline"]) / size, 1),
                   tokens=got["tokens"])
        return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/import_memory.py")
    parser.add_argument("--sizes", default="10,50,200", help="file sizes in MB, e.g. 10,50")
    parser.add_argument("--kinds", default="transcript,prose", help="transcript,prose")
    parser.add_argument("--cache-dir", default=None,
                        help="where the embedded model is converted (default: Settings')")
    parser.add_argument("--child", nargs=3, metavar=("FILE", "DATA_DIR", "CACHE_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        file, data_dir, cache_dir = (Path(p) for p in args.child)
        print(json.dumps(child(file, data_dir, cache_dir)), flush=True)
        return 0
    from engine.embedded import ensure_converted
    from workbench.config import Settings

    cache_dir = Path(args.cache_dir) if args.cache_dir else Settings().cache_dir
    ensure_converted(cache_dir)  # the conversion's own peak stays out of the measured runs
    for kind in args.kinds.split(","):
        for size in args.sizes.split(","):
            print(json.dumps(run_case(kind.strip(), float(size), cache_dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
