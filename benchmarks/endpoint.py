"""Endpoint speed, side by side in one run: pyoxigraph in-process (the floor), our HTTP endpoint,
and rdflib-endpoint (the Python peer) on the same data; then throughput with 1 and 4 clients.

    .venv/bin/python benchmarks/endpoint.py [--store var/store] [--repeat 15] [--skip-peer]

Targets (issue 3): within 1.5× of the floor for queries over 10 ms, under 3 ms of overhead for the
small ones, at least 10× faster than rdflib-endpoint, 4 clients ≥ 1.6× the throughput of one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amity.ns import PREFIXES  # noqa: E402
from amity.store import EmbeddedStore, default_root  # noqa: E402
from amity.testing import free_port, start_server, stop_server  # noqa: E402
from benchmarks._common import PeakRss, median_ms  # noqa: E402

PROLOGUE = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())
QUERIES = {
    "label of a city": "SELECT ?l WHERE { cdi:city/Q16572 skos:prefLabel ?l }".replace(
        "cdi:city/Q16572", "<https://w3id.org/citydiplomacy/id/city/Q16572>"),
    "twins of Saint Petersburg": """SELECT ?partner ?name WHERE {
        ?t a cdo:Twinning ; cdo:party <https://w3id.org/citydiplomacy/id/city/Q656>, ?partner .
        FILTER(?partner != <https://w3id.org/citydiplomacy/id/city/Q656>)
        OPTIONAL { ?partner skos:prefLabel ?name FILTER(LANG(?name) = "en") } } ORDER BY ?name""",
    "describe a city": "DESCRIBE <https://w3id.org/citydiplomacy/id/city/Q656>",
    "cities per country": """SELECT ?country (COUNT(?c) AS ?n) WHERE { ?c a cdo:City ; cdo:country ?country }
        GROUP BY ?country ORDER BY DESC(?n)""",
    "twinnings China-Russia": """SELECT ?a ?b WHERE { ?t a cdo:Twinning ; cdo:party ?a, ?b .
        ?a cdo:country <https://w3id.org/citydiplomacy/id/country/CN> .
        ?b cdo:country <https://w3id.org/citydiplomacy/id/country/RU> }""",
    "most twinned cities": """SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t a cdo:Twinning ; cdo:party ?c }
        GROUP BY ?c ORDER BY DESC(?n) LIMIT 20""",
    "label search": """SELECT DISTINCT ?c ?l WHERE { ?c a cdo:City ; skos:prefLabel ?l
        FILTER(CONTAINS(LCASE(STR(?l)), "burg")) }""",
}
SMALL = ("label of a city", "twins of Saint Petersburg", "describe a city")


def in_process(store: EmbeddedStore, query: str):
    reader = store.reader()
    from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat

    def run():
        result = reader.query(PROLOGUE + query, use_default_graph_as_union=True)
        if isinstance(result, QuerySolutions | QueryBoolean):
            result.serialize(format=QueryResultsFormat.JSON)
        else:
            result.serialize(format=RdfFormat.N_TRIPLES)
    return run


def over_http(session: requests.Session, url: str, query: str, *, timeout: float = 300):
    def run():
        response = session.post(url, data={"query": PROLOGUE + query}, timeout=timeout,
                                headers={"Accept": "application/sparql-results+json, application/n-triples"})
        response.raise_for_status()
        return response.content
    return run


def start_peer(store: EmbeddedStore, workdir: Path) -> tuple[subprocess.Popen, str]:
    """rdflib-endpoint on the same quads: dump the store, load it into an rdflib Dataset, serve with uvicorn."""
    dump = workdir / "amity.nq"
    with open(dump, "wb") as out:
        from pyoxigraph import RdfFormat

        store.reader().dump(out, RdfFormat.N_QUADS)
    port = free_port()
    script = workdir / "peer.py"
    script.write_text(
        "import rdflib, uvicorn\n"
        "from rdflib_endpoint import SparqlEndpoint\n"
        "ds = rdflib.Dataset(default_union=True)\n"
        f"ds.parse({str(dump)!r}, format='nquads')\n"
        f"app = SparqlEndpoint(graph=ds, public_url='http://127.0.0.1:{port}/')\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')\n"
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("rdflib-endpoint exited: " + process.stderr.read().decode()[-2000:])
        try:
            requests.get(url, params={"query": "ASK {}"}, timeout=5, headers={"Accept": "application/json"})
            return process, url
        except requests.ConnectionError:
            time.sleep(1)
    raise RuntimeError("rdflib-endpoint did not start")


def throughput(url: str, clients: int, seconds: float) -> float:
    queries = [QUERIES[name] for name in SMALL]
    stop_at = time.monotonic() + seconds
    counts = [0] * clients

    def client(i: int) -> None:
        session = requests.Session()
        n = 0
        while time.monotonic() < stop_at:
            over_http(session, url, queries[n % len(queries)])()
            n += 1
        counts[i] = n

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=default_root())
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--peer-repeat", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true", help="leave rdflib-endpoint out (it loads slowly)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    args = parser.parse_args()
    store = EmbeddedStore(args.store)
    if not store.exists():
        sys.exit(f"no graph in {args.store}: run `amity build` first")

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(store, Path(tmp) / "server.log", timeout=300, workers=2, threads=4, query_workers=4)
        peer = None
        try:
            session = requests.Session()
            rows = []
            with PeakRss(server.process.pid) as rss:
                for name, query in QUERIES.items():
                    floor = median_ms(in_process(store, query), args.repeat)
                    ours = median_ms(over_http(session, server.sparql_url(), query), args.repeat)
                    rows.append([name, floor, ours])
                one = throughput(server.sparql_url(), 1, args.seconds)
                four = throughput(server.sparql_url(), 4, args.seconds)
            if not args.skip_peer:
                print("loading the same quads into rdflib-endpoint …", file=sys.stderr)
                peer_started = time.perf_counter()
                peer, peer_url = start_peer(store, Path(tmp))
                print(f"  rdflib-endpoint ready after {time.perf_counter() - peer_started:.0f} s", file=sys.stderr)
                for row in rows:
                    try:
                        row.append(median_ms(over_http(session, peer_url, QUERIES[row[0]], timeout=180),
                                             args.peer_repeat))
                    except requests.RequestException as error:
                        row.append(float("nan"))
                        print(f"  rdflib-endpoint failed on {row[0]!r}: {error}", file=sys.stderr)
        finally:
            stop_server(server)
            if peer is not None:
                peer.kill()

    print(f"\nEndpoint benchmark on {store.root.resolve()} (version {store.version()}), "
          f"median of {args.repeat} (rdflib-endpoint: {args.peer_repeat}), milliseconds\n")
    header = f"{'query':<28}{'in-process':>12}{'Amity HTTP':>12}{'ratio':>8}{'overhead':>10}"
    header += "" if args.skip_peer else f"{'rdflib-ep':>12}{'speed-up':>10}"
    print(header + "  verdict")
    failures = 0
    for row in rows:
        name, floor, ours = row[:3]
        ratio, overhead = ours / floor, ours - floor
        ok = ratio <= 1.5 if floor > 10 else overhead < 3.0
        line = f"{name:<28}{floor:>12.2f}{ours:>12.2f}{ratio:>8.2f}{overhead:>10.2f}"
        if not args.skip_peer:
            peer_ms = row[3]
            speedup = peer_ms / ours
            ok = ok and speedup >= 10
            line += f"{peer_ms:>12.1f}{speedup:>10.1f}"
        failures += not ok
        print(line + ("  PASS" if ok else "  FAIL"))
    scaling = four / one
    failures += scaling < 1.6
    print(f"\nthroughput (small queries, {args.seconds:g} s each): 1 client {one:.0f} req/s, "
          f"4 clients {four:.0f} req/s, ratio {scaling:.2f}  {'PASS' if scaling >= 1.6 else 'FAIL'} (target ≥ 1.6)")
    peak = rss.peak / 2**20
    print(f"peak RSS of the service (2 web workers, 8 query processes): {peak:.0f} MiB  "
          f"{'PASS' if peak < 1024 else 'FAIL'} (target < 1024 MiB)")
    print(f"\n{failures} target(s) missed" if failures else "\nall targets met")


if __name__ == "__main__":
    main()
