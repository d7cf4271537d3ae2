"""The stores that share a Library's engine: jobs, adapters, trust results, remote models,
comparisons, API client keys and usage rows, each made on first use and then shared by every caller in the process.

Why on the Library: the engine (a connection pool to the SQLite file or the PostgreSQL server)
and the migration to head belong to the one Library a process opens; a store built per call
would open another pool and migrate again each time (the Synthesize tab once did, on every
project change). A store made here does not dispose the shared engine on `close()`.
Does not know: the tables' rows (each *_store.py) or the engine's dialect (db.py).
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.library.adapters_store import AdapterStore
    from workbench.library.comparisons_store import ComparisonStore
    from workbench.library.jobs_store import JobStore
    from workbench.library.keys_store import KeyStore
    from workbench.library.remotes_store import RemoteModelStore
    from workbench.library.trust_store import TrustStore
    from workbench.library.usage_store import UsageStore


class LibraryStores:
    _engine: object

    @cached_property
    def jobs(self) -> JobStore:
        from workbench.library.jobs_store import JobStore
        return JobStore(self._engine)

    @cached_property
    def adapters(self) -> AdapterStore:
        from workbench.library.adapters_store import AdapterStore
        return AdapterStore(self._engine)

    @cached_property
    def trust(self) -> TrustStore:
        from workbench.library.trust_store import TrustStore
        return TrustStore(self._engine)

    @cached_property
    def remotes(self) -> RemoteModelStore:
        from workbench.library.remotes_store import RemoteModelStore
        return RemoteModelStore(self._engine)

    @cached_property
    def comparisons(self) -> ComparisonStore:
        from workbench.library.comparisons_store import ComparisonStore
        return ComparisonStore(self._engine)

    @cached_property
    def keys(self) -> KeyStore:
        from workbench.library.keys_store import KeyStore
        return KeyStore(self._engine)

    @cached_property
    def usage(self) -> UsageStore:
        from workbench.library.usage_store import UsageStore
        return UsageStore(self._engine)
