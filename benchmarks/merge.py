"""Partner merges of 1k, 10k and 100k triples on the real default graph: where the time goes, and peak memory.

    .venv/bin/python benchmarks/merge.py [--store var/store] [--sizes 1000,10000,100000]

Each size runs in a fresh process on a private copy of the store (``amity.store.clone``: hard links, the store
is not touched), so peak RSS is the merge's own. The partner data is generated from real cities of the store,
named the way partners name them, by Wikidata IRI, so reconciliation has work to do: twinnings between cities
(7 triples each), memberships of existing networks (6) and headline figures about cities (6), in a 6:2:2 mix
by triples. Per size it prints parse, reconcile, validate and commit (replace the graph; then recompute the
derived graph, write the history file, publish the snapshot) beside pyoxigraph's own ``bulk_load`` of the same
file into an empty on-disk store and its transactional ``load``. A last run adds 10k triples to the graph of
the 100k run, to show that validation follows the upload, not the graph it is added to.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyoxigraph import NamedNode, Quad, RdfFormat, Store, parse, serialize  # noqa: E402

from amity import iris, merge  # noqa: E402
from amity.ns import PREFIXES  # noqa: E402
from amity.partners import Registry  # noqa: E402
from amity.store import EmbeddedStore, clone, default_root  # noqa: E402

PARTNER = "bench"
GRAPH = iris.partner_graph(PARTNER) + "/strategies"
SOURCE = "https://example.org/partner-report-2024"
MEASURES = ("friendship-cities", "friendship-city-countries", "partner-cities", "consulates")


def reference_sample(store: EmbeddedStore, seed: int) -> tuple[list[str], list[str]]:
    """QIDs of cities the store knows, and keys of the networks it holds."""
    reader = store.reader()
    qids = sorted(row["q"].value for row in reader.query(
        "SELECT DISTINCT ?q WHERE { ?c a cdo:City ; cdo:wikidataId ?q }", prefixes=PREFIXES,
        use_default_graph_as_union=True))
    networks = sorted(iris.key_of(row["o"].value) for row in reader.query(
        "SELECT DISTINCT ?o WHERE { ?o a cdo:CityNetwork }", prefixes=PREFIXES,
        use_default_graph_as_union=True))
    rng = random.Random(seed)
    rng.shuffle(qids)
    return qids, networks


def partner_turtle(triples: int, qids: list[str], networks: list[str], seed: int,
                   taken: set[tuple[str, ...]] | None = None) -> str:
    """About ``triples`` triples of partner data in Turtle, cities named by Wikidata IRIs.

    ``taken`` holds the twinnings, memberships and figures already generated (and is extended), so a second
    upload added to the first describes new nodes instead of giving old ones a second date.
    """
    rng = random.Random(seed)
    lines = [f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()] + [
        "@prefix tt: <https://w3id.org/citydiplomacy/vocab/twinning-type/> .",
        "@prefix ts: <https://w3id.org/citydiplomacy/vocab/twinning-status/> .",
        "@prefix role: <https://w3id.org/citydiplomacy/vocab/role/> .",
        "@prefix measure: <https://w3id.org/citydiplomacy/vocab/measure/> .", ""]
    pool = qids[: max(50, min(len(qids), triples // 20))]
    seen = taken if taken is not None else set()
    count = 0
    while count < triples:
        kind = rng.random()
        if kind < 0.6:
            a, b = sorted(rng.sample(pool, 2))
            if ("t", a, b) in seen:
                continue
            seen.add(("t", a, b))
            year = rng.randint(1960, 2024)
            lines.append(
                f"<{iris.ID}twinning/{a}__{b}> a cdo:Twinning ; cdo:party wd:{a}, wd:{b} ;\n"
                f"  cdo:twinningType tt:friendship-city ; cdo:status ts:formal ;\n"
                f"  schema:startDate \"{year}\"^^xsd:gYear ; prov:wasDerivedFrom <{SOURCE}> .")
            count += 7
        elif kind < 0.8 and networks:
            network, qid = rng.choice(networks), rng.choice(pool)
            if ("m", network, qid) in seen:
                continue
            seen.add(("m", network, qid))
            lines.append(
                f"<{iris.ID}membership/{network}__{qid}__member> a org:Membership ; org:member wd:{qid} ;\n"
                f"  org:organization <{iris.org(network)}> ; org:role role:member ;\n"
                f"  schema:startDate \"{rng.randint(1990, 2024)}\"^^xsd:gYear ;\n"
                f"  prov:wasDerivedFrom <{SOURCE}> .")
            count += 6
        else:
            measure, qid = rng.choice(MEASURES), rng.choice(pool)
            if ("o", measure, qid) in seen:
                continue
            seen.add(("o", measure, qid))
            lines.append(
                f"<{iris.ID}observation/partner-report-2024__{measure}-{qid.lower()}> a cdo:Observation ;\n"
                f"  cdo:measure measure:{measure} ; schema:value {rng.randint(1, 120)} ;\n"
                f"  schema:observationDate \"2024\"^^xsd:gYear ; schema:observationAbout wd:{qid} ;\n"
                f"  prov:wasDerivedFrom <{SOURCE}> .")
            count += 6
    return "\n".join(lines) + "\n"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def commit_strategies(snapshot: Path, upload: Path, scratch: Path) -> dict[str, dict[str, float]]:
    """The atomic ways to put N triples into a named graph of the real store, first into a new graph, then
    replacing it: one SPARQL update (DROP + INSERT DATA), a staging graph then MOVE, and what the merge does
    (remove_graph + bulk_extend, on the copy :meth:`EmbeddedStore.writing` gives it)."""
    quads = [Quad(q.subject, q.predicate, q.object, NamedNode(GRAPH)) for q in parse(path=upload,
                                                                                     format=RdfFormat.TURTLE)]
    body = serialize([q.triple for q in quads], format=RdfFormat.N_TRIPLES).decode()
    staging = NamedNode(GRAPH + "-staging")

    def one_update(store: Store) -> None:
        store.update(f"DROP SILENT GRAPH <{GRAPH}> ; INSERT DATA {{ GRAPH <{GRAPH}> {{ {body} }} }}")

    def staged_move(store: Store) -> None:
        store.bulk_load(body.encode(), RdfFormat.N_TRIPLES, to_graph=staging)
        store.update(f"DROP SILENT GRAPH <{GRAPH}> ; MOVE {staging} TO <{GRAPH}>")

    def remove_and_bulk_extend(store: Store) -> None:
        if store.contains_named_graph(NamedNode(GRAPH)):
            store.remove_graph(NamedNode(GRAPH))
        store.bulk_extend(quads)

    results: dict[str, dict[str, float]] = {}
    for name, write in (("update DROP+INSERT DATA", one_update), ("bulk_load staging + MOVE", staged_move),
                        ("remove_graph + bulk_extend", remove_and_bulk_extend)):
        target = scratch / name.replace(" ", "-").replace("+", "")
        Store.read_only(str(snapshot)).backup(str(target))
        store = Store(str(target))
        timings = {}
        for step in ("new graph", "replace"):
            t = time.perf_counter()
            write(store)
            timings[step] = time.perf_counter() - t
        del store
        results[name] = timings
    return results


def one_run(store_root: Path, size: int, seed: int, add_after: int) -> dict:
    """Runs in its own process: copy the store, merge, and time pyoxigraph on the same file."""
    source = EmbeddedStore(store_root)
    with tempfile.TemporaryDirectory(prefix="amity-bench-", dir=store_root.parent) as scratch:
        store = clone(source, Path(scratch) / "store")
        partner = Registry(store).add(PARTNER)[0]
        qids, networks = reference_sample(store, seed)
        path = Path(scratch) / "upload.ttl"
        taken: set[tuple[str, ...]] = set()
        path.write_text(partner_turtle(size, qids, networks, seed, taken))
        graph = iris.partner_graph(PARTNER)
        started, cpu = time.perf_counter(), cpu_seconds()
        answer = merge.merge(store, partner, graph, merge.from_file(path), operation="replace")
        total, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        result = {"size": size, "triples": answer["triples"]["uploaded"], "bytes": path.stat().st_size,
                  "timings": answer["timings"], "total": total, "cpu": cpu,
                  "rewritten": answer["reconciled"]["rewritten"],
                  "warnings": answer["warning_count"], "conflicts": answer["conflict_count"],
                  "store_triples": len(store.reader()), "peak_rss_mib": peak_rss_mib()}
        if add_after:
            extra = Path(scratch) / "extra.ttl"
            extra.write_text(partner_turtle(add_after, qids, networks, seed + 1, taken))
            t = time.perf_counter()
            added = merge.merge(store, partner, graph, merge.from_file(extra), operation="add")
            result["add"] = {"size": add_after, "triples": added["triples"]["uploaded"],
                             "graph_before": added["triples"]["before"], "timings": added["timings"],
                             "total": time.perf_counter() - t}
        for label, bulk in (("bulk_load", True), ("load", False)):
            target = Store(str(Path(scratch) / f"ox-{label}"))
            t = time.perf_counter()
            (target.bulk_load if bulk else target.load)(path=str(path), format=RdfFormat.TURTLE)
            result[f"pyoxigraph_{label}"] = time.perf_counter() - t
            del target
        result["peak_rss_mib"] = peak_rss_mib()
        if add_after:  # the largest size: compare the ways to commit, after the peak RSS was taken
            result["strategies"] = commit_strategies(store.root / store.state().snapshot, path, Path(scratch))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=default_root())
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--add", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.store.resolve(), args.one, args.seed, args.add)))
        return
    if not EmbeddedStore(args.store).exists():
        sys.exit(f"no built store at {args.store}: run `amity build --store {args.store}` first")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Partner merges on {args.store.resolve()} ({os.cpu_count()} CPUs); seconds, one run each")
    rows = []
    for size in sizes:
        add = 10_000 if size == max(sizes) and size >= 100_000 else 0
        out = subprocess.run([sys.executable, __file__, "--store", str(args.store), "--one", str(size),
                              "--seed", str(args.seed), "--add", str(add)],
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(f"the {size}-triple run failed:\n{out.stderr}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    steps = ("parse", "reconcile", "validate", "commit", "derive", "history", "publish")
    header = f"{'triples':>8} {'total':>7} {'cpu':>6} " + " ".join(f"{s:>9}" for s in steps) + \
        f" {'ox bulk':>8} {'ox load':>8} {'peak RSS':>9}"
    print(header)
    for row in rows:
        t = row["timings"]
        print(f"{row['triples']:>8} {row['total']:>7.2f} {row['cpu']:>6.2f} "
              + " ".join(f"{t.get(s, 0):>9.2f}" for s in steps)
              + f" {row['pyoxigraph_bulk_load']:>8.2f} {row['pyoxigraph_load']:>8.2f}"
              f" {row['peak_rss_mib']:>6.0f} MiB")
    for row in rows:
        per = row["timings"]["validate"] / row["triples"] * 1e6
        print(f"  {row['triples']:>7} triples: validate {per:.0f} µs/triple; "
              f"{row['rewritten']} IRIs reconciled, "
              f"{row['warnings']} warnings, {row['conflicts']} conflicts; store {row['store_triples']} quads")
        if "add" in row:
            add = row["add"]
            per_add = add["timings"]["validate"] / add["triples"] * 1e6
            print(f"  add {add['triples']} triples to the {add['graph_before']}-triple graph: total "
                  f"{add['total']:.2f} s, validate {add['timings']['validate']:.2f} s "
                  f"({per_add:.0f} µs/triple)")
        for name, timings in row.get("strategies", {}).items():
            print(f"  commit {row['triples']} triples by {name:<28}: "
                  f"new graph {timings['new graph']:6.2f} s, "
                  f"replacing it {timings['replace']:6.2f} s")


if __name__ == "__main__":
    main()
