"""Gzipped N-Quads dumps of the whole dataset and of each graph, made once per published version.

A dump is written to a temporary file and renamed into place, so a reader
never gets half a file, and it is kept until a newer version replaces it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from pathlib import Path

from pyoxigraph import NamedNode, RdfFormat, serialize

from amity import iris
from amity.problems import NotFound
from amity.stores import AmityStore

_lock = threading.Lock()


def dump_name(graph: str | None) -> str:
    """``amity.nq.gz`` for everything, ``graph/{name}.nq.gz`` for one graph."""
    if graph is None:
        return "amity.nq.gz"
    if not graph.startswith(iris.GRAPH):
        raise NotFound(f"only our own graphs have dumps, not <{graph}>")
    return "graph/" + graph[len(iris.GRAPH):] + ".nq.gz"


def dump(store: AmityStore, graph: str | None = None) -> Path:
    """The dump file for the current version, written now if it does not exist yet.

    On a remote store the file is kept in the state directory, so each app server writes it once per
    version and serves it from disk after that.

    :raises NotFound: for a graph the store does not have.
    """
    version = store.version()
    reader = store.reader()
    try:
        known = graph is None or reader.contains_named_graph(NamedNode(graph))
    except ValueError:  # not even a valid IRI
        known = False
    if not known:
        raise NotFound(f"there is no graph <{graph}>")
    directory = store.root / "dumps" / f"v{version:06d}"
    path = directory / dump_name(graph)
    if path.exists():
        return path
    with _lock:
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wb", compresslevel=6) as out:
            if graph is None:
                reader.dump(out, RdfFormat.N_QUADS)
            else:
                serialize(reader.quads_for_pattern(None, None, None, NamedNode(graph)), out, RdfFormat.N_QUADS)
        os.replace(tmp, path)
        for old in (store.root / "dumps").glob("v*"):
            if old.name != directory.name:
                shutil.rmtree(old, ignore_errors=True)
    return path
