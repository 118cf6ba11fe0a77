"""Partner writes under attack: one partner against another's graphs, stolen and revoked tokens, uploads that try
to make the server fetch or expand things, and guessing tokens by timing.

The threat model (docs/reliability.md, docs/partners.md): a partner's token lets it write its own graphs and
nothing else, by any route; anyone may send any upload to ``/validate``; the server never fetches what an
upload names. The service runs under gunicorn on the small reference store of ``tests/test_merge.py`` (real
cities, fast merges), with three partners: ``alpha`` (the attacker), ``beta`` (the victim, whose graph holds
values that appear nowhere else, so a leak would show) and ``gamma`` (revoked during the tests). "Nothing
changed" is the published store's quads, byte for byte; "never fetched" is a local HTTP server that records
every request.
"""

from __future__ import annotations

import json
import random
import secrets
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from amity import history, iris
from amity.partners import Registry
from amity.testing import LiveServer, start_server, stop_server
from tests.recording_server import RecordingServer, never_contacted
from tests.test_merge import CITY, dump, expand, make_reference_store, twinning_turtle

ATTACKER, VICTIM, REVOKED = "alpha", "beta", "gamma"
ATTACKER_GRAPH, VICTIM_GRAPH = iris.partner_graph(ATTACKER), iris.partner_graph(VICTIM)
#: In the victim's graph only: a leak of its content would carry one of these.
SECRET_YEAR, SECRET_LABEL = "1887", "Beta's unpublished name"
SECRET_TWINNING = twinning_turtle("Q956", "Q90", status="terminated", start=SECRET_YEAR,
                                  extra='; schema:endDate "1991"^^xsd:gYear . '
                                        f'cdi:city/Q649 skos:altLabel "{SECRET_LABEL}"@en ')


@pytest.fixture(scope="module")
def other_server() -> Iterator[RecordingServer]:
    """Another host: answers anything (a JSON-LD context, a DTD, an ontology) and records the request."""
    with RecordingServer(b'{"@context": {"name": "http://schema.org/name"}}', "application/ld+json",
                         methods=("GET", "POST", "HEAD")) as server:
        yield server


@pytest.fixture(scope="module")
def other_host(other_server: RecordingServer) -> str:
    return other_server.url


@pytest.fixture
def hits(other_server: RecordingServer) -> list[str]:
    """The requests the other host received during the test, as ``"GET /path"``."""
    return other_server.reset()


@dataclass
class Service:
    server: LiveServer
    tokens: dict[str, str]
    revoked_token: str  # gamma's token before it was revoked

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("partner-security")
    store = make_reference_store(root / "store")
    registry = Registry(store)
    tokens = {name: registry.add(name)[1] for name in (ATTACKER, VICTIM, REVOKED)}
    server = start_server(store, root / "server.log", workers=1, threads=4, query_workers=1)
    service = Service(server, tokens, tokens[REVOKED])
    writes = ((VICTIM, VICTIM_GRAPH), (VICTIM, VICTIM_GRAPH + "/sub"), (REVOKED, iris.partner_graph(REVOKED)))
    for name, graph in writes:
        body = expand(SECRET_TWINNING if name == VICTIM else twinning_turtle("Q656", "Q649")).encode()
        response = requests.put(server.url + "store", params={"graph": graph}, data=body, timeout=120,
                                headers={"Content-Type": "text/turtle", **service.auth(name)})
        assert response.status_code == 201, response.text[:500]
    registry.revoke(REVOKED)
    yield service
    stop_server(server)


@pytest.fixture
def unchanged(service) -> Iterator[None]:
    """The published store is byte for byte the same after the test."""
    before = dump(service.server.store)
    yield
    assert dump(service.server.store) == before, "the store changed"


def assert_refused(response: requests.Response, *statuses: int) -> dict:
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return response.json()


def assert_no_secret(response: requests.Response) -> None:
    assert SECRET_YEAR not in response.text and SECRET_LABEL not in response.text, response.text[:1000]


GOOD = expand(twinning_turtle("Q170322", "Q90")).encode()


# -- one partner against another's graphs and the reference graphs, by every route --------------------------

TARGETS = {
    "the victim's graph": VICTIM_GRAPH,
    "a graph below the victim's": VICTIM_GRAPH + "/sub",
    "a reference graph": iris.graph("gazetteer"),
    "the provenance graph": history.PROVENANCE_GRAPH,
    "the derived graph": iris.graph("derived"),
    "the parent of every partner graph": iris.graph("partner"),
    "a name that starts with the attacker's": ATTACKER_GRAPH + "-x",
    "the victim's name in capitals": iris.partner_graph(VICTIM.upper()),
    "the victim's graph over http": VICTIM_GRAPH.replace("https://", "http://"),
    "dot segments from the attacker's space": f"{ATTACKER_GRAPH}/../{VICTIM}",
    "encoded dot segments": f"{ATTACKER_GRAPH}/%2e%2e/{VICTIM}",
    "a fragment": f"{ATTACKER_GRAPH}#{VICTIM}",
}
ROUTES = ["PUT /store", "POST /store", "DELETE /store", "POST /store/rollback", "POST /validate (replace)",
          "POST /validate (add)"]


def send(service: Service, route: str, graph: str, token_of: str = ATTACKER, body: bytes = GOOD,
         content_type: str = "text/turtle", headers: dict[str, str] | None = None) -> requests.Response:
    method, path = route.split()[:2]
    params = {"graph": graph}
    if path == "/store/rollback":
        params["to"] = "1"
    if route.endswith("(add)"):
        params["operation"] = "add"
    return requests.request(method, service.url + path.lstrip("/"), params=params,
                            data=None if method == "DELETE" else body, timeout=120,
                            headers={"Content-Type": content_type, **service.auth(token_of), **(headers or {})})


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("target", TARGETS)
def test_a_partner_token_writes_and_reads_no_graph_but_its_own_by_any_route(service, unchanged, route, target):
    """403 for another partner's or a reference graph (400 for a name in the attacker's space that breaks the
    naming rule), before anything is read or written."""
    response = send(service, route, TARGETS[target])
    assert_refused(response, 403, 400)
    assert_no_secret(response)


def test_a_dry_run_never_reads_another_partners_graph(service, unchanged):
    """``/validate`` about the very twinning the victim describes: without a token only reference data is read
    (no conflict with the victim's values, none of them in the answer); an addition to the victim's graph needs
    its token; an addition to the attacker's own graph is checked against its own data and the reference only.
    (Reading is public, GET shows any graph: what is at stake is that one partner's claims never enter the
    checks of another's writes.)"""
    about_the_same_twinning = expand(twinning_turtle("Q956", "Q90")).encode()
    anonymous = requests.post(service.url + "validate", params={"graph": VICTIM_GRAPH}, timeout=60,
                              data=about_the_same_twinning, headers={"Content-Type": "text/turtle"})
    assert anonymous.status_code == 200, anonymous.text[:500]
    assert anonymous.json()["conflicts"] == []
    assert_no_secret(anonymous)
    adding = requests.post(service.url + "validate", params={"graph": VICTIM_GRAPH, "operation": "add"},
                           data=about_the_same_twinning, headers={"Content-Type": "text/turtle"}, timeout=60)
    assert_no_secret(adding)
    assert_refused(adding, 400)
    own = requests.post(service.url + "validate", params={"graph": ATTACKER_GRAPH, "operation": "add"},
                        data=about_the_same_twinning, timeout=60,
                        headers={"Content-Type": "text/turtle", **service.auth(ATTACKER)})
    assert own.status_code == 200 and own.json()["conflicts"] == [], own.text[:500]
    assert_no_secret(own)


@pytest.mark.parametrize("update", [
    f"INSERT DATA {{ GRAPH <{ATTACKER_GRAPH}> {{ <{CITY['Q90']}> <http://www.w3.org/2004/02/skos/core#altLabel> "
    '"x" } }',
    f"DROP GRAPH <{VICTIM_GRAPH}>",
    f"CLEAR GRAPH <{iris.graph('gazetteer')}>",
    f"COPY <{VICTIM_GRAPH}> TO <{ATTACKER_GRAPH}>",
    f"WITH <{VICTIM_GRAPH}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
])
@pytest.mark.parametrize("how", ["form update", "direct update", "query parameter"])
def test_sparql_update_is_refused_even_with_a_partner_token(service, unchanged, update, how):
    """Partners write through the Graph Store and its checks only: at /sparql a token opens nothing."""
    url, headers = service.url + "sparql", service.auth(ATTACKER)
    if how == "form update":
        response = requests.post(url, data={"update": update}, headers=headers, timeout=30)
    elif how == "direct update":
        response = requests.post(url, data=update.encode(), timeout=30,
                                 headers={**headers, "Content-Type": "application/sparql-update"})
    else:
        response = requests.get(url, params={"query": update}, headers=headers, timeout=30)
    assert_refused(response, 400)


def quads_document(kind: str, other_graph: str) -> tuple[bytes, str]:
    """A valid twinning for the attacker's graph, plus one statement put in ``other_graph``."""
    twinning = iris.twinning("Q170322", "Q90")
    label = f'<{CITY["Q90"]}> <http://www.w3.org/2004/02/skos/core#altLabel> "planted"@en'
    if kind == "N-Quads":
        lines = [f"<{twinning}> <{iris.ONTOLOGY}party> <{CITY['Q90']}> .", f"{label} <{other_graph}> ."]
        return "\n".join(lines).encode(), "application/n-quads"
    text = expand(twinning_turtle("Q170322", "Q90")) + f"\nGRAPH <{other_graph}> {{ {label} . }}\n"
    return text.encode(), "application/trig"


@pytest.mark.parametrize("route", ["PUT /store", "POST /store", "POST /validate (replace)"])
@pytest.mark.parametrize("kind", ["N-Quads", "TriG"])
@pytest.mark.parametrize("other", ["the victim's graph", "a reference graph", "the provenance graph",
                                   "a graph below the attacker's"])
def test_quads_for_any_other_graph_refuse_the_whole_upload(service, unchanged, route, kind, other):
    """An N-Quads or TriG upload to the attacker's own graph with one quad naming another graph: 400, nothing
    written (one request writes one graph, the one the request names)."""
    graph = ATTACKER_GRAPH + "/below" if other == "a graph below the attacker's" else TARGETS[other]
    body, content_type = quads_document(kind, graph)
    response = send(service, route, ATTACKER_GRAPH, body=body, content_type=content_type)
    assert assert_refused(response, 400)["other_graph"] == graph


# -- revoked and misplaced tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_a_revoked_token_opens_nothing_and_the_partners_graphs_stay(service, unchanged, route):
    """Revocation is immediate (the registry is read on every request); the graphs and their history stay."""
    graph = iris.partner_graph(REVOKED)
    headers = {"Authorization": f"Bearer {service.revoked_token}"}
    response = send(service, route, graph, token_of=ATTACKER, headers=headers)
    body = assert_refused(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "revoked" not in body["detail"].lower(), "the answer must not tell a revoked token from a wrong one"
    assert requests.head(service.url + "store", params={"graph": graph}, timeout=30).status_code == 200


MISPLACED = {
    "query string access_token": ({"access_token": "{token}"}, {}),
    "query string token": ({"token": "{token}"}, {}),
    "query string bearer": ({"bearer": "{token}"}, {}),
    "a cookie": ({}, {"Cookie": "token={token}; access_token={token}"}),
    "Basic authentication": ({}, {"Authorization": "Basic {basic}"}),
    "another scheme": ({}, {"Authorization": "Token {token}"}),
    "a custom header": ({}, {"X-Api-Key": "{token}", "X-Auth-Token": "{token}"}),
    "Bearer twice": ({}, {"Authorization": "Bearer {token} Bearer {token}"}),
    "the token with a suffix": ({}, {"Authorization": "Bearer {token}x"}),
}


@pytest.mark.parametrize("place", MISPLACED)
def test_a_valid_token_anywhere_but_the_authorization_bearer_header_is_refused(service, unchanged, place):
    """Tokens in URLs end up in logs and histories: the Graph Store reads the Authorization header only."""
    import base64

    token = service.tokens[ATTACKER]
    values = {"token": token, "basic": base64.b64encode(f"{ATTACKER}:{token}".encode()).decode()}
    params, headers = MISPLACED[place]
    params = {"graph": ATTACKER_GRAPH + "/misplaced", **{k: v.format(**values) for k, v in params.items()}}
    headers = {"Content-Type": "text/turtle", **{k: v.format(**values) for k, v in headers.items()}}
    response = requests.put(service.url + "store", params=params, data=GOOD, headers=headers, timeout=60)
    assert_refused(response, 401)


# -- uploads that name other hosts or files -----------------------------------------------------------------


def test_owl_imports_and_other_links_in_an_upload_are_data_never_fetched(service, other_host, hits):
    """``owl:imports``, ``rdfs:seeAlso`` and ``@base`` name documents; we store the triples and fetch nothing."""
    text = f"@base <{other_host}base/> .\n" + expand(twinning_turtle("Q170322", "Q90") + f"""
<{ATTACKER_GRAPH}/imports> owl:imports <{other_host}ontology.ttl>, <relative-ontology.ttl> .
cdi:city/Q90 <http://www.w3.org/2000/01/rdf-schema#seeAlso> <{other_host}see-also> .
""")
    for path, params in (("store", {"graph": ATTACKER_GRAPH + "/imports"}), ("validate", {})):
        response = requests.request("PUT" if path == "store" else "POST", service.url + path, params=params,
                                    data=text.encode(), timeout=60,
                                    headers={"Content-Type": "text/turtle", **service.auth(ATTACKER)})
        assert response.status_code == (201 if path == "store" else 200), response.text[:500]
    never_contacted(hits)
    stored = requests.get(service.url + "store", params={"graph": ATTACKER_GRAPH + "/imports"},
                          headers={"Accept": "application/n-triples"}, timeout=30).text
    assert f"<{other_host}ontology.ttl>" in stored and f"<{other_host}base/relative-ontology.ttl>" in stored


JSON_LD_REMOTE = {
    "a remote @context": lambda url: {"@context": url + "context.jsonld", "@id": CITY["Q90"], "name": "x"},
    "a remote context in a list": lambda url: {"@context": [url + "context.jsonld"], "@id": CITY["Q90"]},
    "@import": lambda url: {"@context": {"@version": 1.1, "@import": url + "context.jsonld"}, "@id": CITY["Q90"]},
    "a scoped remote context": lambda url: {
        "@context": {"@version": 1.1, "p": {"@id": "http://schema.org/p", "@context": url + "scoped.jsonld"}},
        "@id": CITY["Q90"], "p": {"name": "x"}},
    "a file context": lambda url: {"@context": "file:///etc/passwd", "@id": CITY["Q90"]},
}

XML_HEAD = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:skos="http://www.w3.org/2004/02/skos/core#">')
XML_ENTITIES = {
    "an external entity on the other host": lambda url: f'<!ENTITY x SYSTEM "{url}entity">',
    "an external entity on /etc/passwd": lambda url: '<!ENTITY x SYSTEM "file:///etc/passwd">',
    "a public external entity": lambda url: f'<!ENTITY x PUBLIC "-//A//B//EN" "{url}public">',
    "a parameter entity": lambda url: f'<!ENTITY % p SYSTEM "{url}p.dtd"> %p;',
    "an internal entity": lambda url: '<!ENTITY x "Paris">',
    "a billion laughs": lambda url: '<!ENTITY x0 "ha">' + "".join(
        f'<!ENTITY x{i} "{f"&x{i - 1};" * 10}">' for i in range(1, 10)).replace("x9", "x"),
}


def xml_with(declaration: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ {declaration} ]>\n{XML_HEAD}'
            f'<rdf:Description rdf:about="{CITY["Q90"]}"><skos:altLabel xml:lang="fr">&x;</skos:altLabel>'
            "</rdf:Description></rdf:RDF>").encode()


UPLOAD_ROUTES = ["PUT /store", "POST /store", "POST /validate (anonymous)", "POST /validate (token)"]


def upload(service: Service, route: str, body: bytes, content_type: str) -> requests.Response:
    method, path = route.split()[:2]
    headers = {"Content-Type": content_type}
    if "anonymous" not in route:
        headers.update(service.auth(ATTACKER))
    params = {"graph": ATTACKER_GRAPH + "/hostile"} if path == "/store" else {}
    return requests.request(method, service.url + path.lstrip("/"), params=params, data=body, headers=headers,
                            timeout=60)


SECRETS = ("root:", "/bin/", "nologin")


@pytest.mark.parametrize("route", UPLOAD_ROUTES)
@pytest.mark.parametrize("case", JSON_LD_REMOTE)
def test_json_ld_remote_contexts_are_refused_and_never_fetched(service, other_host, hits, unchanged, route, case):
    body = json.dumps(JSON_LD_REMOTE[case](other_host)).encode()
    response = upload(service, route, body, "application/ld+json")
    assert_refused(response, 400)
    assert not any(secret in response.text for secret in SECRETS)
    never_contacted(hits)


@pytest.mark.parametrize("route", UPLOAD_ROUTES)
@pytest.mark.parametrize("case", XML_ENTITIES)
def test_rdf_xml_entity_declarations_are_refused_and_never_resolved(service, other_host, hits, unchanged, route,
                                                                   case):
    """External entities (other host, local file, parameter entities) and internal ones alike: pyoxigraph
    expands internal entities without bound (a 1 kB billion laughs became a 3 GB literal in a minute), so no
    declaration is accepted; the refusal is immediate and tells nothing of the files named."""
    started = time.monotonic()
    response = upload(service, route, xml_with(XML_ENTITIES[case](other_host)), "application/rdf+xml")
    body = assert_refused(response, 400)
    assert "entity" in body["detail"] and time.monotonic() - started < 10
    assert not any(secret in response.text for secret in SECRETS)
    never_contacted(hits)


def test_an_external_dtd_is_never_fetched(service, other_host, hits, unchanged):
    """A DOCTYPE naming an external DTD (no entity declared): the document is read as it stands, the DTD is not
    fetched."""
    body = (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{other_host}rdf.dtd">\n{XML_HEAD}'
            f'<rdf:Description rdf:about="{CITY["Q90"]}"><skos:altLabel xml:lang="fr">Lutèce</skos:altLabel>'
            "</rdf:Description></rdf:RDF>").encode()
    response = upload(service, "POST /validate (anonymous)", body, "application/rdf+xml")
    assert response.status_code == 200, response.text[:500]
    never_contacted(hits)


DEEP = 5000


@pytest.mark.parametrize("route", ["PUT /store", "POST /validate (anonymous)"])
@pytest.mark.parametrize("case", ["JSON-LD objects", "JSON-LD arrays", "RDF/XML elements"])
def test_deeply_nested_uploads_are_refused_before_parsing_and_the_service_goes_on(service, unchanged, route, case):
    """pyoxigraph's JSON-LD parser takes memory in the square of the nesting depth and overflows its stack at a
    few thousand levels (a 250 kB document killed the web worker with SIGSEGV), its RDF/XML parser takes time
    in the square of it: both are refused past 256 levels, at once, and every worker still answers."""
    node = '{"@id": "' + CITY["Q90"] + '", "http://schema.org/p": '
    if case == "JSON-LD objects":
        body = node * DEEP + "1" + "}" * DEEP
    elif case == "JSON-LD arrays":
        body = node + "[" * DEEP + "1" + "]" * DEEP + "}"
    else:
        body = (XML_HEAD + "<rdf:Description><skos:related>" * DEEP
                + "</skos:related></rdf:Description>" * DEEP + "</rdf:RDF>")
    content_type = "application/rdf+xml" if case.startswith("RDF/XML") else "application/ld+json"
    started = time.monotonic()
    response = upload(service, route, body.encode(), content_type)
    assert_refused(response, 400)
    assert "256" in response.json()["detail"] and time.monotonic() - started < 10
    for _ in range(4):  # as many as the threads: a crashed worker would leave some unanswered
        assert requests.get(service.url + "sparql", params={"query": "ASK {}"}, timeout=30).status_code == 200


# -- guessing tokens by timing ------------------------------------------------------------------------------

#: Interleaved rounds of the three kinds of wrong token, after the warm-up.
ROUNDS, WARM_UP = 300, 30
#: Largest difference between the medians allowed: 20 % of the smallest, or 0.5 ms, whichever is larger.
RELATIVE, ABSOLUTE = 0.20, 0.0005


def median_seconds(service: Service, tokens: dict[str, str]) -> dict[str, float]:
    """The median time of a refused DELETE for each token, sampled in random interleaved order on one
    keep-alive connection, so that load on the machine falls on every kind alike."""
    samples: dict[str, list[float]] = {kind: [] for kind in tokens}
    url = service.url + "store"
    params = {"graph": ATTACKER_GRAPH + "/timing"}
    with requests.Session() as session:
        order = list(tokens)
        for round_number in range(WARM_UP + ROUNDS):
            random.shuffle(order)
            for kind in order:
                headers = {"Authorization": f"Bearer {tokens[kind]}"}
                started = time.perf_counter()
                response = session.delete(url, params=params, headers=headers, timeout=30)
                elapsed = time.perf_counter() - started
                assert response.status_code == 401
                if round_number >= WARM_UP:
                    samples[kind].append(elapsed)
    return {kind: statistics.median(values) for kind, values in samples.items()}


def test_wrong_tokens_are_refused_in_the_same_time_whatever_they_resemble(service):
    """No timing oracle: a random token of the right length, one that differs from a valid token in its last
    character only, and a revoked partner's real token are refused in the same time (medians within 20 % or
    0.5 ms). The check hashes the token and compares the hash with every registered hash in constant time.

    The machine may be loaded by other jobs: samples are interleaved, medians are compared, and a spread over
    the bound is measured again up to twice (a real difference shows every time, noise does not)."""
    valid = service.tokens[ATTACKER]
    last = "A" if valid[-1] != "A" else "B"
    tokens = {"random, same length": secrets.token_urlsafe(32), "valid but its last character": valid[:-1] + last,
              "revoked partner's": service.revoked_token}
    assert len({len(token) for token in tokens.values()}) == 1
    spreads = []
    for _attempt in range(3):
        medians = median_seconds(service, tokens)
        spread = max(medians.values()) - min(medians.values())
        bound = max(RELATIVE * min(medians.values()), ABSOLUTE)
        spreads.append((spread, bound, medians))
        if spread <= bound:
            break
    assert spreads[-1][0] <= spreads[-1][1], [
        f"spread {s * 1e3:.3f} ms > {b * 1e3:.3f} ms: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in m.items())
        for s, b, m in spreads]


def test_the_victims_values_are_in_the_store_so_their_absence_elsewhere_means_something(service):
    """Control for the checks above: the values they look for are really there, in the victim's graph (which,
    like every graph, anyone may read by GET: the promise is about writing, and about one partner's data
    never entering another partner's checks)."""
    response = requests.get(service.url + "store", params={"graph": VICTIM_GRAPH}, timeout=30)
    assert SECRET_YEAR in response.text and SECRET_LABEL in response.text
