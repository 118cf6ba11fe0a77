"""The store interface Amity is written against, and the factory that picks an implementation.

Two implementations:

* :class:`~amity.store.EmbeddedStore` — pyoxigraph on local disk with copy-on-write snapshots (the default);
* :class:`~amity.external.ExternalStore` — any SPARQL 1.1 store spoken to over the standard protocols
  (Virtuoso, Fuseki, GraphDB, Oxigraph server, QLever), plus a local state directory.

``--store`` / ``AMITY_STORE`` chooses: a value starting ``sparql+http://`` or ``sparql+https://`` is a remote
store's query endpoint (the rest of its settings come from ``AMITY_STORE_*``, see
:meth:`amity.remote.RemoteStore.from_url`), anything else a directory for the embedded store.

Both offer what the service, the build and the merges need (:class:`AmityStore`); code that must write
differently (the build's publish, a merge's commit) asks :func:`is_external`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pyoxigraph import NamedNode, Quad

from amity.external import ExternalStore
from amity.store import EmbeddedStore

REMOTE_SCHEMES = ("sparql+http://", "sparql+https://")
DEFAULT_STORE = "var/store"
DEFAULT_STATE_DIR = "var/state"


class ReadableStore(Protocol):
    """What Amity reads through: the subset of ``pyoxigraph.Store`` both implementations answer."""

    def query(self, query: str, **options: Any) -> Any: ...

    def quads_for_pattern(self, subject: Any = None, predicate: Any = None, object: Any = None,  # noqa: A002
                          graph_name: Any = None) -> Iterator[Quad]: ...

    def named_graphs(self) -> Iterator[NamedNode]: ...

    def contains_named_graph(self, graph: Any) -> bool: ...

    def dump(self, output: Any = None, format: Any = None, **options: Any) -> bytes | None: ...  # noqa: A002


@runtime_checkable
class AmityStore(Protocol):
    """A published graph with a version, a local directory for Amity's files, and a writers' lock."""

    root: Path

    @property
    def spec(self) -> str: ...

    def exists(self) -> bool: ...

    def version(self) -> int: ...

    def reader(self) -> Any: ...

    def write_lock(self) -> AbstractContextManager[None]: ...


def is_remote_spec(spec: str | os.PathLike[str]) -> bool:
    """
    >>> is_remote_spec("sparql+http://127.0.0.1:8890/sparql"), is_remote_spec("var/store")
    (True, False)
    """
    return str(spec).startswith(REMOTE_SCHEMES)


def is_external(store: object) -> bool:
    return isinstance(store, ExternalStore)


def default_spec(env: Mapping[str, str] | None = None) -> str:
    """``$AMITY_STORE``, else ``var/store``."""
    env = os.environ if env is None else env
    return env.get("AMITY_STORE") or DEFAULT_STORE


def open_store(spec: str | os.PathLike[str] | None = None, *, state_dir: str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> EmbeddedStore | ExternalStore:
    """The store ``spec`` names (default :func:`default_spec`).

    For a remote store, ``state_dir`` (default ``$AMITY_STATE_DIR``, else ``var/state``) holds the local
    state (:mod:`amity.external`); ``AMITY_STORE_GRAPH_PREFIX`` narrows the graphs Amity treats as its own,
    and ``AMITY_STORE_ISQL`` (``host:port``, with ``AMITY_STORE_ISQL_USER``/``_PASSWORD`` and
    ``AMITY_STORE_LOAD_DIR``, a folder Virtuoso's ``DirsAllowed`` lists) switches builds to Virtuoso's bulk
    loader.
    """
    env = os.environ if env is None else env
    spec = str(spec) if spec is not None else default_spec(env)
    if not is_remote_spec(spec):
        return EmbeddedStore(spec)
    from amity.remote import RemoteStore, VirtuosoBulkLoader

    options: dict[str, Any] = {}
    if env.get("AMITY_STORE_GRAPH_PREFIX"):
        options["graph_prefix"] = env["AMITY_STORE_GRAPH_PREFIX"]
    if env.get("AMITY_STORE_ISQL") and env.get("AMITY_STORE_LOAD_DIR"):
        from amity.remote import IsqlRunner

        isql = IsqlRunner(env["AMITY_STORE_ISQL"], env.get("AMITY_STORE_ISQL_USER", "dba"),
                          env.get("AMITY_STORE_ISQL_PASSWORD", ""))
        options["bulk_loader"] = VirtuosoBulkLoader(isql, env["AMITY_STORE_LOAD_DIR"],
                                                    env.get("AMITY_STORE_SERVER_LOAD_DIR") or None)
    client = RemoteStore.from_url(spec, env, **options)
    root = state_dir or env.get("AMITY_STATE_DIR") or DEFAULT_STATE_DIR
    return ExternalStore(client, root, kind=env.get("AMITY_STORE_KIND", "generic").lower())
