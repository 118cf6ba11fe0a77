"""Build speed, side by side in one run: the whole `amity build`, our loaders against pyoxigraph's own
``bulk_load`` of the same quads as N-Quads, and SHACL validation with one and two processes.

    .venv/bin/python benchmarks/build.py

Targets (issue 2): loader throughput at least 0.5 of bulk_load's; SHACL validation of the default graph
under 30 s on 2 cores; a build under 4 GiB of memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyoxigraph import RdfFormat, Store  # noqa: E402

from amity import iris  # noqa: E402
from amity.build import build, validation_groups  # noqa: E402
from amity.graph_validation import validate_groups  # noqa: E402
from amity.store import EmbeddedStore  # noqa: E402


def peak_rss_mib() -> tuple[float, float]:
    """Peak RSS of this process and of the largest child (validation workers), in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "store")
        started = time.perf_counter()
        report = build(store, workers=2)
        total = time.perf_counter() - started

        loaded = [g for g in report.graphs if g.seconds > 0]
        loader_triples = sum(g.triples for g in loaded)
        loader_seconds = sum(g.seconds for g in loaded)
        ours = loader_triples / loader_seconds

        dump = Path(tmp) / "reference.nq"
        reader = store.reader()
        with open(dump, "wb") as out:
            reader.dump(out, RdfFormat.N_QUADS)
        target = Store(str(Path(tmp) / "bulk"))
        t = time.perf_counter()
        target.bulk_load(path=str(dump), format=RdfFormat.N_QUADS)
        bulk_seconds = time.perf_counter() - t
        bulk_triples = len(target)
        bulk = bulk_triples / bulk_seconds
        del target

        snapshot = store.root / store.state().snapshot
        graphs = [g.graph for g in report.graphs] + [iris.graph("derived")]
        t = time.perf_counter()
        sizes = {g.graph: g.triples for g in report.graphs}
        for _ in validate_groups(snapshot, validation_groups(graphs, sizes), workers=1):
            pass
        one_process = time.perf_counter() - t
        own_rss, child_rss = peak_rss_mib()

    print(f"\nBuild benchmark ({report.total_triples:,} triples in {len(report.graphs)} graphs)\n")
    print(f"{'graph':<28}{'triples':>10}{'seconds':>10}{'triples/s':>12}")
    for g in report.graphs:
        rate = f"{g.triples / g.seconds:>12,.0f}" if g.seconds else f"{'':>12}"
        print(f"{iris.key_of(g.graph):<28}{g.triples:>10,}{g.seconds:>10.2f}{rate}")
    print("\nsteps:")
    for step, seconds in report.timings.items():
        print(f"  {step:<30}{seconds:>8.2f} s")
    ratio = ours / bulk
    validate_seconds = report.timings["validate"]
    print(f"\ntotal build time: {total:.1f} s")
    print(f"loaders: {loader_triples:,} triples in {loader_seconds:.2f} s = {ours:,.0f} triples/s")
    print(f"pyoxigraph bulk_load of the same quads as N-Quads: {bulk_triples:,} in {bulk_seconds:.2f} s "
          f"= {bulk:,.0f} triples/s")
    print(f"loader throughput / bulk_load: {ratio:.2f}  {'PASS' if ratio >= 0.5 else 'FAIL'} (target ≥ 0.5)")
    print(f"SHACL validation: {validate_seconds:.1f} s with 2 processes, {one_process:.1f} s with 1  "
          f"{'PASS' if validate_seconds < 30 else 'FAIL'} (target < 30 s)")
    peak = max(own_rss, child_rss)
    print(f"peak RSS: build process {own_rss:.0f} MiB, largest validation worker {child_rss:.0f} MiB  "
          f"{'PASS' if peak < 4096 else 'FAIL'} (target < 4096 MiB)")
    print(f"violations: {report.violations}")


if __name__ == "__main__":
    main()
