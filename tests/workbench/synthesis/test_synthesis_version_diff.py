"""A screenplay's two versions compared scene by scene, on a real script imported twice."""
from __future__ import annotations

from synthesis_docs import CYBER_BOB

from workbench.synthesis.version_diff import scene_diff


def test_two_versions_differ_by_scene(wb, testdocs, tmp_path):
    doc = wb.import_files("p", [testdocs / CYBER_BOB])[0].document
    text = (testdocs / CYBER_BOB).read_text()
    changed = text.replace("He smiles at them.", "He waves at them.")
    newer = tmp_path / CYBER_BOB.rsplit("/", 1)[1]
    newer.write_text(changed + "\n\nEXT. ROOF - NIGHT\n\nBob waits for the cloud.\n")
    assert wb.import_files("p", [newer])[0].document.version == 2
    old, new = wb.library.sections(doc.id, 1), wb.library.sections(doc.id, 2)
    rows = {r.new_anchor or r.old_anchor: r for r in scene_diff(old, new)
            if r.new_anchor.startswith("Sc.") or r.old_anchor.startswith("Sc.")}
    assert rows["Sc. 1"].change == "changed"
    assert "-He smiles at them." in rows["Sc. 1"].lines
    assert "+He waves at them." in rows["Sc. 1"].lines
    assert rows["Sc. 2"].change == rows["Sc. 3"].change == "unchanged"
    assert rows["Sc. 4"].change == "added" and "ROOF" in rows["Sc. 4"].heading
    back = {r.old_anchor: r.change for r in scene_diff(new, old) if r.old_anchor}
    assert back["Sc. 4"] == "cut"  # read the other way, the new scene is cut
