"""Fixtures for trust tests: a Library on a real SQLite file holding real documents from
../shared/testdocs, imported through the real importers."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbench.importers import parse_file
from workbench.library import Library


@pytest.fixture
def library(data_dir: Path):
    lib = Library.open(data_dir)
    yield lib
    lib.close()


@pytest.fixture
def project_with(library, testdocs):
    """project_with(name, *relative_paths) -> the project, with those files imported."""
    def make(name: str, *paths: str):
        project = library.create_project(name)
        for rel in paths:
            path = testdocs / rel
            data = path.read_bytes()
            library.add_document(project.id, parse_file(data, path.name), data, path.name)
        return project
    return make
