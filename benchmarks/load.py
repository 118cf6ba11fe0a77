"""The real service under a mixed load for a fixed time: throughput, latency, errors, lost writes, memory.

    .venv/bin/python benchmarks/load.py [--store var/store] [--duration 300] [--clients 16] [--query-timeout 2]

The script starts ``amity serve`` on 127.0.0.1 (2 web workers × 16 threads, 4 query processes each: the defaults
of ``amity serve``) with a short query time limit, on a private copy of the store (``amity.store.clone``: hard
links, the store itself is never written), and registers two partners. Then, for ``--duration`` seconds, each
client a thread with its own keep-alive connection, sending its next request as soon as it has an answer:

* ``--clients`` readers pick each request at random by weight (``--mix``) from a fixed pool built from the
  store: **saved queries** (``/queries/NAME.json``; cities by QID, networks, country pairs, labels,
  coordinates), **cheap lookups** (ad-hoc SPARQL: a city's labels, its country, its twinnings, ``ASK`` its
  type), **medium joins** (twinnings between two countries with labels, the most twinned cities of a country,
  the members of a network with their countries) and **entity pages** of real cities, as HTML and as Turtle;
* ``--heavy-clients`` attackers send **heavy queries** one after the other, which cannot finish within the
  time limit (a transitive path over every twinning, joins of every label with every other by string): each
  must be stopped and answered 503 ``Query time limit exceeded``, counted as a *timeout honoured*, not an
  error. A dedicated client, not a weight, because a query that holds a worker for the whole limit would
  otherwise take most readers' time and the pressure would grow with ``--clients``;
* two **partners** (one client each) ``PUT`` or ``POST`` small valid graphs (1–3 headline figures about real
  cities) to two graphs each, ``--upload-pause`` seconds apart. Every upload carries a unique marker (the
  source it is derived from).

Every read is checked against the answer the same request got before the clock started (row count, boolean, or
the page's bytes): partner uploads only touch cities the reads never ask about, so any difference is a wrong
answer. After the run, every upload that was answered 2xx must be recorded in the graph's history with its
SHA-256 and the version it was told, its marker must be in that version's history file, and, unless a later
acknowledged ``PUT`` replaced it, in the live graph: otherwise it is a lost write.

Errors are a 5xx other than an honoured timeout, a connection error, any other unexpected status, and a wrong
answer. Targets: zero errors, zero lost writes, and the cheap lookups' p99 under 250 ms while the heavy queries
are being stopped. The exit status is 1 when a target is missed, so a release script can gate on it.
``--trace FILE`` writes every request as CSV (start, kind, latency, request), to see *when* the slow ones were.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import itertools
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amity import iris  # noqa: E402
from amity.ns import PREFIXES  # noqa: E402
from amity.partners import Registry  # noqa: E402
from amity.store import EmbeddedStore, clone, default_root  # noqa: E402
from amity.testing import LiveServer, start_server, stop_server  # noqa: E402
from benchmarks._common import PeakRss  # noqa: E402

PROLOGUE = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())
JSON = "application/sparql-results+json"
TIMEOUT_TITLE = "Query time limit exceeded"
MARKERS = "https://example.org/amity-load/"
PARTNERS = ("load-a", "load-b")
CHEAP_P99_MS = 250.0

#: What the readers send, and the weight of each kind in their mix.
WEIGHTS = {
    "saved query": 25,
    "cheap lookup": 45,
    "medium join": 10,
    "page html": 10,
    "page turtle": 10,
}
KINDS = (*WEIGHTS, "heavy query", "upload")

HEAVY = (  # none finishes within seconds on the default graph, and none grows a worker past ~100 MiB meanwhile
    "SELECT (COUNT(*) AS ?n) WHERE { ?a (cdo:party|^cdo:party)+ ?b }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a skos:prefLabel ?l . ?b skos:prefLabel ?m "
    "FILTER(REGEX(?l, CONCAT('^', STR(?m)))) }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a skos:prefLabel ?l . ?b skos:altLabel ?m FILTER(CONTAINS(?l, ?m)) }",
)


# -- what the requests are about: real data of the store -----------------------------------------------------


@dataclass
class Sample:
    """Real cities (some for reads, the others only for uploads), networks and country pairs of the store."""

    read_cities: list[dict[str, str]]
    upload_cities: list[str]
    networks: list[str]
    country_pairs: list[tuple[str, str]]


def sample(store: EmbeddedStore, seed: int, cities: int = 30, upload_cities: int = 12) -> Sample:
    reader = store.reader()
    rows = reader.query(
        """SELECT ?c ?q ?label ?lat ?long ?code WHERE {
             ?c a cdo:City ; cdo:wikidataId ?q ; wgs:lat ?lat ; wgs:long ?long ; cdo:country ?country .
             ?country cdo:iso2 ?code .
             ?c skos:prefLabel ?label FILTER(LANG(?label) = "en") }""",
        prefixes=PREFIXES, use_default_graph_as_union=True)
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["c"].value, {"iri": row["c"].value, "qid": row["q"].value, "label": row["label"].value,
                                          "lat": row["lat"].value, "long": row["long"].value,
                                          "country": row["code"].value})
    twinned = {row["c"].value for row in reader.query(
        "SELECT DISTINCT ?c WHERE { ?t a cdo:Twinning ; cdo:party ?c }", prefixes=PREFIXES,
        use_default_graph_as_union=True)}
    rng = random.Random(seed)
    candidates = sorted(iri for iri in found if iri in twinned)
    rng.shuffle(candidates)
    networks = sorted(iris.key_of(row["o"].value) for row in reader.query(
        "SELECT DISTINCT ?o WHERE { ?o a cdo:CityNetwork }", prefixes=PREFIXES, use_default_graph_as_union=True))
    pairs = [(row["a"].value, row["b"].value) for row in reader.query(
        """SELECT ?a ?b (COUNT(*) AS ?n) WHERE { ?t a cdo:Twinning ; cdo:party ?x, ?y .
             ?x cdo:country/cdo:iso2 ?a . ?y cdo:country/cdo:iso2 ?b FILTER(?a < ?b) }
           GROUP BY ?a ?b ORDER BY DESC(?n) LIMIT 12""", prefixes=PREFIXES, use_default_graph_as_union=True)]
    return Sample([found[iri] for iri in candidates[:cities]], candidates[cities:cities + upload_cities],
                  rng.sample(networks, min(6, len(networks))), pairs)


# -- requests --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """One request whose answer must not change during the run."""

    kind: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    accept: str = JSON
    query: str | None = None  # ad-hoc SPARQL, sent as a form POST


def sparql(kind: str, text: str) -> Read:
    return Read(kind, "sparql", query=PROLOGUE + text)


def reads(data: Sample) -> list[Read]:
    """Every read the clients choose from: a fixed pool, so each one's answer can be taken before the run."""
    pool: list[Read] = []
    for city in data.read_cities:
        c = f"<{city['iri']}>"
        pool += [
            sparql("cheap lookup", f"SELECT ?l WHERE {{ {c} skos:prefLabel ?l }}"),
            sparql("cheap lookup", f"SELECT ?country WHERE {{ {c} cdo:country ?country }}"),
            sparql("cheap lookup", f"SELECT ?t WHERE {{ ?t cdo:party {c} }}"),
            sparql("cheap lookup", f"ASK {{ {c} a cdo:City }}"),
            Read("page html", city["iri"][len(iris.BASE):], accept="text/html"),
            Read("page turtle", city["iri"][len(iris.BASE):], accept="text/turtle"),
            Read("saved query", "queries/twins-of-city.json", (("city", city["qid"]),)),
            Read("saved query", "queries/memberships-of-city.json", (("city", city["qid"]),)),
            Read("saved query", "queries/partner-countries-of-city.json", (("city", city["qid"]),)),
            Read("saved query", "queries/label-search.json", (("text", city["label"]),)),
            Read("saved query", "queries/cities-near-point.json",
                 (("lat", city["lat"]), ("long", city["long"]), ("km", "50"))),
        ]
    for network in data.networks:
        pool += [
            Read("saved query", "queries/members-of-network.json", (("network", network),)),
            sparql("medium join", f"""SELECT ?member ?country WHERE {{
                ?m org:organization <{iris.org(network)}> ; org:member ?member .
                OPTIONAL {{ ?member cdo:country ?country }} }}"""),
        ]
    for a, b in data.country_pairs:
        pool += [
            Read("saved query", "queries/twinnings-between-countries.json", (("country_a", a), ("country_b", b))),
            Read("saved query", "queries/most-twinned-cities.json", (("country", a), ("min_twins", "5"))),
            sparql("medium join", f"""SELECT ?x ?y ?lx ?ly WHERE {{ ?t a cdo:Twinning ; cdo:party ?x, ?y .
                ?x cdo:country/cdo:iso2 "{a}" . ?y cdo:country/cdo:iso2 "{b}" .
                OPTIONAL {{ ?x skos:prefLabel ?lx FILTER(LANG(?lx) = "en") }}
                OPTIONAL {{ ?y skos:prefLabel ?ly FILTER(LANG(?ly) = "en") }} }}"""),
            sparql("medium join", f"""SELECT ?c (COUNT(?t) AS ?n) WHERE {{ ?t a cdo:Twinning ; cdo:party ?c .
                ?c cdo:country/cdo:iso2 "{a}" }} GROUP BY ?c ORDER BY DESC(?n) LIMIT 20"""),
        ]
    return pool


def send(session: requests.Session, url: str, read: Read, timeout: float) -> requests.Response:
    headers = {"Accept": read.accept}
    if read.query is not None:
        return session.post(url + read.path, data={"query": read.query}, headers=headers, timeout=timeout)
    return session.get(url + read.path, params=read.params, headers=headers, timeout=timeout)


def fingerprint(read: Read, response: requests.Response) -> str:
    """What must stay the same: the status, and the number of rows, the boolean, or the page's bytes."""
    if response.status_code != 200:
        return f"status {response.status_code}"
    if read.accept == JSON:
        body = response.json()
        if "boolean" in body:
            return f"boolean {body['boolean']}"
        return f"{len(body['results']['bindings'])} rows"
    return f"{len(response.content)} bytes, sha256 {hashlib.sha256(response.content).hexdigest()[:16]}"


# -- partner uploads -------------------------------------------------------------------------------------------

MEASURES = ("friendship-cities", "partner-cities", "consulates", "friendship-city-countries")


@dataclass(frozen=True)
class Ack:
    """An upload the service answered 2xx: what it was told, and the marker to look for."""

    graph: str
    method: str
    version: int
    sha256: str
    marker: str


class Uploads:
    """Builds unique uploads and keeps the acknowledged ones."""

    def __init__(self, tokens: dict[str, str], cities: list[str]) -> None:
        self.tokens, self.cities = tokens, cities
        self.numbers = itertools.count(1)
        self.acks: list[Ack] = []
        self.lock = threading.Lock()

    def make(self, rng: random.Random, partner: str) -> tuple[str, str, str, bytes, str]:
        """Method, graph, token, Turtle body and marker of a new upload: 1-3 headline figures about real cities."""
        number = next(self.numbers)
        graph = f"{iris.partner_graph(partner)}/figures-{rng.randint(1, 2)}"
        marker = f"{MARKERS}{partner}/{number}"
        lines = [f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()]
        for i in range(rng.randint(1, 3)):
            city, measure = rng.choice(self.cities), rng.choice(MEASURES)
            lines.append(
                f"<{iris.ID}observation/load-{partner}-{number}-{i}__{measure}-{iris.key_of(city).lower()}> "
                f"a cdo:Observation ; cdo:measure <{iris.VOCAB}measure/{measure}> ; schema:value {rng.randint(1, 99)} ;"
                f' schema:observationDate "2024"^^xsd:gYear ; schema:observationAbout <{city}> ;'
                f" prov:wasDerivedFrom <{marker}> .")
        return rng.choice(("PUT", "POST")), graph, self.tokens[partner], ("\n".join(lines) + "\n").encode(), marker

    def acknowledge(self, ack: Ack) -> None:
        with self.lock:
            self.acks.append(ack)


def lost_writes(session: requests.Session, url: str, acks: list[Ack]) -> list[str]:
    """Every acknowledged upload, looked for in the history, in its version's content and in the live graph."""
    lost: list[str] = []
    graphs = " ".join(sorted({f"<{ack.graph}>" for ack in acks}))
    answer = session.post(url + "sparql", headers={"Accept": JSON}, timeout=120, data={
        "query": f"""SELECT DISTINCT ?src WHERE {{ VALUES ?g {{ {graphs} }}
                     GRAPH ?g {{ ?o <http://www.w3.org/ns/prov#wasDerivedFrom> ?src }}
                     FILTER(STRSTARTS(STR(?src), "{MARKERS}")) }}"""})
    answer.raise_for_status()
    live = {row["src"]["value"] for row in answer.json()["results"]["bindings"]}
    by_graph: dict[str, list[Ack]] = defaultdict(list)
    for ack in acks:
        by_graph[ack.graph].append(ack)
    for graph, graph_acks in by_graph.items():
        listed = session.get(url + "store/history", params={"graph": graph}, timeout=120).json()["versions"]
        recorded = {v["version"]: v for v in listed}
        seen_versions = Counter(ack.version for ack in graph_acks)
        # The last version that replaced the graph (acknowledged or not: a PUT whose answer was lost still lands).
        last_put = max((v["version"] for v in listed if v["operation"] != "add"), default=0)
        for ack in graph_acks:
            where = f"{ack.method} {graph} v{ack.version} ({ack.marker})"
            version = recorded.get(ack.version)
            if seen_versions[ack.version] > 1:
                lost.append(f"{where}: another acknowledged upload was told the same version")
            elif version is None or version.get("upload_sha256") != ack.sha256:
                lost.append(f"{where}: not recorded in the history with its SHA-256")
            else:
                content = session.get(url + "store/history", params={"graph": graph, "version": ack.version},
                                      timeout=120).content
                if ack.marker.encode() not in gzip.decompress(content):
                    lost.append(f"{where}: its marker is not in the content of its version")
                elif ack.version >= last_put and ack.marker not in live:
                    lost.append(f"{where}: not in the live graph, and no later PUT replaced it")
    return lost


# -- the clients -----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies per kind, errors, honoured timeouts; shared by the client threads."""

    trace: list[tuple[float, str, float, str]] = field(default_factory=list)  # (start, kind, ms, what)
    errors: list[tuple[str, str]] = field(default_factory=list)
    timeouts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latencies(self, kind: str) -> list[float]:
        return [ms for _, of_kind, ms, _ in self.trace if of_kind == kind]

    def record(self, kind: str, seconds: float, error: str | None = None, what: str = "") -> None:
        with self.lock:
            self.trace.append((time.monotonic() - seconds, kind, seconds * 1000, what))
            if error:
                self.errors.append((kind, error))


def reader(number: int, url: str, pool: dict[str, list[Read]], expected: dict[Read, str], tally: Tally,
           stop_at: float, seed: int, timeout: float) -> None:
    """Reads picked by weight, each answer compared with the reference answer to the same request."""
    rng = random.Random(seed * 1000 + number)
    session = requests.Session()
    kinds = [kind for kind in WEIGHTS if pool[kind]]
    weights = [WEIGHTS[kind] for kind in kinds]
    while time.monotonic() < stop_at:
        kind = rng.choices(kinds, weights)[0]
        read = rng.choice(pool[kind])
        started = time.perf_counter()
        try:
            response = send(session, url, read, timeout)
            got = fingerprint(read, response)
            error = None if got == expected[read] else \
                f"{read.path} {read.params or ''}: {got}, expected {expected[read]} {response.text[:120]!r}"
        except (requests.RequestException, ValueError, KeyError) as problem:
            error, session = f"{type(problem).__name__}: {str(problem)[:160]}", requests.Session()
        tally.record(kind, time.perf_counter() - started, error, f"{read.path} {read.params}")


def attacker(number: int, url: str, tally: Tally, stop_at: float, seed: int, timeout: float) -> None:
    """Heavy queries back to back: each must be stopped at the time limit with a 503."""
    rng = random.Random(seed * 1000 + 500 + number)
    session = requests.Session()
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            response = session.post(url + "sparql", data={"query": PROLOGUE + rng.choice(HEAVY)},
                                    headers={"Accept": JSON}, timeout=timeout)
            if response.status_code == 503 and TIMEOUT_TITLE in response.text:
                error = None
                with tally.lock:
                    tally.timeouts["heavy query"] += 1
            else:
                error = f"a heavy query was answered {response.status_code}, not stopped at the time limit"
        except requests.RequestException as problem:
            error, session = f"{type(problem).__name__}: {str(problem)[:160]}", requests.Session()
        tally.record("heavy query", time.perf_counter() - started, error)


def partner_client(partner: str, url: str, uploads: Uploads, tally: Tally, stop_at: float, seed: int,
                   timeout: float, pause: float) -> None:
    """One partner's uploads, one after the other, ``pause`` seconds apart."""
    rng = random.Random(f"{seed}-{partner}")
    session = requests.Session()
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            error = upload(session, url, uploads, rng, partner, timeout)
        except (requests.RequestException, ValueError, KeyError) as problem:
            error, session = f"{type(problem).__name__}: {str(problem)[:160]}", requests.Session()
        tally.record("upload", time.perf_counter() - started, error)
        time.sleep(max(0.0, min(pause, stop_at - time.monotonic())))


def upload(session: requests.Session, url: str, uploads: Uploads, rng: random.Random, partner: str,
           timeout: float) -> str | None:
    method, graph, token, body, marker = uploads.make(rng, partner)
    response = session.request(method, url + "store", params={"graph": graph}, data=body, timeout=timeout,
                               headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {token}"})
    if response.status_code not in (200, 201):
        return f"{method} {graph}: {response.status_code} {response.text[:200]!r}"
    answer = response.json()
    sha256 = hashlib.sha256(body).hexdigest()
    if answer.get("upload", {}).get("sha256") != sha256:
        return f"{method} {graph}: the answer names another upload"
    uploads.acknowledge(Ack(graph, method, int(answer["version"]), sha256, marker))
    return None


# -- the run ---------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=default_root())
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--clients", type=int, default=16, help="readers (default 16)")
    parser.add_argument("--heavy-clients", type=int, default=1,
                        help="clients sending queries that must be stopped at the time limit (default 1)")
    parser.add_argument("--upload-pause", type=float, default=10.0,
                        help="seconds between two uploads of a partner (default 10; 0 for back to back)")
    parser.add_argument("--query-timeout", type=float, default=2.0, help="the service's query time limit")
    parser.add_argument("--workers", type=int, default=2, help="web worker processes")
    parser.add_argument("--threads", type=int, default=16, help="threads per web worker")
    parser.add_argument("--query-workers", type=int, default=4, help="query processes per web worker")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mix", default="", metavar="KIND=WEIGHT,…",
                        help="change weights of the readers' mix, e.g. 'page html=0,page turtle=0' (kinds: "
                             + ", ".join(WEIGHTS) + ")")
    parser.add_argument("--log", type=Path, help="keep the service's log here (it is dropped otherwise)")
    parser.add_argument("--trace", type=Path,
                        help="write every request here as CSV: start (s), kind, latency (ms), request")
    args = parser.parse_args()
    for item in filter(None, args.mix.split(",")):
        kind, _, weight = item.partition("=")
        if kind.strip() not in WEIGHTS:
            sys.exit(f"--mix: no request kind {kind.strip()!r}")
        WEIGHTS[kind.strip()] = float(weight)
    source = EmbeddedStore(args.store)
    if not source.exists():
        sys.exit(f"no built store at {args.store}: run `amity build --store {args.store}` first")

    with tempfile.TemporaryDirectory(prefix="amity-load-", dir=args.store.resolve().parent) as scratch:
        store = clone(source, Path(scratch) / "store")
        tokens = {name: Registry(store).add(name)[1] for name in PARTNERS}
        data = sample(store, args.seed)
        all_reads = [read for read in reads(data) if WEIGHTS[read.kind] > 0]
        server = start_server(store, Path(scratch) / "server.log", timeout=args.query_timeout,
                              workers=args.workers, threads=args.threads, query_workers=args.query_workers)
        try:
            report(args, server, data, all_reads, tokens)
        finally:
            stop_server(server)
            if args.log:
                shutil.copyfile(server.log, args.log)


def report(args: argparse.Namespace, server: LiveServer, data: Sample, all_reads: list[Read],
           tokens: dict[str, str]) -> None:
    url, timeout = server.url, args.query_timeout + 60
    session = requests.Session()
    print(f"Load test of {args.store.resolve()}: {args.clients} readers, {args.heavy_clients} heavy-query "
          f"client(s) and {len(PARTNERS)} partners for {args.duration:g} s against "
          f"{args.workers} web workers × {args.threads} threads, {args.query_workers} query processes each, "
          f"{args.query_timeout:g} s query time limit; {len(all_reads)} distinct reads", file=sys.stderr)
    expected: dict[Read, str] = {}
    warming = time.monotonic()
    for read in all_reads:  # the answers before the load: the reference every answer under load is held to
        expected[read] = fingerprint(read, send(session, url, read, timeout))
    print(f"reference answers taken one by one in {time.monotonic() - warming:.1f} s", file=sys.stderr)
    refused = [f"{r.kind} {r.path} {r.params}: {expected[r]}" for r in all_reads if expected[r].startswith("status")]
    if refused:
        sys.exit("these reads fail before any load:\n" + "\n".join(refused[:20]))
    pool: dict[str, list[Read]] = defaultdict(list)
    for read in all_reads:
        pool[read.kind].append(read)
    uploads = Uploads(tokens, data.upload_cities)
    tally = Tally()
    started = time.monotonic()
    stop_at = started + args.duration
    with PeakRss(server.process.pid) as rss:
        threads = [threading.Thread(target=reader, args=(i, url, pool, expected, tally, stop_at, args.seed,
                                                          timeout)) for i in range(args.clients)]
        threads += [threading.Thread(target=attacker, args=(i, url, tally, stop_at, args.seed, timeout))
                    for i in range(args.heavy_clients)]
        threads += [threading.Thread(target=partner_client, args=(name, url, uploads, tally, stop_at, args.seed,
                                                                  timeout, args.upload_pause))
                    for name in PARTNERS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.monotonic() - started
    if args.trace:
        with open(args.trace, "w", newline="") as out:
            csv.writer(out).writerows((f"{at - started:.3f}", kind, f"{ms:.1f}", what)
                                      for at, kind, ms, what in sorted(tally.trace))
    alive = server.process.poll() is None
    lost = lost_writes(session, url, uploads.acks) if alive else ["the service is not running any more"]

    total = len(tally.trace)
    print(f"\n{'kind':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'timeouts':>10}")
    errors_by_kind = Counter(kind for kind, _ in tally.errors)
    for kind in KINDS:
        values = tally.latencies(kind)
        print(f"{kind:<14}{len(values):>9}{len(values) / elapsed:>8.1f}{percentile(values, 50):>9.0f}"
              f"{percentile(values, 99):>9.0f}{errors_by_kind[kind]:>8}{tally.timeouts[kind]:>10}")
    print(f"{'all':<14}{total:>9}{total / elapsed:>8.1f}")
    print(f"\nelapsed {elapsed:.0f} s; throughput {total / elapsed:.1f} req/s; errors {len(tally.errors)}; "
          f"timeouts honoured {sum(tally.timeouts.values())}; uploads acknowledged {len(uploads.acks)}; "
          f"lost writes {len(lost)}; peak memory of the service {rss.peak / 2**20:.0f} MiB RSS summed over its "
          f"processes, {rss.peak_pss / 2**20:.0f} MiB PSS ({rss.breakdown()})")
    for (kind, message), count in Counter(tally.errors).most_common(10):
        print(f"  error ×{count} [{kind}] {message}")
    for message in lost[:10]:
        print(f"  lost: {message}")
    cheap_p99 = percentile(tally.latencies("cheap lookup"), 99)
    targets = [
        ("zero errors", len(tally.errors) == 0, f"{len(tally.errors)}"),
        ("zero lost writes", not lost, f"{len(lost)} of {len(uploads.acks)} acknowledged uploads"),
        (f"cheap lookups p99 < {CHEAP_P99_MS:g} ms while heavy queries are stopped",
         cheap_p99 < CHEAP_P99_MS and sum(tally.timeouts.values()) > 0,
         f"{cheap_p99:.0f} ms, {sum(tally.timeouts.values())} heavy queries stopped"),
    ]
    print()
    for name, met, figure in targets:
        print(f"{'MET   ' if met else 'MISSED'} {name}: {figure}")
    missed = sum(not met for _, met, _ in targets)
    if missed:
        print(f"\n{missed} target(s) missed")
        sys.exit(1)
    print("\nall targets met")


if __name__ == "__main__":
    main()
