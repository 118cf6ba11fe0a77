"""The countries, gazetteer, links, Wikidata twinnings and C40 loaders on the real bundled data."""

from __future__ import annotations

import gc
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

import pytest
from place_index_cache import context, copy_data, insert_lines, real_index
from pyoxigraph import BlankNode, Literal, NamedNode

from amity import iris
from amity.ns import CDO, GEO, ORG, OWL, PROV, RDF, SCHEMA, SKOS, WDT, WGS, XSD
from loaders import c40, countries, gazetteer, links, wikidata_twinnings
from loaders.base import BuildContext, Source, Triple
from loaders.place_names import is_simplified_chinese

MY_LOADERS = (countries, gazetteer, links, wikidata_twinnings, c40)
DECIMAL = re.compile(r"^-?[0-9]+\.[0-9]+$")
WKT = re.compile(r"^POINT\(-?[0-9]+\.[0-9]+ -?[0-9]+\.[0-9]+\)$")


def run(loader, ctx: BuildContext | None = None) -> list[Triple]:
    return list(loader.triples(ctx or context()))


@pytest.fixture(scope="module")
def graphs() -> dict[str, list[Triple]]:
    built = {loader.__name__.rsplit(".", 1)[-1]: run(loader) for loader in MY_LOADERS}
    gc.freeze()  # ~450k long-lived triples: keep the cyclic collector from rescanning them in every test
    return built


@pytest.fixture(scope="module")
def described(graphs) -> dict[str, dict[NamedNode, list[tuple[NamedNode, object]]]]:
    """Each graph's triples grouped by subject."""
    return {name: by_subject(triples) for name, triples in graphs.items()}


def by_subject(triples: Iterable[Triple]) -> dict[NamedNode, list[tuple[NamedNode, object]]]:
    subjects: dict[NamedNode, list] = defaultdict(list)
    for s, p, o in triples:
        subjects[s].append((p, o))
    return subjects


def objects(description: list[tuple[NamedNode, object]], predicate: NamedNode) -> list:
    return [o for p, o in description if p == predicate]


@pytest.mark.parametrize("loader", MY_LOADERS, ids=lambda m: m.__name__)
def test_each_loader_declares_its_graph_and_source(loader):
    assert loader.GRAPH.startswith(iris.GRAPH) and isinstance(loader.SOURCE, Source)
    assert re.match(r"^https?://", loader.SOURCE.licence)
    assert re.match(r"^\d{4}-\d\d-\d\d$", loader.SOURCE.retrieved)


@pytest.mark.parametrize("name", ["countries", "gazetteer", "links", "wikidata_twinnings", "c40"])
def test_no_blank_nodes_and_no_repeated_triples(graphs, name):
    triples = graphs[name]
    assert not any(isinstance(term, BlankNode) for triple in triples for term in triple)
    assert len(set(triples)) == len(triples)


@pytest.mark.parametrize("loader", MY_LOADERS, ids=lambda m: m.__name__)
def test_running_a_loader_twice_gives_identical_triples(graphs, loader):
    assert run(loader) == graphs[loader.__name__.rsplit(".", 1)[-1]]


def test_the_default_graph_stays_within_budget(graphs):
    counts = {name: len(triples) for name, triples in graphs.items()}
    assert 2_000 <= counts["countries"] <= 3_000
    assert 320_000 <= counts["gazetteer"] <= 380_000
    assert 35_000 <= counts["links"] <= 45_000
    assert counts["wikidata_twinnings"] == 6 * 10_596
    assert 480 <= counts["c40"] <= 600
    assert sum(counts.values()) < 480_000  # leaves room for the ontology and curated graphs under ~500k


# --- countries ----------------------------------------------------------------------------------------------

def test_every_iso_country_and_kosovo_has_codes_and_six_labels(described):
    subjects = described["countries"]
    assert len(subjects) == 250
    for node, description in subjects.items():
        code = iris.key_of(node.value)
        assert objects(description, CDO.iso2) == [Literal(code, datatype=XSD.string)]
        assert len(objects(description, CDO.iso3)) == 1
        languages = sorted(o.language for o in objects(description, SKOS.prefLabel))
        assert languages == ["ar", "en", "es", "fr", "ru", "zh"], code
        zh = next(o.value for o in objects(description, SKOS.prefLabel) if o.language == "zh")
        assert zh.encode("gb2312"), code  # simplified Chinese only
    kosovo = subjects[NamedNode(iris.country("XK"))]
    assert Literal("XKX", datatype=XSD.string) in objects(kosovo, CDO.iso3)


@pytest.mark.parametrize(("code", "zh", "en"), [
    ("TW", "台湾", "Taiwan"), ("HK", "香港", "Hong Kong"), ("MO", "澳门", "Macao"),
    ("US", "美国", "United States of America"),
])
def test_country_labels_follow_the_naming_policy(described, code, zh, en):
    description = described["countries"][NamedNode(iris.country(code))]
    labels = {o.language: o.value for o in objects(description, SKOS.prefLabel)}
    assert (labels["zh"], labels["en"]) == (zh, en)
    assert not any("Province" in v or "Republic of China" in v or "民國" in v for v in labels.values())


def test_country_name_rows_that_cannot_be_used_are_reported(tmp_path):
    data = copy_data(tmp_path)
    insert_lines(data / countries.COUNTRY_NAMES, 2, "ZZ,Nowhere,Нигде,,,,", "FR,France")
    ctx = BuildContext(data_dir=data)
    assert len({s for s, _, _ in run(countries, ctx)}) == 250
    reported = {(p.file, p.line): p.message for p in ctx.problems}
    file = countries.COUNTRY_NAMES.name
    assert "not an ISO 3166-1" in reported[(file, 3)] and "fields" in reported[(file, 4)]
    assert any("NL is listed twice" in message for message in reported.values())


# --- gazetteer ----------------------------------------------------------------------------------------------

def test_every_gazetteer_city_is_complete(described):
    subjects = described["gazetteer"]
    cities = {s: d for s, d in subjects.items() if (RDF.type, CDO.City) in d}
    assert len(cities) == real_index().stats["gazetteer places"]
    for node, description in cities.items():
        assert len(objects(description, CDO.country)) == 1, node
        languages = [o.language for o in objects(description, SKOS.prefLabel)]
        assert "en" in languages and len(languages) == len(set(languages)), node
        lat, long = objects(description, WGS.lat), objects(description, WGS.long)
        assert len(lat) == len(long) == 1 and all(DECIMAL.match(x.value) for x in lat + long), node
        assert lat[0].datatype == XSD.decimal and -90 <= float(lat[0].value) <= 90
        (geometry,) = objects(description, GEO.hasGeometry)
        assert geometry.value == iris.geometry(node.value)
        (wkt,) = objects(subjects[geometry], GEO.asWKT)
        assert WKT.match(wkt.value) and wkt.value == f"POINT({long[0].value} {lat[0].value})"
        assert len(objects(description, SKOS.altLabel)) <= 2


def test_a_city_with_a_qid_and_a_geonames_id_is_one_node(described):
    saint_petersburg = described["gazetteer"][NamedNode(iris.city("Q656"))]
    assert objects(saint_petersburg, CDO.wikidataId) == [Literal("Q656", datatype=XSD.string)]
    assert objects(saint_petersburg, CDO.geonamesId) == [Literal("498817", datatype=XSD.string)]
    assert objects(saint_petersburg, CDO.country) == [NamedNode(iris.country("RU"))]
    assert int(objects(saint_petersburg, CDO.population)[0].value) > 5_000_000
    assert NamedNode(iris.city("gn-498817")) not in described["gazetteer"]


def test_chinese_labels_of_the_gazetteer_are_simplified(graphs):
    zh = [o.value for _, p, o in graphs["gazetteer"] if p == SKOS.prefLabel and o.language == "zh"]
    assert len(zh) > 9_000 and all(is_simplified_chinese(v) or "·" in v for v in zh if len(v) > 1)


def test_wikidata_only_cities_are_in_the_gazetteer(described):
    metropolis_of_lyon = described["gazetteer"][NamedNode(iris.city("Q16665897"))]
    assert objects(metropolis_of_lyon, CDO.country) == [NamedNode(iris.country("FR"))]
    assert objects(metropolis_of_lyon, CDO.geonamesId) == []


def test_every_gazetteer_country_is_a_countries_graph_entry(graphs):
    known = {s for s, p, o in graphs["countries"] if p == RDF.type}
    assert {o for _, p, o in graphs["gazetteer"] if p == CDO.country} <= known


# --- links --------------------------------------------------------------------------------------------------

def test_links_point_a_city_to_wikidata_and_geonames(graphs):
    city = NamedNode(iris.city("Q656"))
    same_as = [o.value for s, p, o in graphs["links"] if s == city and p == OWL.sameAs]
    assert sorted(same_as) == ["http://www.wikidata.org/entity/Q656", "https://sws.geonames.org/498817/"]
    index = real_index()
    expected = sum(bool(p.qid) for p in index) + sum(p.geonames_id is not None for p in index)
    assert len(graphs["links"]) == expected


# --- Wikidata twinnings -------------------------------------------------------------------------------------

def test_every_pair_is_one_formal_sister_city_twinning_between_known_places(described):
    subjects = described["wikidata_twinnings"]
    assert len(subjects) == 10_596
    places = {p.iri for p in real_index()}
    for node, description in subjects.items():
        parties = sorted(o.value for o in objects(description, CDO.party))
        assert len(set(parties)) == 2 and set(parties) <= places
        assert node.value == iris.twinning(*(iris.key_of(p) for p in parties))
        assert objects(description, CDO.status) == [wikidata_twinnings.FORMAL]
        assert objects(description, CDO.twinningType) == [wikidata_twinnings.SISTER_CITY]
        assert objects(description, RDF.type) == [CDO.Twinning]
        assert objects(description, PROV.wasDerivedFrom) == [WDT.P190]


def test_the_most_twinned_cities_keep_their_partners(graphs):
    parties = Counter(o for _, p, o in graphs["wikidata_twinnings"] if p == CDO.party)
    assert parties[NamedNode(iris.city("Q656"))] == 96  # Saint Petersburg, the highest degree in the file
    assert parties[NamedNode(iris.city("Q8678"))] == 94  # Rio de Janeiro


def test_odd_twinning_rows_are_reported_with_their_line(tmp_path):
    data = copy_data(tmp_path)
    insert_lines(data / "wikidata-twin-cities-bothness" / "links.tsv", 2,
                 "Q656\tQ656",  # line 3: self-pair
                 "Q656\tQ999999999",  # line 4: unknown QID
                 "Q873835\tQ734532",  # line 5: line 2 reversed
                 "Q656",  # line 6: one field
                 "Q656\tnot-a-qid")  # line 7
    ctx = BuildContext(data_dir=data, places=real_index())
    assert len({s for s, _, _ in run(wikidata_twinnings, ctx)}) == 10_596
    reported = {p.line: p.message for p in ctx.problems if p.file == "links.tsv"}
    assert "itself" in reported[3] and "Q999999999" in reported[4] and "repeats line 2" in reported[5]
    assert "fields" in reported[6] and "QIDs" in reported[7]


# --- C40 ----------------------------------------------------------------------------------------------------

def test_c40_has_97_memberships_and_a_dated_observation(described):
    subjects = described["c40"]
    memberships = {s: d for s, d in subjects.items() if (RDF.type, ORG.Membership) in d}
    assert len(memberships) == 97
    guangzhou = memberships[NamedNode(iris.membership("c40", "Q16572", "member"))]
    assert objects(guangzhou, ORG.member) == [NamedNode(iris.city("Q16572"))]
    assert objects(guangzhou, ORG.organization) == [NamedNode(iris.org("c40"))]
    assert len(objects(guangzhou, PROV.wasDerivedFrom)) == 2  # home page and China office page
    (observation,) = [d for d in subjects.values() if (RDF.type, CDO.Observation) in d]
    assert objects(observation, SCHEMA.value) == [Literal("97", datatype=XSD.integer)]
    network = subjects[NamedNode(iris.org("c40"))]
    assert {o.language for o in objects(network, SKOS.prefLabel)} == {"en", "zh"}


def test_a_member_without_qid_gets_a_minted_city(described):
    subjects = described["c40"]
    ekurhuleni = subjects[NamedNode(iris.city("x-ekurhuleni"))]
    assert (RDF.type, CDO.City) in ekurhuleni
    assert objects(ekurhuleni, CDO.country) == [NamedNode(iris.country("ZA"))]
    assert NamedNode(iris.membership("c40", "x-ekurhuleni", "member")) in subjects


def test_bad_c40_rows_are_reported(tmp_path):
    data = copy_data(tmp_path)
    insert_lines(data / "c40-members-c40org" / "c40_members.csv", 1,
                 "C40 Cities Climate Leadership Group,Atlantis,??,Q1,,,https://www.c40.org/,x",  # line 2
                 "C40 Cities Climate Leadership Group,Paris")  # line 3
    ctx = BuildContext(data_dir=data, places=real_index())
    memberships = [s for s, p, o in run(c40, ctx) if p == RDF.type and o == ORG.Membership]
    assert len(memberships) == 97
    assert {p.line for p in ctx.problems if p.file == "c40_members.csv"} == {2, 3}
