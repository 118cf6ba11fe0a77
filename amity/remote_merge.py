"""The commit of a partner merge on a remote store: stage, count, then one update request.

The embedded store commits a merge on a private copy and publishes it by a rename (:func:`amity.merge._commit`).
A remote store has no copy to work on; what it has is one update request that is rolled back whole when it is
aborted, and staging graphs no query sees (``docs/remote-store.md`` §3). So the same five steps run, in this
order, under the state directory's write lock:

1. **check again** if another write was published since the upload was checked (as on the embedded store);
2. **compute**, locally, the graph's new content, the change to ``graph/derived`` (the derivations are
   evaluated in memory over the store's other input triples plus the new content: the same function as on
   the embedded store), the provenance record and the version bump;
3. **write the history file** of the new version into the state directory (before the commit, as on the
   embedded store: a recorded version always has its file);
4. **stage** the new content in a staging graph (Graph Store PUT) and count it against the distinct triples
   validated;
5. **commit** with one request: ``MOVE`` (replace, rollback), ``ADD`` (add) or ``DROP SILENT`` (delete) of the
   partner graph, ``DELETE DATA``/``INSERT DATA`` of the derived delta and of the provenance record, the
   version's ``DELETE DATA``/``INSERT DATA``, and the drop of the marker graph, last.

A failure before step 5 leaves the store as it was (staging is dropped); step 5 lands whole or not at all,
and the marker tells which after a lost answer. Readers never see the partner graph without its derived
triples or its provenance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pyoxigraph import NamedNode, Quad, RdfFormat, Triple, parse, serialize

from amity import derive, history
from amity.external import ExternalStore
from amity.merge import Timer, _now, _Write, derived_from, inputs_query, touches_derivations, write_answer
from amity.problems import NotFound
from amity.remote import PartialCommit, data_operations


def _triples(lines: set[str]) -> list[Triple]:
    body = "\n".join(sorted(lines)).encode()
    return [quad.triple for quad in parse(body, RdfFormat.N_TRIPLES)]


def _ntriples(triples: list[Triple]) -> bytes:
    return serialize(triples, format=RdfFormat.N_TRIPLES) or b""  # type: ignore[arg-type]


def _derived_delta(store: ExternalStore, graph: str, final: list[Triple]) -> tuple[set[str], set[str]]:
    """Derived triples to remove and to add once ``graph`` holds ``final``."""
    query = inputs_query(excluded=[graph])
    if query is None:
        raise NotImplementedError("a derivation that is not a CONSTRUCT over fixed predicates cannot be "
                                  "recomputed for a remote store")
    others = store.reader().query(query).serialize(format=RdfFormat.N_TRIPLES) or b""
    own = [t for t in final if touches_derivations([Quad(t.subject, t.predicate, t.object, NamedNode(graph))])]
    fresh = derived_from(others + b"\n" + _ntriples(own))
    current = {line for line in _ntriples(list(store.client.graph_triples(derive.DERIVED_GRAPH)))
               .decode().splitlines() if line.strip()}
    return current - fresh, fresh - current


def commit(store: ExternalStore, write: _Write, timer: Timer) -> dict[str, Any]:
    """Apply, derive, record and publish one partner write on a remote store (see the module notes)."""
    client = store.client
    graph = write.graph
    started = _now()
    t = time.perf_counter()
    written: Path | None = None
    try:
        with store.write_lock():
            t = timer.step("wait for the write lock", t)
            store.forget_reader()
            version = store.version()
            reader = store.reader()
            checked = write.checked
            if checked is not None and checked.checked_version != version and write.recheck is not None:
                checked = write.recheck(reader, version)  # another merge was published since the checks ran
                t = time.perf_counter()
            old = set(client.graph_triples(graph))
            existed = bool(old) or history.emptied(reader, graph)  # a remote store keeps no empty graphs
            if write.operation == "delete" and not existed:
                raise NotFound(f"there is no graph <{graph}>")
            previous = history.latest(reader, graph)
            number = previous + 1
            new = {q.triple for q in checked.quads} if checked is not None and write.operation != "delete" \
                else set()
            final = sorted(old | new if write.operation == "add" else new, key=str)
            t = timer.step("commit", t)
            as_quads = [Quad(x.subject, x.predicate, x.object, NamedNode(graph)) for x in final]
            old_quads = [Quad(x.subject, x.predicate, x.object, NamedNode(graph)) for x in old]
            if touches_derivations(as_quads) or (write.operation != "add" and touches_derivations(old_quads)):
                stale, added = _derived_delta(store, graph, final)
            else:
                stale, added = set(), set()
            derived = {"added": len(added), "removed": len(stale)}
            t = timer.step("derive", t)
            written = history.write_version(store.root, write.key, number, as_quads)
            t = timer.step("history", t)
            upload = write.upload
            record = history.record(history.Merge(
                graph=graph, key=write.key, version=number, operation=write.operation,
                partner_iri=write.partner.iri, partner_name=write.partner.name, started=started, ended=_now(),
                triples=len(final),
                upload_bytes=upload.size if upload else None, upload_sha256=upload.sha256 if upload else None,
                upload_format=upload.fmt.media_type if upload else None,
                upload_triples=len(checked.quads) if upload and checked else None,
                restored=write.restored,
            ))
            also = [data_operations("DELETE", derive.DERIVED_GRAPH, _triples(stale)) if stale else "",
                    data_operations("INSERT", derive.DERIVED_GRAPH, _triples(added)) if added else "",
                    data_operations("INSERT", history.PROVENANCE_GRAPH, [q.triple for q in record]),
                    store.version_operations(version)]
            staged = sorted(new, key=str) if write.operation == "add" else final
            client.atomic_write({graph: staged}, mode="add" if write.operation == "add" else "replace",
                                also=" ;\n".join(op for op in also if op), expected={graph: len(staged)})
            store.forget_reader()
            timer.step("publish", t)
    except PartialCommit:
        raise  # part of the commit landed: its history file stays with it, for the operator
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)  # nothing landed (StagedWrite.commit checked the marker)
        raise
    return write_answer(write, graph=graph, existed=existed, number=number, previous=previous, before=len(old),
                        after=len(final), checked=checked, derived=derived, version=version, upload=upload,
                        timer=timer)
