"""The library on PostgreSQL as on SQLite: one engine per Library, migrations from an empty
database (also six processes at once), the same search hits on real documents, the jobs store,
a busy writer told so, `copy-library --to URL`, and the CLI run with LONGHAND_DATABASE_URL.

The server is tests/support/postgres_server.py (one per session); `database_url` runs a test
on both back ends."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from workbench.errors import LibraryBusy, WorkbenchError
from workbench.importers import parse_file
from workbench.library import Library, db
from workbench.library.models import Base, include_name, load_model_modules

ROOT = Path(__file__).resolve().parents[3]
REAL = ("screenplays/vilcans__screenplain/simple.fountain",
        "screenplays/vilcans__screenplain/scene-numbers.fountain",
        "screenplays/vilcans__screenplain/sections.fountain",
        "transcripts/glut23__webvtt-py/sample.vtt")
QUERIES = ("the", "day", "walk*", '"the street"', "sunny day", "gu*", "nothing-like-this",
           "INT", "café", "and OR not")


def _import_real(lib: Library, testdocs: Path) -> None:
    lib.create_project("Real")
    for rel in REAL:
        path = testdocs / rel
        data = path.read_bytes()
        lib.add_document("Real", parse_file(data, path.name), data, path.name)


def _hits(lib: Library, query: str) -> set[tuple[str, str]]:
    names = {d.id: d.filename for d in lib.documents("Real")}
    return {(names[h.document_id], h.anchor) for h in lib.search("Real", query, limit=500)}


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    return {**env, **extra}


def test_the_library_owns_one_engine_and_every_store_over_it(library, monkeypatch):
    """Before: adapters/service.py built an engine and ran a migration on every call (the
    Synthesize tab's adapter list, on each project change)."""
    from workbench.adapters import service

    library.create_project("P")
    made = []
    real = db.create_engine
    monkeypatch.setattr(db, "create_engine", lambda *a, **k: made.append(a) or real(*a, **k))
    for _ in range(3):
        assert service.list_adapters(library, "P") == []
    assert made == []
    assert service.open_store(library) is library.adapters
    assert library.jobs.engine is library.trust.engine is library.engine


def test_migrations_from_an_empty_database_match_the_models(postgres_empty_url):
    db.migrate(postgres_empty_url)
    engine = create_engine(db.database_url(postgres_empty_url))
    try:
        assert db.current_revisions(engine) == db._heads()
        load_model_modules()
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_name": include_name,
                                                         "compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            indexed = conn.scalar(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_sections_search'"))
        assert "USING gin (search)" in indexed
    finally:
        engine.dispose()
    db.migrate(postgres_empty_url)  # at head: nothing to do, no error


def test_six_first_commands_at_once_on_an_empty_database_all_succeed(postgres_empty_url,
                                                                     tmp_path):
    cmds = [["projects", "--json"], ["new-project", "P"]] * 3
    procs = [subprocess.Popen([sys.executable, "-m", "workbench", "--data-dir",
                               str(tmp_path / f"d{i}"), *cmd], cwd=ROOT, text=True,
                              env=_env(LONGHAND_DATABASE_URL=postgres_empty_url),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i, cmd in enumerate(cmds)]
    outs = [(p.returncode, err) for p in procs for _, err in [p.communicate(timeout=300)]]
    failed = [err for rc, err in outs if rc != 0]
    assert len(failed) == 2 and all(e.startswith("error: ") and "already exists" in e
                                    and "Traceback" not in e for e in failed), failed
    with Library(tmp_path, postgres_empty_url) as lib:
        assert [p.name for p in lib.list_projects()] == ["P"]


def test_search_finds_the_same_sections_on_both(testdocs, tmp_path, postgres_url):
    with Library.open(tmp_path / "a") as lite, Library.open(tmp_path / "b", postgres_url) as pg:
        _import_real(lite, testdocs)
        _import_real(pg, testdocs)
        assert pg.count_rows() == lite.count_rows()
        found = 0
        for query in QUERIES:
            assert _hits(pg, query) == _hits(lite, query), query
            found += len(_hits(lite, query))
        assert found > 20
        hit = pg.search("Real", "street")[0]
        assert "«street»" in hit.snippet.lower() and hit.rank <= 0


def test_project_names_are_case_insensitive_on_both(library):
    library.create_project("Night Film")
    with pytest.raises(WorkbenchError, match="already exists"):
        library.create_project("NIGHT FILM")
    assert library.get_project("night film").name == "Night Film"


def test_jobs_store_claims_steps_and_artifacts_on_both(library):
    project = library.create_project("P")
    jobs = library.jobs
    job = jobs.create_job(project.id, {"task": "free", "prompt": "hi"})
    started = jobs.start(job.id, os.getpid())
    assert started.status == "running" and started.pid == os.getpid()
    jobs.progress(job.id, "map", 1, 3, "one of three", partial_text="part")
    assert (jobs.job(job.id).step, jobs.job(job.id).partial_text) == (1, "part")
    assert [j.id for j in jobs.jobs(project.id, statuses=("running",))] == [job.id]


def test_a_writer_held_up_past_the_busy_timeout_is_told_busy(postgres_url, tmp_path,
                                                              monkeypatch):
    Library.open(tmp_path, postgres_url).close()
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)
    holder = create_engine(db.database_url(postgres_url))
    try:
        with holder.connect() as conn, conn.begin():  # another process mid-way through a write
            conn.execute(text(f"SELECT pg_advisory_xact_lock({db.WRITE_LOCK})"))
            with Library(tmp_path, postgres_url) as lib:
                with pytest.raises(LibraryBusy, match="busy .* try again"):
                    lib.create_project("P")
                assert lib.list_projects() == []  # readers are not held up by the writer
    finally:
        holder.dispose()
    with Library(tmp_path, postgres_url) as lib:
        assert lib.create_project("P").name == "P"


def test_copy_library_moves_every_row_and_search_works_the_same(testdocs, data_dir,
                                                                 postgres_url):
    with Library.open(data_dir) as lite:
        _import_real(lite, testdocs)
        project = lite.get_project("Real")
        job = lite.jobs.create_job(project.id, {"task": "free"})
        lite.jobs.start(job.id, os.getpid())
        out = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                              "copy-library", "--to", postgres_url, "--json"], cwd=ROOT,
                             env=_env(), capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)["rows"]
        assert rows["sections"] > 10 and rows["jobs"] == 1
        with Library.open(data_dir, postgres_url) as pg:
            assert pg.count_rows() == lite.count_rows()
            for query in QUERIES:
                assert _hits(pg, query) == _hits(lite, query), query
            doc = lite.documents("Real")[0]
            assert pg.original_bytes(doc.id) == lite.original_bytes(doc.id)
            assert pg.sections(doc.id) == lite.sections(doc.id)
            assert pg.jobs.job(job.id) == lite.jobs.job(job.id)
            assert pg.create_project("After").id == project.id + 1  # ids continue past copies
        again = subprocess.run([sys.executable, "-m", "workbench", "--data-dir",
                                str(data_dir), "copy-library", "--to", postgres_url],
                               cwd=ROOT, env=_env(), capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 2 and "already holds a library" in again.stderr


def test_cli_imports_searches_and_shows_with_database_url(testdocs, data_dir, postgres_url):
    env = _env(LONGHAND_DATABASE_URL=postgres_url)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                               *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)

    files = [str(testdocs / rel) for rel in REAL[:2]]
    assert cli("new-project", "P").returncode == 0
    done = cli("import", "P", *files, "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(cli("search", "P", "street", "--json").stdout)
    assert hits and all("«street»" in h["snippet"].lower() for h in hits)
    shown = json.loads(cli("show", "P", "--json").stdout)
    assert [d["title"] for d in shown["documents"]] == [d["title"] for d in
                                                        json.loads(done.stdout)]
    assert shown["documents"][0]["stats"]["scenes"] >= 1
    assert not (data_dir / "workbench.db").exists()  # the rows went to the server
    with Library(data_dir, postgres_url) as lib:
        assert [p.name for p in lib.list_projects()] == ["P"]
    bad = subprocess.run(
        [sys.executable, "-m", "workbench", "migrate"], cwd=ROOT, capture_output=True,
        text=True, env=_env(LONGHAND_DATABASE_URL="mysql://u:secret@host/db"), timeout=300)
    assert bad.returncode == 2 and "is not PostgreSQL" in bad.stderr
    assert "secret" not in bad.stderr


def test_text_postgres_cannot_store_is_a_clear_refusal(tmp_path, postgres_url, make_screenplay):
    """PostgreSQL text holds no NUL (SQLite does): the batch is refused, nothing is stored."""
    from workbench.errors import UnsupportedDocument

    with Library.open(tmp_path, postgres_url) as lib:
        lib.create_project("P")
        doc = make_screenplay("Nul", [("INT. ROOM - DAY", "A\x00B")])
        with pytest.raises(UnsupportedDocument, match="could not be stored"):
            lib.add_document("P", doc, b"x", "nul.fountain")
        assert lib.documents("P") == []


@pytest.mark.parametrize("ci,outcome", [("", pytest.skip.Exception), ("1", pytest.fail.Exception)])
def test_missing_postgresql_skips_here_and_fails_in_ci(monkeypatch, ci, outcome):
    import postgres_server

    monkeypatch.setattr(postgres_server, "find_bindir", lambda: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install postgresql"):
        postgres_server.start_or_skip()
