"""C40 Cities Climate Leadership Group: the network, its member cities, and the member count c40.org states.

The member list was compiled by hand from the c40.org home page (97 cities) with QIDs matched against the
bundled Wikidata data; members are reconciled through the place index. A member the index cannot place on a
gazetteer city (Ekurhuleni: no QID, no GeoNames city of that name) still gets its membership, on a city node
minted here with the name and country c40.org gives, and is listed in the build's unmatched report.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import NamedNode

from amity import iris
from amity.ns import CDO, ORG, PROV, RDF, SCHEMA, SKOS
from loaders.base import BuildContext, Source, Triple
from loaders.gazetteer import place_triples
from loaders.place_sources import C40_MEMBERS, read_c40_members
from loaders.places import C40, places_of
from loaders.rdf_terms import date, integer, text, year

GRAPH = iris.graph("c40")
SOURCE = Source(
    title="C40 Cities Climate Leadership Group member cities, as listed on c40.org",
    url="https://www.c40.org/",
    # C40 grants no licence; the graph records membership facts only and cites the page: rights undetermined.
    licence="http://rightsstatements.org/vocab/UND/1.0/",
    retrieved="2026-11-23",
    attribution="Membership facts from c40.org (home page member list; China office page for the 13 Chinese "
                "members); Wikidata QIDs (CC0) matched by hand.",
    files=(str(C40_MEMBERS),),
)

ORG_KEY = "c40"
C40_ORG = NamedNode(iris.org(ORG_KEY))
HOME_PAGE = NamedNode("https://www.c40.org/")
CHINA_OFFICE_PAGE = NamedNode("https://www.c40.org/china-office/")
MEMBER = NamedNode(iris.concept("role", "member"))
MEMBER_CITIES = NamedNode(iris.concept("measure", "member-cities"))
#: The dated headline figure: "C40 has 97 member cities" on the page as read on this date.
OBSERVED_ON = "2026-11-23"
OBSERVED_MEMBERS = 97
OBSERVATION = NamedNode(iris.observation(f"c40-org-{OBSERVED_ON}", "member-cities"))


def network() -> Iterator[Triple]:
    """The network itself (labels as in the curated organisations file, which describes it too)."""
    yield C40_ORG, RDF.type, CDO.CityNetwork
    yield C40_ORG, SKOS.prefLabel, text("C40 Cities Climate Leadership Group", "en")
    yield C40_ORG, SKOS.prefLabel, text("C40城市气候领导联盟", "zh")
    yield C40_ORG, SKOS.altLabel, text("C40", "en")
    yield C40_ORG, SCHEMA.url, HOME_PAGE
    yield C40_ORG, SCHEMA.foundingDate, year(2005)  # founded in London in 2005
    yield C40_ORG, PROV.wasDerivedFrom, HOME_PAGE


def observation() -> Iterator[Triple]:
    yield OBSERVATION, RDF.type, CDO.Observation
    yield OBSERVATION, CDO.measure, MEMBER_CITIES
    yield OBSERVATION, SCHEMA.value, integer(OBSERVED_MEMBERS)
    yield OBSERVATION, SCHEMA.observationDate, date(OBSERVED_ON)
    yield OBSERVATION, SCHEMA.observationAbout, C40_ORG
    yield OBSERVATION, SKOS.note, text(f'c40.org: "C40 has {OBSERVED_MEMBERS} member cities"', "en")
    yield OBSERVATION, PROV.wasDerivedFrom, HOME_PAGE


def triples(ctx: BuildContext) -> Iterator[Triple]:
    places = places_of(ctx)
    path = ctx.data_dir / C40_MEMBERS
    yield from network()
    yield from observation()
    listed = {p.source_names.get("c40-en"): p for p in places if C40 in p.sources}
    seen: dict[str, int] = {}
    for member in read_c40_members(ctx.data_dir, ctx.problem):
        place = places.by_qid(member.qid) if member.qid else listed.get(member.name)
        if place is None:  # cannot happen after PlaceIndex.build, which places every member
            ctx.problem(path, member.line, f"{member.name}: not in the place index")
            continue
        if place.key in seen:
            ctx.problem(path, member.line, f"{member.name}: {place.key} is already on line {seen[place.key]}")
            continue
        seen[place.key] = member.line
        if not place.in_gazetteer:
            yield from place_triples(place)
        node = NamedNode(iris.membership(ORG_KEY, place.key, "member"))
        yield node, RDF.type, ORG.Membership
        yield node, ORG.member, NamedNode(place.iri)
        yield node, ORG.organization, C40_ORG
        yield node, ORG.role, MEMBER
        yield node, PROV.wasDerivedFrom, HOME_PAGE
        if member.china_office:
            yield node, PROV.wasDerivedFrom, CHINA_OFFICE_PAGE

