"""What one running Amity holds: the store, the query executor and the limits.

The web layer reaches it through ``current_app.extensions["amity"]`` and the
command line builds one directly, so neither imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amity.executor import QUERY_MEMORY_BYTES, WORKER_MEMORY_BYTES, InProcess, QueryPool
from amity.external import ExternalStore
from amity.remote_executor import RemoteExecutor
from amity.result_cache import CachingExecutor, ResultCache
from amity.sparql import DEFAULT_ROW_CAP, Binding, Prepared, prepare
from amity.store import EmbeddedStore
from amity.stores import default_spec, open_store


@dataclass
class Settings:
    """Limits and switches of one service; :meth:`from_env` reads ``AMITY_*`` variables."""

    store_path: str | Path = "var/store"  # a directory, or a remote store's sparql+http(s):// URL
    query_timeout: float = 30.0
    row_cap: int = DEFAULT_ROW_CAP
    query_workers: int = 2
    max_request_bytes: int = 10 * 1024 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    service_allowlist: tuple[str, ...] = ()
    result_cache_bytes: int = 32 * 1024 * 1024  # per web process; 0 turns the cache off
    query_worker_bytes: int = WORKER_MEMORY_BYTES  # a query process grown past this is replaced after its query
    query_memory_bytes: int = QUERY_MEMORY_BYTES  # a query holding more is stopped; 0 turns the limit off

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "store_path": default_spec(env),
            "query_timeout": float(env.get("AMITY_QUERY_TIMEOUT", "30")),
            "row_cap": int(env.get("AMITY_ROW_CAP", str(DEFAULT_ROW_CAP))),
            "query_workers": int(env.get("AMITY_QUERY_WORKERS", "2")),
            "max_request_bytes": int(env.get("AMITY_MAX_REQUEST_BYTES", str(10 * 1024 * 1024))),
            "max_upload_bytes": int(env.get("AMITY_MAX_UPLOAD_BYTES", str(200 * 1024 * 1024))),
            "service_allowlist": tuple(env.get("AMITY_SERVICE_ALLOWLIST", "").split()),
            "result_cache_bytes": int(float(env.get("AMITY_RESULT_CACHE_MB", "32")) * 1024 * 1024),
            "query_worker_bytes": int(float(env.get("AMITY_QUERY_WORKER_MB", WORKER_MEMORY_BYTES / 2**20)) * 2**20),
            "query_memory_bytes": int(float(env.get("AMITY_QUERY_MEMORY_MB", QUERY_MEMORY_BYTES / 2**20)) * 2**20),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


class Amity:
    """The store plus the executor that runs queries against it."""

    def __init__(self, settings: Settings, *, store: EmbeddedStore | ExternalStore | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings.store_path)
        if isinstance(self.store, ExternalStore):
            # The remote store enforces the time limit itself: no query processes (amity/remote_executor.py).
            self.executor: QueryPool | InProcess | RemoteExecutor | CachingExecutor = RemoteExecutor(
                self.store, timeout=settings.query_timeout)
        elif settings.query_workers > 0:
            self.executor = QueryPool(
                self.store.root, size=settings.query_workers, timeout=settings.query_timeout,
                max_worker_memory=settings.query_worker_bytes, query_memory=settings.query_memory_bytes,
            )
        else:
            self.executor = InProcess(self.store.root)
        if isinstance(self.store, EmbeddedStore) and settings.result_cache_bytes > 0:
            # Only here: a published snapshot never changes, while a remote store may be written by others.
            self.executor = CachingExecutor(self.executor, self.store.current_file,
                                            ResultCache(settings.result_cache_bytes))

    def prepare(self, text: str, *, accept: str | None = None, format_name: str | None = None,
                default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = (),
                substitutions: tuple[Binding, ...] = ()) -> Prepared:
        return prepare(text, accept=accept, format_name=format_name, default_graphs=default_graphs,
                       named_graphs=named_graphs, service_allowlist=self.settings.service_allowlist,
                       row_cap=self.settings.row_cap, substitutions=substitutions)

    def run(self, prepared: Prepared) -> Iterable[bytes]:
        return self.executor.run(prepared)

    def close(self) -> None:
        self.executor.close()
