"""The embedded store and Virtuoso side by side, from one run on the same data: build time, saved queries.

    .venv/bin/python benchmarks/stores.py [--repeat 5] [--synthetic 10000000] [--timeout 120]
                                          [--virtuoso-buffers 250000] [--skip-default]

1. **The default graph.** ``amity build`` into a new embedded store and into a throwaway Virtuoso
   (``tests/virtuoso.py``: installed when missing, loopback only; the build derives and validates locally,
   then publishes with the remote bulk path), with the build time of each; then every saved query with its
   default parameters on both, median of ``--repeat`` runs after a warm-up, through the service layer
   (:func:`amity.catalogue.run` on an :class:`amity.service.Amity`: query processes with their time limit
   on the embedded store, the store's own limit on Virtuoso; no result cache), minus only the HTTP hop of
   ``amity serve``.
2. **A synthetic graph** of ``--synthetic`` triples (default 10 million; 0 skips it) shaped like ours
   (``benchmarks/_synthetic.py``: cities with names in three languages and WKT points, twinnings, memberships,
   their derived shortcuts) added to the default graph, loaded into a fresh embedded store
   (``bulk_load`` + publish) and a fresh Virtuoso (Amity's remote publish: Graph Store POST of N-Triples
   chunks), then the same query table, so the crossover between the stores shows.

Queries that pass ``--timeout`` on a store are reported as such (``>120000``). Printed at the end of each
part: the peak RSS of this process (build, embedded queries) and of the Virtuoso server. Progress goes to
stderr. The 10-million-triple part takes a while (tens of minutes on a 2-core machine).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import _synthetic  # noqa: E402
import virtuoso  # noqa: E402
from _common import PeakRss, median_ms  # noqa: E402
from pyoxigraph import RdfFormat, Store, parse  # noqa: E402

from amity import catalogue, iris  # noqa: E402
from amity.build import build  # noqa: E402
from amity.external import ExternalStore  # noqa: E402
from amity.problems import QueryTimeout, ServiceUnavailable  # noqa: E402
from amity.remote import VIRTUOSO, RemoteStore  # noqa: E402
from amity.remote_publish import publish  # noqa: E402
from amity.service import Amity, Settings  # noqa: E402
from amity.store import EmbeddedStore  # noqa: E402

Store_ = EmbeddedStore | ExternalStore


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def remote_client(server: virtuoso.Virtuoso, timeout: float) -> RemoteStore:
    return server.remote_store(**VIRTUOSO, bulk_loader=None, query_timeout=timeout, update_timeout=7200.0)


def start_virtuoso(buffers: int, timeout: float) -> virtuoso.Virtuoso:
    """A throwaway server sized for the benchmark: writes may take long, queries get ``timeout``."""
    server = virtuoso.start(buffers=buffers, max_query_seconds=max(3600, int(timeout) * 2))
    say(f"Virtuoso up in {server.startup_seconds:.1f} s ({buffers} buffers, database {server.directory})")
    return server


def query_table(stores: dict[str, Store_], repeat: int, timeout: float) -> dict[str, dict[str, str]]:
    """Each saved query's median (ms, as text) on each store, through the service layer."""
    def service(store: Store_) -> Amity:
        # No result cache: the embedded service would answer every repeat from memory (amity/result_cache.py).
        return Amity(Settings(store_path=str(store.root), query_workers=1, query_timeout=timeout,
                              result_cache_bytes=0), store=store)

    services = {kind: service(store) for kind, store in stores.items()}
    table: dict[str, dict[str, str]] = {}
    try:
        for query in catalogue.load_catalogue():
            fmt = "json" if query.form in ("SELECT", "ASK") else "ttl"
            table[query.name] = {}
            for kind in stores:
                def run(service: Amity = services[kind], name: str = query.name, fmt: str = fmt) -> bytes:
                    return b"".join(catalogue.run(service, name, {}, fmt).chunks)
                table[query.name][kind] = _timed(run, repeat, timeout)
                if not table[query.name][kind][0].isdigit():  # a fresh service after a timeout or a failure
                    services[kind].close()
                    services[kind] = service(stores[kind])
            say(f"{query.name}: " + ", ".join(f"{k} {v} ms" for k, v in table[query.name].items()))
    finally:
        for service in services.values():
            service.close()
    return table


def _timed(run: Callable[[], bytes], repeat: int, timeout: float) -> str:
    """The median of ``repeat`` runs; one run only when the first takes over 10 s; ``>limit`` on a timeout."""
    try:
        started = time.perf_counter()
        run()
        first = (time.perf_counter() - started) * 1000
        if first > 10_000:
            return f"{first:.0f}"
        return f"{median_ms(run, repeat):.1f}"
    except (QueryTimeout, ServiceUnavailable):
        return f">{timeout * 1000:.0f}"
    except Exception as error:  # noqa: BLE001 - reported in the table, the run goes on
        say(f"  failed: {type(error).__name__}: {error}")
        return f"error:{type(error).__name__}"


def print_table(title: str, builds: dict[str, float], table: dict[str, dict[str, str]], rss: dict[str, float],
                triples: int) -> None:
    kinds = list(builds)
    print(f"\n{title} — {triples:,} triples")
    print("build (s): " + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in builds.items()))
    print(f"\n{'saved query (median ms)':<36}" + "".join(f"{kind:>12}" for kind in kinds) + f"{'ratio':>8}")
    for name, row in table.items():
        values = [row.get(kind, "") for kind in kinds]
        try:
            ratio = f"{float(values[1]) / float(values[0]):.1f}x"
        except (ValueError, ZeroDivisionError, IndexError):
            ratio = ""
        print(f"{name:<36}" + "".join(f"{v:>12}" for v in values) + f"{ratio:>8}")
    print("(ratio = virtuoso / embedded; above 1 the embedded store is faster)")
    print("peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))


def own_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_graph(work: Path, args: argparse.Namespace) -> EmbeddedStore:
    """Part 1; returns the embedded store it built (the synthetic part starts from its graph)."""
    builds: dict[str, float] = {}
    embedded = EmbeddedStore(work / "embedded")
    say("building the default graph into the embedded store …")
    started = time.perf_counter()
    build(embedded, workers=2)
    builds["embedded"] = time.perf_counter() - started
    server = start_virtuoso(args.virtuoso_buffers, args.timeout)
    try:
        with PeakRss(server.process.pid) as server_rss:
            remote = ExternalStore(remote_client(server, args.timeout), work / "remote-state", kind="virtuoso")
            say("building the default graph into Virtuoso …")
            started = time.perf_counter()
            build(remote, workers=2)
            builds["virtuoso"] = time.perf_counter() - started
            table = query_table({"embedded": embedded, "virtuoso": remote}, args.repeat, args.timeout)
        print_table("Default graph", builds, table,
                    {"this process (builds, embedded queries)": own_peak_mib(), "Virtuoso": server_rss.peak / 2**20},
                    remote.client.count())
    finally:
        server.stop()
    return embedded


def synthetic(work: Path, args: argparse.Namespace, base: EmbeddedStore) -> None:
    """Part 2: the default graph plus ``--synthetic`` generated triples, on both stores."""
    reader = base.reader()
    countries = sorted({row["c"].value.rsplit("/", 1)[-1] for row in reader.query(
        f"SELECT DISTINCT ?c WHERE {{ ?c a <{iris.ONTOLOGY}Country> }}", use_default_graph_as_union=True)})
    real_cities = sorted({row["c"].value for row in reader.query(
        f"SELECT DISTINCT ?c WHERE {{ ?c <{iris.ONTOLOGY}twinnedWith> ?x }}", use_default_graph_as_union=True)})
    base_file, extra_file = work / "default.nq", work / "synthetic.nq"
    with open(base_file, "wb") as out:
        reader.dump(out, RdfFormat.N_QUADS)
    base_triples = len(reader)
    say(f"generating {args.synthetic:,} synthetic triples ({len(countries)} countries) …")
    extra = _synthetic.write(extra_file, args.synthetic - base_triples, countries=countries,
                             real_cities=real_cities, progress=lambda n: say(f"  {n:,} written"))
    total = base_triples + extra
    say(f"{total:,} triples in {base_file.name} + {extra_file.name} "
        f"({(base_file.stat().st_size + extra_file.stat().st_size) / 2**20:.0f} MiB)")
    builds: dict[str, float] = {}

    embedded = EmbeddedStore(work / "synthetic-embedded")
    say("loading into a new embedded store (bulk_load + publish) …")
    started = time.perf_counter()
    master_dir, version = embedded.next_master_dir()
    master = Store(str(master_dir))
    for path in (base_file, extra_file):
        master.bulk_load(path=str(path), format=RdfFormat.N_QUADS)
    embedded.publish_new_master(master, master_dir, version)
    del master
    builds["embedded"] = time.perf_counter() - started
    say(f"  {builds['embedded']:.0f} s")

    server = start_virtuoso(args.virtuoso_buffers, args.timeout)
    try:
        with PeakRss(server.process.pid) as server_rss:
            remote = ExternalStore(remote_client(server, args.timeout), work / "synthetic-state", kind="virtuoso")
            say("publishing into Virtuoso (Graph Store POST of 50 000-triple chunks) …")
            started = time.perf_counter()
            graphs = sorted({*(g.value for g in reader.named_graphs()), *(g[1:-1] for g in _synthetic.GRAPHS.values())})

            def quads():
                for path in (base_file, extra_file):
                    for n, quad in enumerate(parse(path=path, format=RdfFormat.N_QUADS)):
                        if n and n % 1_000_000 == 0:
                            say(f"  {path.name}: {n:,} sent")
                        yield quad
            with remote.write_lock():
                publish(remote, quads(), graphs)
            builds["virtuoso"] = time.perf_counter() - started
            say(f"  {builds['virtuoso']:.0f} s")
            table = query_table({"embedded": embedded, "virtuoso": remote}, args.repeat, args.timeout)
        print_table("Synthetic graph shaped like the default graph", builds, table,
                    {"this process (load, embedded queries)": own_peak_mib(), "Virtuoso": server_rss.peak / 2**20},
                    total)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per query (after one warm-up)")
    parser.add_argument("--synthetic", type=int, default=10_000_000,
                        help="triples in the synthetic graph, default graph included (0: skip that part)")
    parser.add_argument("--timeout", type=float, default=120.0, help="time limit of one query, seconds")
    parser.add_argument("--virtuoso-buffers", type=int, default=250_000,
                        help="Virtuoso's NumberOfBuffers (8 KiB pages; 250 000 ≈ 2 GB)")
    parser.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="amity-stores-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        base = default_graph(work, args)
        if args.synthetic:
            synthetic(work, args, base)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
