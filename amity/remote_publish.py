"""Publishing graphs built locally onto a remote store, all at once: the build's last step.

A build derives and validates into a temporary pyoxigraph store (validation needs one). On a remote store
the result is then staged with the store's fastest loader (:meth:`RemoteStore.bulk_load`: Virtuoso's bulk
loader when configured, else Graph Store ``POST`` of 50 000-triple N-Triples chunks), counted, and made
visible by one update request (:class:`~amity.remote.StagedWrite`: ``MOVE`` per graph, ``DROP SILENT`` of
graphs the build no longer makes, the version bump, the marker). Readers see the old graph until that
request commits and the new one after it; a failure before it leaves the published graph untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pyoxigraph import NamedNode, Quad, Store

from amity.external import ExternalStore


@dataclass
class Published:
    """What a publish did: triples per graph, graphs dropped, the new version, seconds per step."""

    counts: dict[str, int]
    dropped: list[str]
    version: int
    timings: dict[str, float] = field(default_factory=dict)


def _quads(source: Store, graphs: Sequence[str]) -> Iterator[Quad]:
    for graph in graphs:
        yield from source.quads_for_pattern(None, None, None, NamedNode(graph))


def publish(store: ExternalStore, source: Store | Iterable[Quad], graphs: Sequence[str], *,
            drop: Callable[[str], bool] = lambda graph: False) -> Published:
    """Replace ``graphs`` on the remote store with their content in ``source``, in one commit.

    Call under ``store.write_lock()``. Graphs the store has that are not in ``graphs`` stay, unless ``drop``
    says so (the build drops reference graphs it no longer makes; partner graphs always stay). ``source`` is
    a pyoxigraph store, or quads already limited to ``graphs``.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    client = store.client
    current = store.version()
    existing = {graph.value for graph in client.named_graphs()}
    quads = _quads(source, graphs) if isinstance(source, Store) else source
    if current == 0 and not existing:
        # The first publication on an empty store: nobody can read before the version exists (readers answer
        # 503 until then), so the graphs load in place and the version, written last, publishes them.
        counts = client.bulk_load(quads)
        timings["stage"] = time.perf_counter() - started
        t = time.perf_counter()
        client.update(store.version_operations(0))
        timings["commit"] = time.perf_counter() - t
        store.forget_reader()
        return Published({target: counts.get(target, 0) for target in graphs}, [], 1, timings)
    with client.begin_write() as write:
        counts = client.bulk_load(quads, rename=write.graph)
        timings["stage"] = time.perf_counter() - started
        # bulk_load counts under the staging names; the commit compares per target graph.
        expected = {target: counts.get(staging, 0) for target, staging in write.staged.items()}
        dropped = sorted(graph for graph in existing - set(graphs) if drop(graph))
        for graph in [*graphs, *dropped]:
            write.graph(graph)  # a graph with nothing staged is dropped by the commit
        t = time.perf_counter()
        write.commit(also=store.version_operations(current), expected=expected)
        timings["commit"] = time.perf_counter() - t
    store.forget_reader()
    return Published({target: expected.get(target, 0) for target in graphs}, dropped, current + 1, timings)
