"""Dataset statistics for the service and VoID descriptions, computed once per published version."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyoxigraph import Store

from amity import iris


@dataclass(frozen=True)
class GraphStats:
    graph: str
    triples: int


_cache: dict[tuple[str, int], list[GraphStats]] = {}
_lock = threading.Lock()


def graph_sizes(store: Store, cache_key: tuple[str, int]) -> list[GraphStats]:
    """Triples per named graph, sorted by graph IRI; cached by (store root, version)."""
    with _lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    rows = store.query("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g")
    stats = [GraphStats(row["g"].value, int(row["n"].value)) for row in rows]
    with _lock:
        _cache.clear()
        _cache[cache_key] = stats
    return stats


def is_reference_graph(graph: str) -> bool:
    """Graphs the build makes (as opposed to partners' graphs and the merge record)."""
    return graph.startswith(iris.GRAPH) and not graph.startswith(iris.GRAPH + "partner/") \
        and graph != iris.graph("provenance")
