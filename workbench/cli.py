"""`python -m workbench [--data-dir D] CMD ...`: the command line over the Workbench facade.

Every command prints a short human summary, or with `--json` one JSON document on stdout
(shapes in DESIGN.md §4). User errors (unknown project, a bad file, a damaged archive) print
`error: ...` on stderr and exit with code 2, never a traceback. Settings are built once here
(flags > LONGHAND_* environment > defaults) and passed down.

Does not know: SQL, file formats or models; it only calls workbench.Workbench.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench import (cli_adapters, cli_compare, cli_database, cli_keys, cli_models,
                       cli_synthesis, cli_trust, cli_worker)
from workbench.config import Settings, apply_privacy_env
from workbench.errors import WorkbenchError
from workbench.importers.base import ROLES
from workbench.placement_flags import placement_values
from workbench.summaries import stats_summary

EXIT_USER_ERROR = 2
Command = Callable[[Any, argparse.Namespace], tuple[Any, str]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench",
                                     description="Longhand: the project library from the shell.")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where projects live (default: projects/, or $LONGHAND_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", metavar="CMD", required=True)

    def command(name: str, run: Command, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        p.set_defaults(run=run)
        return p

    command("projects", cmd_projects, "list projects")
    p = command("new-project", cmd_new_project, "create a project")
    p.add_argument("name")
    p = command("import", cmd_import, "import files into a project (all or nothing); the "
                "bytes of an older version of a document come back as its newest version")
    p.add_argument("project")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--role", choices=ROLES, default="draft",
                   help="the role of every file (default: draft)")
    p.add_argument("--role-for", action="append", default=[], metavar="FILE=ROLE",
                   type=_role_for, help="another role for one file, by its name, e.g. "
                   "--role-for interview.srt=reference (repeat it for more files)")
    p = command("show", cmd_show, "list a project's documents with their stats")
    p.add_argument("project")
    p = command("search", cmd_search, "full-text search over a project's sections")
    p.add_argument("project")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20)
    p = command("export", cmd_export, "write a project (originals + metadata) to a zip")
    p.add_argument("project")
    p.add_argument("out", type=Path, metavar="OUT.zip")
    p.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")
    p = command("import-project", cmd_import_project, "import a project zip made by export")
    p.add_argument("archive", type=Path, metavar="IN.zip")
    p.add_argument("--name", default=None, help="the project's name here (default: the zip's)")
    cli_models.add_commands(command)
    cli_trust.add_commands(command)
    cli_synthesis.add_commands(command)
    cli_adapters.add_commands(command)
    cli_compare.add_commands(command)
    cli_database.add_commands(command)
    cli_keys.add_commands(command)
    cli_worker.add_commands(command)
    return parser


def cmd_projects(wb, args) -> tuple[Any, str]:
    projects = wb.projects()
    data = [{"id": p.id, "name": p.name, "documents": p.document_count,
             "created_at": p.created_at} for p in projects]
    text = "\n".join(f"{p.name}\t{p.document_count} documents" for p in projects)
    return data, text or "no projects yet: python -m workbench new-project NAME"


def cmd_new_project(wb, args) -> tuple[Any, str]:
    p = wb.new_project(args.name)
    return {"id": p.id, "name": p.name}, f"created project {p.name}"


def cmd_import(wb, args) -> tuple[Any, str]:
    from tqdm import tqdm

    bar = tqdm(total=len(args.files), unit="file", file=sys.stderr, leave=False,
               disable=None)  # a progress bar on a terminal, silence in pipes and logs

    def progress(done: int, total: int, name: str) -> None:
        bar.n = done
        bar.set_postfix_str(name, refresh=True)

    try:
        results = wb.import_files(args.project, args.files, role=args.role, progress=progress,
                                  roles=dict(args.role_for))
    finally:
        bar.close()
    data = [dict(_document(r.document), status=r.status, restored_from=r.restored_from)
            for r in results]
    text = "\n".join(f"{r.status}: {r.document.title} ({r.document.kind}, "
                     f"{_version_text(r)}, {r.document.role}, {r.document.tokens} tokens)"
                     for r in results)
    return data, text


def _version_text(result) -> str:
    if result.restored_from is not None:
        return f"restored v{result.restored_from} as v{result.document.version}"
    return f"v{result.document.version}"


def _role_for(value: str) -> tuple[str, str]:
    """`--role-for NAME=ROLE`: NAME is the file's name (a path is taken by its last part)."""
    name, sep, role = value.rpartition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not FILE=ROLE")
    if role not in ROLES:
        raise argparse.ArgumentTypeError(
            f"unknown role {role!r} for {name}: choose one of {', '.join(ROLES)}")
    return Path(name).name, role


def cmd_show(wb, args) -> tuple[Any, str]:
    data = wb.show(args.project)
    lines = [f"{data['project']}: {len(data['documents'])} documents"]
    for d in data["documents"]:
        lines.append(f"  [{d['id']}] {d['title']} ({d['kind']}, {d['format']}, v{d['version']}, "
                     f"{d['tokens']} tokens) {stats_summary(d['stats'])}")
    return data, "\n".join(lines)


def cmd_search(wb, args) -> tuple[Any, str]:
    hits = wb.search(args.project, args.query, args.limit)
    data = [{"document_id": h.document_id, "document_title": h.document_title,
             "section_id": h.section_id, "anchor": h.anchor, "snippet": h.snippet,
             "rank": h.rank} for h in hits]
    text = "\n".join(f"{h.document_title} · {h.anchor}: {h.snippet}" for h in hits)
    return data, text or "no matches"


def cmd_export(wb, args) -> tuple[Any, str]:
    out = wb.export(args.project, args.out, overwrite=args.force)
    return {"project": args.project, "path": str(out)}, f"exported {args.project} to {out}"


def cmd_import_project(wb, args) -> tuple[Any, str]:
    p = wb.import_project(args.archive, name=args.name)
    return ({"id": p.id, "name": p.name, "documents": p.document_count},
            f"imported project {p.name} ({p.document_count} documents)")


def _document(d) -> dict:
    return {"id": d.id, "title": d.title, "filename": d.filename, "kind": d.kind,
            "format": d.format, "role": d.role, "version": d.version, "tokens": d.tokens,
            "stats": d.stats}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def main(argv: Sequence[str] | None = None) -> int:
    apply_privacy_env()
    args = build_parser().parse_args(argv)
    from engine.errors import EngineError
    from workbench.context import parse_max_memory
    from workbench.workbench import Workbench

    try:
        settings = Settings.from_sources({"data_dir": args.data_dir,
                                          **placement_values(args)})
    except ValueError as exc:  # a LONGHAND_* variable that does not parse
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        parse_max_memory(settings.max_memory)  # a typo fails now, not at the model load
        data, text = args.run(Workbench(settings), args)
    except (WorkbenchError, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))
    elif text:
        print(text)
    return 0
