"""Dataset building and validation on real text: section boundaries, held-out split, clear
refusals that write nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.adapters.dataset import DatasetSettings, build_dataset
from workbench.cli import main
from workbench.errors import DatasetRejected
from workbench.importers.base import ParsedDocument, Section


@pytest.fixture(scope="module")
def count():
    from engine.tokens import TokenCounter
    from workbench.config import Settings

    return TokenCounter.for_embedded(Settings().cache_dir).count


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.name.startswith("workbench.db"))


def test_examples_follow_section_boundaries_and_hold_out(style_project, count):
    wb, project = style_project
    ds = build_dataset(wb.library, project, count, settings=DatasetSettings(max_tokens=128))
    sections = {s.anchor: s.text.strip() for d in wb.library.documents(project)
                for s in wb.library.sections(d.id)}
    for ex in (*ds.train, *ds.held_out):
        assert ex.tokens <= 128 and ex.tokens == count(ex.text)
        if len(ex.anchors) > 1 or sections[ex.anchors[0]] == ex.text:
            # packed whole sections, in order, joined by blank lines
            assert ex.text == "\n\n".join(sections[a] for a in ex.anchors)
        else:  # a section over the limit, split at sentence boundaries, with a warning
            assert ex.text in sections[ex.anchors[0]]
            assert any(f"{ex.anchors[0]} in “scandal”" in w for w in ds.warnings)
    train_anchors = {a for e in ds.train for a in e.anchors}
    held_anchors = {a for e in ds.held_out for a in e.anchors}
    whole_held = {a for e in ds.held_out for a in e.anchors if sections[a] in e.text}
    assert held_anchors and not (whole_held & train_anchors)
    assert len(ds.held_out) == round(len(ds.train + ds.held_out) * 0.1)
    assert ds.summary()["snapshot_hash"] == ds.snapshot_hash and len(ds.snapshot_hash) == 64
    preview = ds.preview(2)
    assert [p["split"] for p in preview] == ["train", "train", "held-out", "held-out"]
    assert preview[0]["text"].startswith("To Sherlock Holmes she is always THE woman.")


def test_over_long_sections_are_split_and_reported(style_project, count):
    wb, project = style_project
    ds = build_dataset(wb.library, project, count, settings=DatasetSettings(max_tokens=64))
    first = ds.warnings[0]
    assert first.startswith("¶ 1 in “scandal” has 271 tokens, more than the 64-token")
    assert "split at sentence boundaries into" in first
    pieces = [e for e in ds.train + ds.held_out if e.anchors == ("¶ 1",)]
    assert pieces[0].text.startswith("To Sherlock Holmes") and pieces[0].text.endswith(".")


def test_empty_sections_are_named(data_dir, count, sherlock):
    from workbench.library import Library

    lib = Library.open(data_dir)
    lib.create_project("p")
    paras = sherlock(2500).split("\n\n")
    sections = [Section("paragraph", f"¶ {i + 1}", i, "" if i in (2, 5) else t)
                for i, t in enumerate(paras)]
    doc = ParsedDocument("Notes", "prose", "text", "\n\n".join(paras), sections, {})
    lib.add_document("p", doc, b"x" * 10, "notes.txt", role="style")
    ds = build_dataset(lib, "p", count)
    assert "“Notes” has 2 empty sections (¶ 3, ¶ 6), were skipped." in ds.warnings
    empty = ParsedDocument("Blank", "prose", "text", "", [Section("paragraph", "¶ 1", 0, " ")],
                           {})
    blank_id = lib.add_document("p", empty, b"y" * 10, "blank.txt").document.id
    with pytest.raises(DatasetRejected) as err:
        build_dataset(lib, "p", count, doc_ids=[blank_id])
    assert "“Blank” has 1 empty section (¶ 1), so it adds nothing to train on." in str(err.value)
    lib.close()


def test_too_small_dataset_is_refused_and_nothing_is_written(style_project, sherlock,
                                                             capsys):
    wb, _ = style_project
    wb.new_project("tiny")
    wb.import_files("tiny", [("note.txt", sherlock(200).encode())],
                    role="style")
    data_dir = wb.settings.data_dir
    rows, files = wb.library.count_rows(), _files(data_dir)
    code = main(["--data-dir", str(data_dir), "train-adapter", "tiny", "--json"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot be used for training, so nothing was written" in err
    assert "Too little text: the selection holds" in err and "at least 1,500 tokens" in err
    assert wb.library.count_rows() == rows and _files(data_dir) == files
    assert not (data_dir / "adapters").exists()


def test_no_style_documents_says_what_to_do(style_project, capsys):
    wb, _ = style_project
    wb.new_project("drafts-only")
    code = main(["--data-dir", str(wb.settings.data_dir), "train-adapter", "drafts-only"])
    assert code == 2
    assert "No documents with role 'style'" in capsys.readouterr().err
    assert main(["--data-dir", str(wb.settings.data_dir), "adapters", "drafts-only",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
