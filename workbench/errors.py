"""Workbench exceptions. Each carries a message a writer understands; the UI, API and CLI
show `str(exc)` (Gradio warning, HTTP 4xx JSON, CLI exit code 2) and never a traceback."""


class WorkbenchError(Exception):
    """Base class for user-facing errors in the product layer."""


class UnsupportedDocument(WorkbenchError):
    """A file that cannot be imported: wrong format, empty, damaged, encrypted, too large."""

    def __init__(self, reason: str, filename: str | None = None):
        self.reason = reason
        self.filename = filename
        message = f"{filename}: {reason}" if filename else reason
        # A name from the file system may hold bytes that are not UTF-8 (lone surrogates):
        # escape them, so the message can always be printed, logged and sent as JSON.
        super().__init__(message.encode("utf-8", "backslashreplace").decode("utf-8"))


class ProjectNotFound(WorkbenchError):
    pass


class ProjectExists(WorkbenchError):
    pass


class InvalidProjectName(WorkbenchError):
    """A project name that is empty, too long, or holds control characters."""


class InvalidRole(WorkbenchError):
    """A document role outside draft / notes / reference / style."""


class DocumentNotFound(WorkbenchError):
    pass


class DuplicateDocument(WorkbenchError):
    """The same bytes were already imported into this project (deduplicated by hash)."""


class InvalidArchive(WorkbenchError):
    """A project export zip that is damaged, hostile, over the import limits or not ours."""


class OutputRefused(WorkbenchError):
    """A file the user asked to write that would replace the library's own files, or an
    existing file without --force (overwrite=True)."""


class JobNotFound(WorkbenchError):
    pass


class BudgetExceeded(WorkbenchError):
    """A job does not fit the model's window and the user chose no subset or map-reduce plan."""


class ImportRejected(WorkbenchError):
    """A batch of files with at least one problem: nothing of the batch was imported."""

    def __init__(self, problems: list[UnsupportedDocument]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{count} file{'s' if count != 1 else ''} could not be imported, "
                         f"so nothing was imported:\n{lines}")


class AdapterNotFound(WorkbenchError):
    """No adapter of that name (or id) in the project."""


class AdapterExists(WorkbenchError):
    """An adapter name already used in the project."""


class DatasetRejected(WorkbenchError):
    """A training dataset that cannot make a useful adapter: every problem is listed."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"This dataset cannot be used for training, so nothing was written:"
                         f"\n{lines}")


class TrainingBusy(WorkbenchError):
    """The same training run is already going in another live process."""


class LibraryBusy(WorkbenchError):
    """Another process held the library's write lock for longer than the busy timeout."""


class DatabaseUnavailable(WorkbenchError):
    """LONGHAND_DATABASE_URL is not a usable PostgreSQL URL, or its server cannot be reached."""
