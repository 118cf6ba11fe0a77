"""Amity's store on an external SPARQL store: the graph there, the local state in a directory.

:class:`ExternalStore` is what :class:`~amity.store.EmbeddedStore` is for the embedded store — the object
the service, the build, the merges and the command line hold — with the graph in a remote store reached
through :class:`~amity.remote.RemoteStore` (standard protocols only). Three things live beside the graph:

* **the version**: one triple ``<{graph prefix}> <urn:x-amity:version> N`` in the graph
  ``urn:x-amity:state``, outside Amity's graph prefix (so no query, dump or VoID sees it). Every commit (a
  build's publish, a partner merge) rewrites it in the same update request as its data, so the version
  changes exactly when readers can see the new data; caches keyed on ``(root, version)`` follow it.
* **the state directory** (``root``, ``AMITY_STATE_DIR``): the partner registry, the history files of partner
  graphs, build reports, upload spool files and dumps — as in the embedded store's root. App servers that
  take partner writes or serve history must share it (one writer host, or a shared volume); read-only app
  servers need none of it but the dumps they cache.
* **the write lock**: a file lock in the state directory, taken by builds, merges and registry changes. It
  serialises the writers that share the directory; the store itself has no lock any standard protocol
  could take safely, so a deployment keeps one writer (``docs/remote-store.md`` §3, §5).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path

from pyoxigraph import NamedNode

from amity.problems import ServiceUnavailable
from amity.remote import RemoteStore
from amity.remote_reader import RemoteReader
from amity.store import directory_lock

#: The graph holding the version triple; outside every graph prefix, so never in a union or a listing.
STATE_GRAPH = "urn:x-amity:state"
VERSION_PREDICATE = "urn:x-amity:version"


class ExternalStore:
    """A remote SPARQL store holding Amity's graph, plus a local state directory.

    :param client: the protocol client for the store.
    :param root: the state directory (partner registry, history, reports, uploads, dumps).
    :param kind: the store's preset name (``virtuoso``, ``fuseki``…), passed on to servers started from here.
    :param reader_ttl: seconds a reader is reused before the version is checked again; a write in this
        process refreshes it at once.
    """

    def __init__(self, client: RemoteStore, root: str | os.PathLike[str], *, kind: str = "generic",
                 reader_ttl: float = 0.5) -> None:
        self.client = client
        self.root = Path(root)
        self.kind = kind
        self.reader_ttl = reader_ttl
        self._reader: RemoteReader | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def spec(self) -> str:
        """What ``--store`` / ``AMITY_STORE`` holds for this store."""
        return "sparql+" + self.client.query_url

    def __repr__(self) -> str:
        return f"ExternalStore({self.spec!r}, state in {str(self.root)!r})"

    # -- version -------------------------------------------------------------------------------------

    @property
    def version_subject(self) -> str:
        return self.client.graph_prefix

    def version(self) -> int:
        """The published version: 0 before the first build (one small query, never cached)."""
        text = (f"SELECT (MAX(?n) AS ?v) WHERE {{ GRAPH <{STATE_GRAPH}> {{ "
                f"<{self.version_subject}> <{VERSION_PREDICATE}> ?n }} }}")
        for row in self.client.evaluate(text, named_graphs=[STATE_GRAPH]):  # type: ignore[union-attr]
            value = row["v"]
            if value is not None and value.value:
                return int(value.value)
        return 0

    def exists(self) -> bool:
        """True once a build has published a graph here."""
        return self.version() > 0

    def version_operations(self, current: int) -> str:
        """``DELETE DATA`` / ``INSERT DATA`` moving the version from ``current`` to ``current + 1``.

        Data operations only, so they can go in a staged commit's ``also``. If another writer moved the
        version meanwhile, the ``DELETE DATA`` removes nothing and two values remain: :meth:`version` takes
        the largest, so the version still never goes back.
        """
        subject, predicate = NamedNode(self.version_subject), NamedNode(VERSION_PREDICATE)
        graph = NamedNode(STATE_GRAPH)

        def triple(n: int) -> str:
            return f'{subject} {predicate} "{n}"^^<http://www.w3.org/2001/XMLSchema#integer>'

        operations = [f"INSERT DATA {{ GRAPH {graph} {{ {triple(current + 1)} }} }}"]
        if current > 0:
            operations.insert(0, f"DELETE DATA {{ GRAPH {graph} {{ {triple(current)} }} }}")
        return " ;\n".join(operations)

    # -- reading -------------------------------------------------------------------------------------

    def reader(self) -> RemoteReader:
        """A reader tagged with the current version, checked at most every ``reader_ttl`` seconds.

        The same object is returned while the version stands, so caches keyed on the reader (the place
        resolvers) are rebuilt when, and only when, a write was published.
        """
        now = time.monotonic()
        with self._lock:
            if self._reader is not None and now - self._checked < self.reader_ttl:
                return self._reader
        version = self.version()
        if version == 0:
            raise ServiceUnavailable(f"no graph has been published to {self.spec} yet: run `amity build` "
                                     "with the same --store")
        with self._lock:
            if self._reader is None or self._reader.version != version:
                self._reader = RemoteReader(self.client, version=version)
            self._checked = now
            return self._reader

    def forget_reader(self) -> None:
        """After a write: the next :meth:`reader` call checks the version again."""
        with self._lock:
            self._checked = 0.0
        self.client.forget_graph_list()

    # -- writing -------------------------------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        """Exclusive across the processes that share the state directory (see the module notes)."""
        return directory_lock(self.root)

    def environment(self) -> dict[str, str]:
        """``AMITY_STORE*`` variables that open this same store in another process (a served app)."""
        client = self.client
        env = {
            "AMITY_STORE": self.spec,
            "AMITY_STATE_DIR": str(self.root.resolve()),
            "AMITY_STORE_KIND": self.kind,
            "AMITY_STORE_UPDATE_URL": client.update_url,
            "AMITY_STORE_GSP_URL": client.gsp_url or "",
            "AMITY_STORE_AUTH": client.auth_kind,
            "AMITY_STORE_GRAPH_PREFIX": client.graph_prefix,
        }
        if client.credentials:
            env["AMITY_STORE_USER"], env["AMITY_STORE_PASSWORD"] = client.credentials
        return env
