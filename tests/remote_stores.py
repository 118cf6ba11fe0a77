"""The same test data on either store: helpers that let one test run on the embedded store and on Virtuoso.

The endpoint, saved-query and partner suites are parametrised over :data:`STORE_KINDS` (``conftest.py``).
What differs between the two is here: how a store is filled with given quads, how a test compares a store
before and after (``dump``), how the command line and a second handle reach it.

Two throwaway Virtuoso servers serve a test session (``tests/virtuoso.py``): one holds the built default
graph and is never written; the other is reset and refilled for each test that writes (a few hundred quads:
well under a second), so partner tests stay independent as they are on the embedded store.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyoxigraph import Quad, Store

from amity import iris
from amity.external import STATE_GRAPH, VERSION_PREDICATE, ExternalStore
from amity.remote import VIRTUOSO, RemoteStore
from amity.remote_publish import publish
from amity.store import EmbeddedStore

STORE_KINDS = ("embedded", "virtuoso")


def client_for(server, graph_prefix: str = iris.GRAPH) -> RemoteStore:
    """A client for a test server, as ``amity serve --store sparql+http://…`` would configure it."""
    return server.remote_store(**VIRTUOSO, bulk_loader=None, graph_prefix=graph_prefix)


def reset(store: ExternalStore) -> None:
    """Drop every graph of the store's prefix (staging included) and its version."""
    client = store.client
    graphs = [g.value for g in client.named_graphs(include_staging=True)]
    operations = [f"DROP SILENT GRAPH <{graph}>" for graph in graphs]
    operations.append(f"DELETE WHERE {{ GRAPH <{STATE_GRAPH}> {{ <{store.version_subject}> "
                      f"<{VERSION_PREDICATE}> ?n }} }}")
    client.update(" ;\n".join(operations))
    store.forget_reader()


def remote_store(server, quads: Iterable[Quad], root: Path, *, graph_prefix: str = iris.GRAPH,
                 fresh: bool = True) -> ExternalStore:
    """An :class:`ExternalStore` on ``server`` holding exactly ``quads`` (published as version 1)."""
    store = ExternalStore(client_for(server, graph_prefix), root, kind="virtuoso")
    if fresh:
        reset(store)
    quads = list(quads)
    graphs = sorted({q.graph_name.value for q in quads})
    with store.write_lock():
        publish(store, quads, graphs)
    return store


def from_embedded(server, source: EmbeddedStore, root: Path, **options) -> ExternalStore:
    """A remote copy of an embedded store's published graph."""
    return remote_store(server, source.reader(), root, **options)


def dump(store: EmbeddedStore | ExternalStore) -> bytes:
    """Every quad of the published store, as sorted N-Quads: equal bytes, equal store."""
    if isinstance(store, ExternalStore):
        reader = ExternalStore(store.client, store.root, kind=store.kind).reader()
        lines = sorted(str(quad) for quad in reader)
    else:
        snapshot = Store.read_only(str(store.root / store.state().snapshot))
        lines = sorted(str(quad) for quad in snapshot)
    return "\n".join(lines).encode()


def reopen(store: EmbeddedStore | ExternalStore) -> EmbeddedStore | ExternalStore:
    """A second, independent handle on the same store (what another process would open)."""
    if isinstance(store, ExternalStore):
        return ExternalStore(RemoteStore(**_client_settings(store.client)), store.root, kind=store.kind)
    return EmbeddedStore(store.root)


def _client_settings(client: RemoteStore) -> dict:
    return {"query_url": client.query_url, "update_url": client.update_url, "gsp_url": client.gsp_url,
            "credentials": client.credentials, "graph_prefix": client.graph_prefix,
            "time_limit_parameter": client.time_limit_parameter, "datatype_aliases": client.datatype_aliases}


def cli(store: EmbeddedStore | ExternalStore) -> tuple[list[str], dict[str, str]]:
    """``--store`` arguments and environment that make ``amity …`` open this store."""
    if isinstance(store, ExternalStore):
        return ["--store", store.spec], store.environment()
    return ["--store", str(store.root)], {}
