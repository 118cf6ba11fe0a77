"""Saved queries side by side in one run: each through the HTTP API and the same query in-process.

    .venv/bin/python benchmarks/saved_queries.py [--store var/store] [--repeat 7]
                                                 [--workers 2] [--query-workers 2]

For every saved query with its default parameters: the median time of ``GET /queries/NAME.json`` against
``amity serve`` (gunicorn and its query worker processes, as `tests/conftest.py` starts it), next to the
median of the same text with the same bound parameters run in this process by pyoxigraph (the floor), then
the peak RSS of the service. Target (issue 4): every saved query answers in under 1 s over HTTP.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PeakRss, median_ms  # noqa: E402
from pyoxigraph import QueryResultsFormat, QuerySolutions, RdfFormat  # noqa: E402

from amity import catalogue  # noqa: E402
from amity.ns import PREFIXES  # noqa: E402
from amity.store import EmbeddedStore, default_root  # noqa: E402
from amity.testing import start_server, stop_server  # noqa: E402

TARGET_MS = 1000.0


def in_process(store: EmbeddedStore, query: catalogue.SavedQuery):
    """The query as pyoxigraph runs it here: same text, same substituted parameters, serialized."""
    reader = store.reader()
    substitutions = catalogue.bind(reader, query, {})

    def run() -> None:
        result = reader.query(query.text, prefixes=PREFIXES, use_default_graph_as_union=True,
                              substitutions=substitutions)
        if isinstance(result, QuerySolutions):
            result.serialize(format=QueryResultsFormat.JSON)
        else:
            result.serialize(format=RdfFormat.TURTLE)
    return run


def over_http(session: requests.Session, base: str, query: catalogue.SavedQuery):
    extension = "json" if query.form in ("SELECT", "ASK") else "ttl"

    def run() -> bytes:
        response = session.get(f"{base}queries/{query.name}.{extension}", timeout=120)
        response.raise_for_status()
        return response.content
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=default_root())
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="web worker processes")
    parser.add_argument("--query-workers", type=int, default=2, help="query processes per web worker")
    args = parser.parse_args()
    store = EmbeddedStore(args.store)
    if not store.exists():
        sys.exit(f"no graph in {args.store}: run `amity build` first")
    saved = catalogue.load_catalogue()

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(store, Path(tmp) / "server.log", timeout=60, workers=args.workers, threads=4,
                              query_workers=args.query_workers)
        try:
            session = requests.Session()
            rows = []
            with PeakRss(server.process.pid) as rss:
                first = {}
                for query in saved:  # the first call of each, as a researcher's first click meets it
                    started = time.perf_counter()
                    over_http(session, server.url, query)()
                    first[query.name] = (time.perf_counter() - started) * 1000
                for query in saved:
                    floor = median_ms(in_process(store, query), args.repeat)
                    http = median_ms(over_http(session, server.url, query), args.repeat)
                    rows.append((query.name, floor, http, first[query.name]))
        finally:
            stop_server(server)

    print(f"\nSaved-query benchmark on {store.root.resolve()} (version {store.version()}), "
          f"median of {args.repeat}, milliseconds; service: {args.workers} web workers × "
          f"{args.query_workers} query processes\n")
    print(f"{'saved query':<36}{'in-process':>12}{'HTTP API':>10}{'overhead':>10}{'1st call':>10}  verdict")
    failures = 0
    for name, floor, http, cold in rows:
        ok = http < TARGET_MS
        failures += not ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{name:<36}{floor:>12.1f}{http:>10.1f}{http - floor:>10.1f}{cold:>10.1f}  {verdict}")
    print(f"\npeak RSS of the service (server and query processes): {rss.peak / 2**20:.0f} MiB")
    print(f"{len(rows) - failures} of {len(rows)} saved queries under {TARGET_MS:.0f} ms over HTTP"
          + (f"; {failures} FAIL" if failures else ": all PASS"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
