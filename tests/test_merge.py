"""The merge pipeline itself: reconcile, validate, conflicts, atomic commit, history, rollback, dry runs.

These tests call :mod:`amity.merge` directly on a small reference store built here (five cities, three countries,
one reference twinning, one network), so each one runs in about a second; ``tests/test_graph_store.py`` drives
the same pipeline over HTTP, and the real default graph is used where a test says so. The helpers at the top are
shared with the other partner test modules.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, RdfFormat, Store, parse

from amity import derive, formats, history, iris, merge, remote_merge
from amity.external import ExternalStore
from amity.partners import Registry
from amity.problems import BadRequest, DocumentSyntaxError, Forbidden, NotFound, ShapeViolation
from amity.remote import RemoteStore
from amity.store import EmbeddedStore
from tests.recording_server import RecordingServer
from tests.remote_stores import dump, remote_store, reopen

pytestmark = pytest.mark.both_stores

PREFIXES = """\
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <http://schema.org/> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix cdo: <https://w3id.org/citydiplomacy/ontology#> .
@prefix cdi: <https://w3id.org/citydiplomacy/id/> .
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix ts: <https://w3id.org/citydiplomacy/vocab/twinning-status/> .
@prefix tt: <https://w3id.org/citydiplomacy/vocab/twinning-type/> .
@prefix role: <https://w3id.org/citydiplomacy/vocab/role/> .
"""

COUNTRIES = PREFIXES + "".join(f"""
cdi:country/{code} a cdo:Country ; skos:prefLabel "{en}"@en, "{zh}"@zh, "{ru}"@ru ;
    cdo:iso2 "{code}" ; cdo:iso3 "{iso3}" .""" for code, iso3, en, zh, ru in [
    ("CN", "CHN", "China", "中国", "Китай"), ("RU", "RUS", "Russia", "俄罗斯", "Россия"),
    ("FR", "FRA", "France", "法国", "Франция")])

CITIES = [  # key, QID, GeoNames id, English, Chinese, country, lat, long
    ("Q956", "Q956", "1816670", "Beijing", "北京", "CN", "39.9075", "116.39723"),
    ("gn-1797929", "Q170322", "1797929", "Qingdao", "青岛", "CN", "36.06488", "120.38042"),
    ("Q656", "Q656", "498817", "Saint Petersburg", "圣彼得堡", "RU", "59.93863", "30.31413"),
    ("Q649", "Q649", "524901", "Moscow", "莫斯科", "RU", "55.75222", "37.61556"),
    ("Q90", "Q90", "2988507", "Paris", "巴黎", "FR", "48.85341", "2.3488"),
]
GAZETTEER = PREFIXES + "".join(f"""
cdi:city/{key} a cdo:City ; skos:prefLabel "{en}"@en, "{zh}"@zh ; cdo:country cdi:country/{country} ;
    {'cdo:wikidataId "' + qid + '" ; ' if key == qid else ''}cdo:geonamesId "{gn}" ;
    wgs:lat "{lat}"^^xsd:decimal ; wgs:long "{long}"^^xsd:decimal ; geo:hasGeometry <{iris.city(key)}#geometry> .
<{iris.city(key)}#geometry> geo:asWKT "POINT({long} {lat})"^^geo:wktLiteral ."""
    for key, qid, gn, en, zh, country, lat, long in CITIES)
# Qingdao's QID was learned after its key was minted: it is known through graph/links only.
LINKS = PREFIXES + "".join(f"""
cdi:city/{key} owl:sameAs wd:{qid}, <https://sws.geonames.org/{gn}/> .""" for key, qid, gn, *_ in CITIES)
TWINNINGS = PREFIXES + """
cdi:twinning/Q656__gn-1797929 a cdo:Twinning ; cdo:party cdi:city/gn-1797929, cdi:city/Q656 ;
    cdo:twinningType tt:sister-city ; cdo:status ts:formal ; schema:startDate "1993"^^xsd:gYear ;
    prov:wasDerivedFrom <https://www.wikidata.org/> .
"""
ORGANISATIONS = PREFIXES + """
cdi:org/c40 a cdo:CityNetwork ; skos:prefLabel "C40 Cities"@en, "C40城市气候领导联盟"@zh ;
    schema:foundingDate "2005"^^xsd:gYear ; prov:wasDerivedFrom <https://www.c40.org/> .
cdi:membership/c40__Q956__member a org:Membership ; org:member cdi:city/Q956 ; org:organization cdi:org/c40 ;
    org:role role:member ; prov:wasDerivedFrom <https://www.c40.org/> .
"""


def expand(turtle: str) -> str:
    """``cdi:city/Q90`` is easy to read but not Turtle ('/' in a local name): write the full IRIs."""
    return re.sub(r"cdi:([A-Za-z0-9_/-]+)", lambda m: f"<{iris.ID}{m.group(1)}>", turtle)


REFERENCE = {"countries": COUNTRIES, "gazetteer": GAZETTEER, "links": LINKS, "wikidata-twinnings": TWINNINGS,
             "c40": ORGANISATIONS}

CITY = {key: iris.city(key) for key, *_ in CITIES}
PARTNER = "unesco"
PARTNER_GRAPH = iris.partner_graph(PARTNER)
SOURCE = "https://en.unesco.org/creativity/creative-cities"


def _fill(master: Store) -> None:
    for name, turtle in REFERENCE.items():
        master.bulk_load(expand(turtle).encode(), RdfFormat.TURTLE, to_graph=NamedNode(iris.graph(name)))
    derive.materialise(master)


def make_reference_store(root: Path, server=None) -> EmbeddedStore | ExternalStore:
    """A tiny default graph, published the way a build publishes one (derived graph included).

    With ``server`` (a test Virtuoso, reset first), the same quads on that remote store, ``root`` its state.
    """
    if server is not None:
        quads = Store()
        _fill(quads)
        return remote_store(server, list(quads), root)
    store = EmbeddedStore(root)
    master_dir, version = store.next_master_dir()
    master = Store(str(master_dir))
    _fill(master)
    store.publish_new_master(master, master_dir, version)
    del master
    return store


def reference_store_for(store_kind: str, root: Path, request) -> EmbeddedStore | ExternalStore:
    """The reference store on the store under test (Virtuoso: the session's scratch server)."""
    server = request.getfixturevalue("scratch_virtuoso") if store_kind == "virtuoso" else None
    return make_reference_store(root, server)


def twinning_turtle(a_qid: str, b_qid: str, *, status: str = "formal", start: str = "2019",
                    extra: str = "") -> str:
    """A partner's twinning, with both cities given by their Wikidata IRIs and the IRI built from the QIDs."""
    first, second = sorted((a_qid, b_qid))
    return PREFIXES + f"""
cdi:twinning/{first}__{second} a cdo:Twinning ; cdo:party wd:{a_qid}, wd:{b_qid} ;
    cdo:twinningType tt:friendship-city ; cdo:status ts:{status} ; schema:startDate "{start}"^^xsd:gYear ;
    prov:wasDerivedFrom <{SOURCE}> {extra}.
"""


def upload_of(tmp_path: Path, text: str, fmt: formats.Format = formats.TURTLE, name: str = "upload") -> merge.Upload:
    path = tmp_path / f"{name}.{fmt.extensions[0]}"
    path.write_bytes((expand(text) if fmt is formats.TURTLE else text).encode())
    return merge.from_file(path, fmt)


@pytest.fixture
def reference_store(store_kind, tmp_path, request) -> EmbeddedStore | ExternalStore:
    return reference_store_for(store_kind, tmp_path / "store", request)


@pytest.fixture
def partner(reference_store):
    return Registry(reference_store).add(PARTNER)[0]


def query(store: EmbeddedStore, text: str) -> list[dict[str, str]]:
    rows = store.reader().query(text, use_default_graph_as_union=True)
    return [{v.value: row[v].value for v in rows.variables if row[v] is not None} for row in rows]


# -- reconcile ---------------------------------------------------------------------------------------------


def test_wikidata_iris_land_on_our_cities_and_queries_see_the_new_twinning(reference_store, partner, tmp_path):
    """Qingdao is gn-1797929 here (its QID came later): the partner's Q170322 must land on it."""
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH,
                         upload_of(tmp_path, twinning_turtle("Q170322", "Q90")), operation="replace")
    assert answer["created"] and answer["version"] == 1
    assert answer["reconciled"]["rewrites"][iris.wikidata("Q170322")] == CITY["gn-1797929"]
    assert answer["reconciled"]["rewrites"][iris.ID + "twinning/Q170322__Q90"] == iris.twinning("Q90", "gn-1797929")
    assert answer["warnings"] == []
    twins = query(reference_store, f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?twin WHERE {{ <{CITY['gn-1797929']}> cdo:twinnedWith ?twin }} ORDER BY ?twin""")
    assert [row["twin"] for row in twins] == [CITY["Q656"], CITY["Q90"]]


def test_geonames_iris_and_keys_minted_otherwise_are_reconciled(reference_store, partner, tmp_path):
    text = PREFIXES + f"""
cdi:twinning/Q170322__Q649 a cdo:Twinning ; cdo:party <https://sws.geonames.org/524901/>, cdi:city/Q170322 ;
    cdo:twinningType tt:sister-city ; cdo:status ts:intent ; prov:wasDerivedFrom <{SOURCE}> .
"""
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    twinning = iris.twinning("Q649", "gn-1797929")
    parties = query(reference_store, f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?p WHERE {{ GRAPH <{PARTNER_GRAPH}> {{ <{twinning}> cdo:party ?p }} }} ORDER BY ?p""")
    assert [row["p"] for row in parties] == [CITY["Q649"], CITY["gn-1797929"]]
    assert answer["reconciled"]["rewritten"] == 3


def test_unknown_places_are_warnings_and_blank_nodes_are_skolemised(reference_store, partner, tmp_path):
    text = PREFIXES + f"""
cdi:twinning/Q90__Q956 a cdo:Twinning ; cdo:party cdi:city/Q956, wd:Q90 ;
    cdo:twinningType tt:sister-city ; cdo:status ts:formal ; prov:wasDerivedFrom <{SOURCE}> ;
    cdo:participant wd:Q1490 ;
    <http://www.w3.org/2000/01/rdf-schema#seeAlso> [ <http://www.w3.org/2000/01/rdf-schema#label> "note" ] .
"""
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    assert [w["iri"] for w in answer["warnings"]] == [iris.wikidata("Q1490")]
    assert answer["reconciled"]["blank_nodes_skolemised"] == 1
    reader = reference_store.reader()
    assert not any(q.subject.value.startswith("_") for q in reader.quads_for_pattern(None, None, None,
                                                                                     NamedNode(PARTNER_GRAPH)))
    genids = [q for q in reader.quads_for_pattern(None, None, None, NamedNode(PARTNER_GRAPH))
              if q.subject.value.startswith(iris.BASE + ".well-known/genid/")]
    assert len(genids) == 1


# -- conflicts ---------------------------------------------------------------------------------------------


def test_a_conflict_is_reported_and_both_claims_stay_queryable(reference_store, partner, tmp_path):
    """The partner says the Qingdao–Saint Petersburg tie ended; the reference says formal."""
    text = twinning_turtle("Q656", "Q170322", status="terminated", start="1993",
                           extra='; schema:endDate "2022"^^xsd:gYear ')
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    twinning = iris.twinning("Q656", "gn-1797929")
    by_predicate = {c["predicate"]: c for c in answer["conflicts"]}
    assert by_predicate[iris.ONTOLOGY + "status"] == {
        "subject": twinning, "predicate": iris.ONTOLOGY + "status",
        "partner_value": [iris.concept("twinning-status", "terminated")],
        "reference_value": iris.concept("twinning-status", "formal"),
        "reference_graph": iris.graph("wikidata-twinnings"),
    }
    assert by_predicate[iris.ONTOLOGY + "twinningType"]["reference_value"] == iris.concept("twinning-type",
                                                                                        "sister-city")
    assert answer["conflict_count"] == 2  # the start dates agree
    claims = query(reference_store, f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?status ?g WHERE {{ GRAPH ?g {{ <{twinning}> cdo:status ?status }} }} ORDER BY ?g""")
    assert {(row["g"], row["status"].rsplit("/", 1)[1]) for row in claims} == {
        (PARTNER_GRAPH, "terminated"), (iris.graph("wikidata-twinnings"), "formal")}


def test_a_partial_statement_about_a_reference_city_is_validated_with_the_reference_data(
        reference_store, partner, tmp_path):
    """Another country for a city: a conflict, not a violation, though the upload alone lacks the city's name
    (and its geometry node, which the city's reference triples bring along)."""
    text = PREFIXES + "cdi:city/Q656 cdo:country cdi:country/FR .\n"
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    assert [(c["predicate"], c["partner_value"], c["reference_value"]) for c in answer["conflicts"]] == [
        (iris.ONTOLOGY + "country", [iris.country("FR")], iris.country("RU"))]


def derived(store: EmbeddedStore) -> list[str]:
    reader = store.reader()
    return sorted(str(q.triple) for q in reader.quads_for_pattern(None, None, None, NamedNode(derive.DERIVED_GRAPH)))


def recomputed(store: EmbeddedStore) -> list[str]:
    """The derived graph as a full :func:`amity.derive.materialise` gives it, on an in-memory copy."""
    copy = Store()
    copy.extend(store.reader())
    derive.materialise(copy)
    return sorted(str(q.triple) for q in copy.quads_for_pattern(None, None, None, NamedNode(derive.DERIVED_GRAPH)))


def test_the_derived_graph_after_each_merge_equals_a_full_recomputation(reference_store, partner, tmp_path):
    """Merges recompute the derived graph from a copy of what it reads: the result must not differ."""
    original = derived(reference_store)
    ended = twinning_turtle("Q656", "Q170322", status="formal", start="1993",
                            extra='; schema:endDate "2022"^^xsd:gYear ')
    membership = PREFIXES + f"""
cdi:membership/c40__Q90__member a org:Membership ; org:member wd:Q90 ; org:organization cdi:org/c40 ;
    org:role role:member ; prov:wasDerivedFrom <{SOURCE}> .
"""
    steps = [("replace", twinning_turtle("Q170322", "Q90")), ("add", twinning_turtle("Q956", "Q649")),
             ("add", membership), ("replace", ended), ("delete", None)]
    for i, (operation, text) in enumerate(steps):
        if operation == "delete":
            merge.delete(reference_store, partner, PARTNER_GRAPH)
        else:
            merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text, name=f"s{i}"),
                        operation=operation)
        assert derived(reference_store) == recomputed(reference_store), f"after step {i} ({operation})"
        if operation == "replace" and text is ended:
            assert not any(CITY["Q656"] in t and CITY["gn-1797929"] in t for t in derived(reference_store))
    assert derived(reference_store) == original


# -- refusals leave the store as it was --------------------------------------------------------------------


def test_a_shape_violation_is_refused_with_the_report(reference_store, partner, tmp_path):
    before = dump(reference_store)
    text = twinning_turtle("Q170322", "Q90", extra='; cdo:status ts:formal, ts:intent ')
    text = text.replace('cdo:twinningType tt:friendship-city ;', '')
    with pytest.raises(ShapeViolation) as caught:
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    report = caught.value.extra["report"]
    assert not report["conforms"] and report["violations"] >= 2
    shapes = {r["sourceShape"].rsplit("#", 1)[1] for r in report["results"] if r["resultSeverity"] == "Violation"}
    assert {"Twinning-twinningType", "Twinning-status"} <= shapes
    assert "sh:ValidationReport" in caught.value.report.turtle()
    assert dump(reference_store) == before and reference_store.version() == 1


def test_a_syntax_error_gives_line_and_column(reference_store, partner, tmp_path):
    before = dump(reference_store)
    text = PREFIXES + "cdi:city/Q656 cdo:country cdi:country/FR\ncdi:city/Q90 cdo:country .\n"
    with pytest.raises(DocumentSyntaxError) as caught:
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    line = PREFIXES.count("\n") + 2
    assert caught.value.extra["line"] == line and caught.value.extra["column"] > 0
    assert f"line {line}" in caught.value.detail
    assert dump(reference_store) == before


def test_other_graphs_are_refused(reference_store, partner, tmp_path):
    upload = upload_of(tmp_path, twinning_turtle("Q170322", "Q90"))
    for graph in (iris.graph("gazetteer"), iris.partner_graph("other"), iris.partner_graph("unesco-2"),
                  iris.graph("provenance"), iris.graph("derived")):
        with pytest.raises(Forbidden):
            merge.merge(reference_store, partner, graph, upload, operation="replace")
    with pytest.raises(BadRequest):
        merge.merge(reference_store, partner, PARTNER_GRAPH + "/Not A Slug", upload, operation="replace")


def test_quads_for_another_graph_are_refused(reference_store, partner, tmp_path):
    text = f"<{CITY['Q90']}> <{iris.ONTOLOGY}country> <{iris.country('CN')}> <{iris.graph('gazetteer')}> .\n"
    before = dump(reference_store)
    with pytest.raises(BadRequest, match="one request per graph"):
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text, formats.NQUADS),
                    operation="replace")
    assert dump(reference_store) == before
    text = text.replace(f"<{iris.graph('gazetteer')}>", f"<{PARTNER_GRAPH}>")
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text, formats.NQUADS),
                         operation="replace")
    assert answer["triples"]["after"] == 1


@pytest.mark.parametrize("step", ["derive", "history", "record", "publish"])
def test_a_failure_between_steps_publishes_nothing(reference_store, partner, tmp_path, monkeypatch, step):
    """The graph is already replaced in the write copy when the fault hits: none of it may become visible."""
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q170322", "Q90")),
                operation="replace")
    before, version = dump(reference_store), reference_store.version()

    def fail(*args, **kwargs):
        raise OSError(f"injected fault in {step}")

    if isinstance(reference_store, ExternalStore):  # the steps of amity/remote_merge.py
        target = {"derive": (remote_merge, "_derived_delta"), "history": (history, "write_version"),
                  "record": (history, "record"), "publish": (RemoteStore, "update")}[step]
    else:
        target = {"derive": (merge, "rederive"), "history": (history, "write_version"),
                  "record": (history, "record"),
                  "publish": (type(reference_store), "publish_new_master")}[step]
    if step == "publish" and isinstance(reference_store, ExternalStore):
        real_update = RemoteStore.update

        def fail(self, text, **kwargs):  # noqa: F811 - only the commit request fails, after staging
            if "MOVE" in text:
                raise OSError("injected fault in publish")
            return real_update(self, text, **kwargs)
    monkeypatch.setattr(*target, fail)
    with pytest.raises(OSError, match="injected"):
        merge.merge(reference_store, partner, PARTNER_GRAPH,
                    upload_of(tmp_path, twinning_turtle("Q956", "Q649"), name="second"), operation="replace")
    monkeypatch.undo()
    assert dump(reference_store) == before and reference_store.version() == version
    assert not history.version_path(reference_store.root, PARTNER, 2).exists()
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH,
                         upload_of(tmp_path, twinning_turtle("Q956", "Q649"), name="third"), operation="replace")
    assert answer["version"] == 2


def test_readers_never_see_half_a_merge(reference_store, partner, tmp_path, monkeypatch):
    """Paused after the graph was written into the write copy: a reader opened then still sees the old state."""
    paused, resume = threading.Event(), threading.Event()
    module, name = (remote_merge, "_derived_delta") if isinstance(reference_store, ExternalStore) \
        else (merge, "rederive")
    real = getattr(module, name)

    def pause(*args):
        paused.set()
        assert resume.wait(60)
        return real(*args)

    monkeypatch.setattr(module, name, pause)
    before = dump(reference_store)
    result: dict = {}
    writer = threading.Thread(target=lambda: result.update(merge.merge(
        reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q170322", "Q90")),
        operation="replace")))
    writer.start()
    assert paused.wait(60)
    assert dump(reference_store) == before
    assert not reopen(reference_store).reader().contains_named_graph(NamedNode(PARTNER_GRAPH))
    resume.set()
    writer.join(60)
    assert result["version"] == 1
    assert reopen(reference_store).reader().contains_named_graph(NamedNode(PARTNER_GRAPH))


def test_revalidate_checks_a_stored_partner_graph_as_its_merge_did(reference_store, partner, tmp_path):
    text = PREFIXES + "cdi:city/Q656 cdo:country cdi:country/FR ; skos:altLabel \"Piter\"@ru .\n"
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text), operation="replace")
    report, conflicts = merge.revalidate(reference_store.reader(), PARTNER_GRAPH)
    assert report.conforms and [c["predicate"] for c in conflicts] == [iris.ONTOLOGY + "country"]


# -- add, delete, history, rollback ------------------------------------------------------------------------


def test_add_checks_the_partner_graph_and_the_upload_together(reference_store, partner, tmp_path):
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q170322", "Q90")),
                operation="replace")
    answer = merge.merge(reference_store, partner, PARTNER_GRAPH,
                         upload_of(tmp_path, twinning_turtle("Q956", "Q649"), name="b"), operation="add")
    assert not answer["created"] and answer["triples"]["after"] == 2 * answer["triples"]["uploaded"]
    second_status = PREFIXES + "cdi:twinning/Q90__gn-1797929 cdo:status ts:intent .\n"
    with pytest.raises(ShapeViolation) as caught:
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, second_status, name="c"),
                    operation="add")
    assert any(r["sourceShape"].endswith("Twinning-status") for r in caught.value.extra["report"]["results"])


def test_a_history_file_that_cannot_be_written_leaves_nothing_behind(tmp_path):
    """A full disk while a version is written: the error goes up, and no temporary file stays in history/."""
    import errno

    from pyoxigraph import Quad

    def quads_then_full_disk():
        yield Quad(NamedNode("https://w3id.org/citydiplomacy/id/city/Q90"), NamedNode("http://x/p"),
                   NamedNode("http://x/o"), NamedNode("https://w3id.org/citydiplomacy/graph/partner/x"))
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        history.write_version(tmp_path, "partner-x", 1, quads_then_full_disk())
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_history_delete_and_rollback(reference_store, partner, tmp_path):
    first = twinning_turtle("Q170322", "Q90")
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, first), operation="replace")
    v1 = sorted(str(q) for q in reference_store.reader().quads_for_pattern(None, None, None,
                                                                          NamedNode(PARTNER_GRAPH)))
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q956", "Q649"),
                                                                   name="b"), operation="replace")
    merge.delete(reference_store, partner, PARTNER_GRAPH)
    assert not reference_store.reader().contains_named_graph(NamedNode(PARTNER_GRAPH))
    with pytest.raises(NotFound):
        merge.delete(reference_store, partner, PARTNER_GRAPH)
    answer = merge.rollback(reference_store, partner, PARTNER_GRAPH, 1)
    assert answer["version"] == 4 and answer["restored_version"] == 1 and answer["operation"] == "rollback"
    restored = sorted(str(q) for q in reference_store.reader().quads_for_pattern(None, None, None,
                                                                                NamedNode(PARTNER_GRAPH)))
    assert restored == v1
    versions = history.versions(reference_store.reader(), PARTNER_GRAPH)
    assert [(v.version, v.operation, v.triples) for v in versions] == [
        (1, "replace", 7), (2, "replace", 7), (3, "delete", 0), (4, "rollback", 7)]
    assert versions[0].upload_sha256 and versions[0].upload_bytes and versions[0].partner == PARTNER
    assert versions[3].restored == 1
    stored = gzip.decompress(history.version_path(reference_store.root, PARTNER, 4).read_bytes())
    assert sorted(str(q) for q in parse(stored, RdfFormat.N_QUADS)) == v1
    with pytest.raises(NotFound):
        merge.rollback(reference_store, partner, PARTNER_GRAPH, 9)


def test_provenance_is_prov_o_with_a_deterministic_activity(reference_store, partner, tmp_path):
    upload = upload_of(tmp_path, twinning_turtle("Q170322", "Q90"))
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload, operation="replace")
    rows = query(reference_store, f"""PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX schema: <http://schema.org/> PREFIX dcat: <http://www.w3.org/ns/dcat#>
        SELECT ?who ?size ?sha WHERE {{ GRAPH <{history.PROVENANCE_GRAPH}> {{
          <{iris.ID}merge/unesco/1> a prov:Activity ; prov:wasAssociatedWith ?who ;
             prov:used [ dcat:byteSize ?size ; schema:sha256 ?sha ] ; prov:generated ?v .
          ?v prov:specializationOf <{PARTNER_GRAPH}> }} }}""")
    assert rows == [{"who": iris.ID + "partner/unesco", "size": str(upload.size), "sha": upload.sha256}]


def test_dry_run_writes_nothing_and_reads_no_partner_graph(reference_store, partner, tmp_path):
    merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q170322", "Q90")),
                operation="replace")
    before, version = dump(reference_store), reference_store.version()
    answer = merge.dry_run(reference_store, upload_of(tmp_path, twinning_turtle("Q956", "Q649"), name="b"),
                           graph=PARTNER_GRAPH)
    assert answer["dry_run"] and answer["conforms"] and answer["triples"]["uploaded"] == 7
    with pytest.raises(BadRequest):
        merge.dry_run(reference_store, upload_of(tmp_path, twinning_turtle("Q956", "Q649"), name="c"),
                      graph=PARTNER_GRAPH, operation="add")
    assert dump(reference_store) == before and reference_store.version() == version


# -- no fetching, no external entities ---------------------------------------------------------------------


@pytest.fixture
def other_server() -> Iterator[RecordingServer]:
    """A local HTTP server that records every request; it serves a JSON-LD context, the thing a parser would fetch."""
    with RecordingServer(b'{"@context": {"name": "http://schema.org/name"}}', "application/ld+json",
                         methods=("GET",), record_method=False) as server:
        yield server


@pytest.fixture
def recorder(other_server: RecordingServer) -> str:
    """The other server's URL, without the trailing slash: ``http://127.0.0.1:<port>``."""
    return other_server.url.rstrip("/")


@pytest.fixture
def hits(other_server: RecordingServer) -> list[str]:
    """The paths the other server was asked for during the test."""
    return other_server.hits


def test_a_remote_json_ld_context_is_never_fetched(reference_store, partner, tmp_path, recorder, hits):
    text = json.dumps({"@context": f"{recorder}/context.jsonld", "@id": CITY["Q90"], "name": "x"})
    with pytest.raises(DocumentSyntaxError):
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text, formats.JSONLD),
                    operation="replace")
    assert hits == []


def test_rdf_xml_external_entities_are_not_resolved(reference_store, partner, tmp_path, recorder, hits):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    text = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY file SYSTEM "file://{secret}">
  <!ENTITY remote SYSTEM "{recorder}/entity">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <rdf:Description rdf:about="{CITY['Q90']}"><rdfs:comment>&file;&remote;</rdfs:comment></rdf:Description>
</rdf:RDF>"""
    with contextlib.suppress(DocumentSyntaxError):  # refusing the document is fine; resolving is not
        merge.merge(reference_store, partner, PARTNER_GRAPH, upload_of(tmp_path, text, formats.RDFXML),
                    operation="replace")
    assert hits == []
    assert b"TOP SECRET" not in dump(reference_store)
