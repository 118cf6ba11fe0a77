"""Build the default graph: loaders → store → derived triples → SHACL → publish.

The new master is written into a directory no reader knows about and only
becomes current once every graph validates, so a failed or interrupted build
leaves the previous graph in service. Partner graphs and the provenance graph
of the previous master are carried over: a rebuild refreshes reference data,
it never loses what partners merged.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import NamedNode, Quad, Store

from amity import derive, graphmeta, iris
from amity.external import ExternalStore
from amity.graph_validation import Group, validate_groups
from amity.problems import BuildFailed
from amity.store import EmbeddedStore
from amity.validate import Report
from loaders import LOADERS
from loaders.base import BuildContext, RowProblem, Triple, Unmatched, no_blank_nodes
from loaders.places import PlaceIndex

#: Graphs that belong to partners or record their merges: kept across rebuilds.
PARTNER_PREFIX = iris.GRAPH + "partner/"
PROVENANCE_GRAPH = iris.graph("provenance")

Progress = Callable[[str, int | None], "ProgressBar"]


class ProgressBar:
    """What the build needs of a progress bar; the CLI passes tqdm, tests a silent one."""

    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def silent_progress(description: str, total: int | None) -> ProgressBar:
    return ProgressBar()


@dataclass
class GraphResult:
    graph: str
    triples: int
    seconds: float


@dataclass
class BuildReport:
    store: Path
    version: int = 0
    graphs: list[GraphResult] = field(default_factory=list)
    derived: dict[str, int] = field(default_factory=dict)
    carried_over: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    validation: dict[str, Report] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total_triples(self) -> int:
        return sum(g.triples for g in self.graphs) + sum(self.derived.values())

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.validation.values())


#: Graphs larger than this are validated in shards, one resource (with its ``#`` parts) never split.
SHARD_TRIPLES = 100_000


def validation_groups(graphs: list[str], sizes: dict[str, int] | None = None) -> list[Group]:
    """One group per source graph (large ones sharded); the derived shortcuts with the twinnings behind them.

    Largest first, so two worker processes finish close together.
    """
    sizes = sizes or {}
    groups: list[Group] = []
    for graph in graphs:
        if graph == derive.DERIVED_GRAPH:
            continue
        shards = max(1, -(-sizes.get(graph, 0) // SHARD_TRIPLES))
        groups += [Group(iris.key_of(graph) + (f"#{i + 1}/{shards}" if shards > 1 else ""), (graph,),
                         shard=i, shards=shards) for i in range(shards)]
    groups.sort(key=lambda g: -sizes.get(g.graphs[0], 0) / g.shards)
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    # The derived graph states shortcuts about resources described elsewhere: only the shortcut shapes apply.
    groups.append(Group("derived", (derive.DERIVED_GRAPH,), context=(
        (iris.ONTOLOGY + "party", None), (iris.ONTOLOGY + "status", None), (rdf_type, iris.ONTOLOGY + "Twinning"),
    ), only=(iris.SHAPES + "TwinnedWithShape", iris.SHAPES + "TwinnedWithRulesShape")))
    return groups


def _quads(triples: Iterator[Triple], graph: NamedNode, counter: list[int], bar: ProgressBar
           ) -> Iterator[Quad]:
    n = 0
    for triple in triples:
        s, p, o = no_blank_nodes(triple)
        yield Quad(s, p, o, graph)
        n += 1
        if n % 5000 == 0:
            bar.update(5000)
    bar.update(n % 5000)
    counter[0] = n


def _new_master(store: EmbeddedStore | ExternalStore) -> tuple[Path, int]:
    """Where the new master is built: the store's next ``db-`` directory, or, for a remote store, a scratch
    pyoxigraph store in its state directory (derivation and validation need a local store either way)."""
    if isinstance(store, ExternalStore):
        scratch = store.root / "build" / "master"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.parent.mkdir(parents=True, exist_ok=True)
        return scratch, store.version() + 1
    return store.next_master_dir()


def build(store: EmbeddedStore | ExternalStore, *, progress: Progress = silent_progress, workers: int = 2,
          loaders: tuple[str, ...] = LOADERS, context: BuildContext | None = None) -> BuildReport:
    """Build every bundled source into a new master of ``store`` and publish it.

    On a remote store the master is built, derived and validated locally the same way, then published with
    :func:`amity.remote_publish.publish`: staged with the bulk loader, made visible by one update request.
    Partner graphs and the provenance graph stay where they are (they are read for derivation and
    revalidation, never rewritten).

    :raises BuildFailed: if any graph violates the shapes; nothing is published then.
    """
    report = BuildReport(store.root)
    ctx = context or BuildContext()
    started = time.perf_counter()
    with store.write_lock():
        master_dir, version = _new_master(store)
        master = Store(str(master_dir))
        try:
            t = time.perf_counter()
            if ctx.places is None:
                ctx.places = PlaceIndex.build(ctx)
            report.timings["reconcile places"] = time.perf_counter() - t

            meta: list[Triple] = []
            for module_name in loaders:
                module = importlib.import_module(module_name)
                t = time.perf_counter()
                bar = progress(iris.key_of(module.GRAPH), None)
                counter = [0]
                master.bulk_extend(_quads(module.triples(ctx), NamedNode(module.GRAPH), counter, bar))
                bar.close()
                report.graphs.append(GraphResult(module.GRAPH, counter[0], time.perf_counter() - t))
                meta.extend(graphmeta.describe(module.GRAPH, module.SOURCE, counter[0], module_name))
            master.bulk_extend(Quad(s, p, o, NamedNode(graphmeta.META_GRAPH)) for s, p, o in meta)
            report.graphs.append(GraphResult(graphmeta.META_GRAPH, len(meta), 0.0))

            t = time.perf_counter()
            carried = _carry_over_partner_graphs(store, master)
            report.carried_over = sum(carried.values())
            report.timings["carry over partner graphs"] = time.perf_counter() - t

            t = time.perf_counter()
            report.derived = derive.materialise(master)
            report.timings["derive"] = time.perf_counter() - t

            t = time.perf_counter()
            sizes = {g.graph: g.triples for g in report.graphs}
            report.validation = _validate(master, master_dir, [g.graph for g in report.graphs] +
                                          [derive.DERIVED_GRAPH], workers, progress, sizes)
            # Partner graphs are checked as their merge checked them: together with the new reference data
            # about the resources they speak of (alone, a graph adding one name to a city would fail).
            from amity.merge import revalidate

            for graph in sorted(carried):
                report.validation["partner " + graph[len(PARTNER_PREFIX):]] = revalidate(master, graph)[0]
            report.timings["validate"] = time.perf_counter() - t
            if report.violations:
                raise BuildFailed(
                    f"{report.violations} SHACL violation(s); nothing was published",
                    extra={"reports": {name: r.as_json() for name, r in report.validation.items()
                                       if not r.conforms}},
                )
            t = time.perf_counter()
            if isinstance(store, ExternalStore):
                report.version = _publish_remote(store, master, set(carried))
                shutil.rmtree(master_dir, ignore_errors=True)
            else:
                report.version = store.publish_new_master(master, master_dir, version).version
            report.timings["publish"] = time.perf_counter() - t
        except BaseException:
            del master
            shutil.rmtree(master_dir, ignore_errors=True)
            raise
        del master
    report.problems = ctx.problems
    report.unmatched = ctx.unmatched
    write_reports(store.root / "reports", report)
    report.timings["total"] = time.perf_counter() - started
    return report


def write_reports(directory: Path, report: BuildReport) -> None:
    """Keep the unmatched entities and unused rows next to the store, for curators to work through."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "unmatched.tsv", "w") as out:
        out.write("source\tkey\tlabel\treason\n")
        for u in report.unmatched:
            out.write(f"{u.source}\t{u.key}\t{u.label}\t{u.reason}\n")
    with open(directory / "problems.txt", "w") as out:
        out.writelines(f"{problem}\n" for problem in report.problems)


def _is_kept(graph: str) -> bool:
    """Graphs a rebuild keeps: partners' graphs and the record of their merges."""
    return graph.startswith(PARTNER_PREFIX) or graph == PROVENANCE_GRAPH


def _publish_remote(store: ExternalStore, master: Store, kept: set[str]) -> int:
    """Publish every graph the build made; reference graphs it no longer makes are dropped, partners' stay."""
    from amity.remote_publish import publish

    master.flush()
    store.client.drop_stale_staging()  # what writers that died an hour or more ago left behind
    graphs = sorted(g.value for g in master.named_graphs() if g.value not in kept and not _is_kept(g.value))
    return publish(store, master, graphs, drop=lambda graph: not _is_kept(graph)).version


def _carry_over_partner_graphs(store: EmbeddedStore | ExternalStore, master: Store) -> dict[str, int]:
    """Copy partner graphs and the merge provenance from the current master, if there is one.

    On a remote store they are copied into the local master for derivation and revalidation only; the
    publish leaves the store's own copies untouched.
    """
    if not store.exists():
        return {}
    if isinstance(store, ExternalStore):
        counts: dict[str, int] = {}
        for graph in store.client.named_graphs():
            if _is_kept(graph.value):
                quads = [Quad(t.subject, t.predicate, t.object, graph)
                         for t in store.client.graph_triples(graph.value)]
                master.bulk_extend(quads)
                counts[graph.value] = len(quads)
        return counts
    previous = Store.read_only(str(store.root / store.state().snapshot))
    kept = [g for g in previous.named_graphs() if _is_kept(g.value)]
    counts = {}
    for graph in kept:
        quads = list(previous.quads_for_pattern(None, None, None, graph))
        master.bulk_extend(quads)
        counts[graph.value] = len(quads)
    return counts


def _validate(master: Store, master_dir: Path, graphs: list[str], workers: int,
              progress: Progress, sizes: dict[str, int]) -> dict[str, Report]:
    """Validate a frozen copy of the new master, so worker processes can open it read-only."""
    candidate = master_dir.with_name(master_dir.name + "-candidate")
    shutil.rmtree(candidate, ignore_errors=True)
    master.flush()
    master.backup(str(candidate))
    try:
        groups = validation_groups(graphs, sizes)
        bar = progress("validate", len(groups))
        reports: dict[str, Report] = {}
        for name, result, _size in validate_groups(candidate, groups, workers=workers):
            reports[name] = result
            bar.update(1)
        bar.close()
        return reports
    finally:
        shutil.rmtree(candidate, ignore_errors=True)
