"""Every shape against a conforming world (tests/shapes/world.ttl) and against that world broken rule by rule.

Each broken case is a SPARQL update on the world and names the result it must produce: the focus node, the
shape (node shape, property shape or rules shape), and where it matters the path, the SPARQL constraint and
the severity. It must also produce no violation about any other node, so a case shows exactly which rule
fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
from rdflib import RDF, SH, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from amity.validate import _load_shapes, shapes_graph, validate
from tests.shapes import synthetic

WORLD = Path(__file__).parent / "shapes" / "world.ttl"
VOCAB = Path(__file__).parent.parent / "ontology" / "vocab"
CDSH = Namespace("https://w3id.org/citydiplomacy/shapes#")
ID = "https://w3id.org/citydiplomacy/id/"
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")

PREFIXES = """
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX schema: <http://schema.org/>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#>
PREFIX cdo: <https://w3id.org/citydiplomacy/ontology#>
PREFIX cdv: <https://w3id.org/citydiplomacy/vocab/>
PREFIX country: <https://w3id.org/citydiplomacy/id/country/>
PREFIX city: <https://w3id.org/citydiplomacy/id/city/>
PREFIX port: <https://w3id.org/citydiplomacy/id/port/>
PREFIX orgs: <https://w3id.org/citydiplomacy/id/org/>
PREFIX twin: <https://w3id.org/citydiplomacy/id/twinning/>
PREFIX mem: <https://w3id.org/citydiplomacy/id/membership/>
PREFIX src: <https://w3id.org/citydiplomacy/id/source/>
PREFIX obs: <https://w3id.org/citydiplomacy/id/observation/>
PREFIX agr: <https://w3id.org/citydiplomacy/id/agreement/>
PREFIX tt: <https://w3id.org/citydiplomacy/vocab/twinning-type/>
PREFIX ts: <https://w3id.org/citydiplomacy/vocab/twinning-status/>
"""

# Frequently broken nodes, relative to id/.
GZ = "city/Q16572"
SPB = "city/Q656"
QD = "city/gn-1797929"
NB = "port/x-ningbo-zhoushan"
CN = "country/CN"
GBA = "cluster/greater-bay-area"
METRO = "org/metropolis"
BRI = "org/bri-sustainable-cities-alliance"
CONSULATE = "consular-post/US__Q16572"
TWIN = "twinning/Q656__gn-1797929"
CITATION = "twinning/Q656__gn-1797929#from-004_a22a3d687938a3c4"
MEMBER = "membership/metropolis__Q16572__president"
GMF = "forum/global-mayors-forum"
EDITION = "forum/global-mayors-forum/2021"
SESSION = "forum/global-mayors-forum/2021/opening-plenary"
LUBAN = "initiative/luban-workshop"
AGREEMENT = "agreement/qingdao-saint-petersburg-agreement"
DECLARATION = "agreement/global-mayors-forum-2021-declaration"
OBS = "observation/001_76dca03cc061995e__friendship-cities"
PORTS = "observation/000_f1ca53fb8555da5d__friendship-ports"
SOURCE = "source/001_76dca03cc061995e"
#: Appended to changes that leave no formal Qingdao–Saint Petersburg twinning: no shortcut would be derived.
NO_SHORTCUTS = " ; DELETE WHERE { ?a cdo:twinnedWith ?b }"

CDO = "https://w3id.org/citydiplomacy/ontology#"
SCHEMA = "http://schema.org/"


@dataclass(frozen=True)
class Case:
    """A way to break the world, and the result it must give."""

    name: str
    update: str
    focus: str  # relative to id/
    shape: str  # local name in cdsh:
    path: str | None = None  # full IRI, or a SPARQL path such as ^<iri>
    constraint: str | None = None  # local name of the SPARQL constraint, for rules shapes
    severity: str = "Violation"
    also: tuple[str, ...] = ()  # other nodes the change rightly makes fail (relative to id/)

    def __str__(self) -> str:
        return self.name


def _t(local: str) -> str:
    return f"<{ID}{local}>"


CASES = [
    # --- countries ---
    Case("country-iri-not-iso2-form", f"INSERT DATA {{ {_t('country/china')} a cdo:Country ; cdo:iso2 "
                                      f"\"CH\" ; "
         "skos:prefLabel \"China\"@en, \"中国\"@zh, \"Китай\"@ru }", "country/china", "CountryShape"),
    Case("country-iri-differs-from-iso2", f"DELETE DATA {{ {_t(CN)} cdo:iso2 \"CN\" }} ; "
         f"INSERT DATA {{ {_t(CN)} cdo:iso2 \"CH\" }}", CN, "CountryRulesShape", CDO + "iso2",
         "country-iri-is-iso2"),
    Case("country-without-iso2", f"DELETE DATA {{ {_t(CN)} cdo:iso2 \"CN\" "
                                 f"}}", CN, "Country-iso2", CDO + "iso2"),
    Case("country-iso2-lower-case", f"DELETE DATA {{ {_t(CN)} cdo:iso2 \"CN\" }} ; "
         f"INSERT DATA {{ {_t(CN)} cdo:iso2 \"cn\" }}", CN, "Country-iso2", CDO + "iso2"),
    Case("country-iso3-two-letters", f"DELETE DATA {{ {_t(CN)} cdo:iso3 \"CHN\" }} ; "
         f"INSERT DATA {{ {_t(CN)} cdo:iso3 \"CN\" }}", CN, "Country-iso3", CDO + "iso3"),
    Case("country-without-chinese-name", f"DELETE DATA {{ {_t(CN)} skos:prefLabel \"中国\"@zh }}", CN,
         "NeedsChineseLabelShape", str(SKOS.prefLabel), "needs-chinese-label"),
    Case("country-without-russian-name-warns", f"DELETE DATA {{ {_t(CN)} skos:prefLabel \"Китай\"@ru }}", CN,
         "WantsRussianLabelShape", str(SKOS.prefLabel), "needs-russian-label", "Warning"),
    Case("two-english-names", f"INSERT DATA {{ {_t(CN)} skos:prefLabel \"PRC\"@en }}", CN, "prefLabel",
         str(SKOS.prefLabel)),
    Case("name-without-language", f"INSERT DATA {{ {_t(CN)} skos:prefLabel \"Zhongguo\" }}", CN, "prefLabel",
         str(SKOS.prefLabel)),
    Case("alt-name-without-language", f"INSERT DATA {{ {_t(CN)} skos:altLabel \"PRC\" }}", CN, "altLabel",
         str(SKOS.altLabel)),
    # --- cities, ports, clusters, places ---
    Case("city-iri-not-a-key", f"INSERT DATA {{ {_t('city/guangzhou')} a cdo:City ; skos:prefLabel \"G\"@en "
                               f"; "
         f"cdo:country {_t(CN)} }}", "city/guangzhou", "CityShape"),
    Case("city-without-country", f"DELETE DATA {{ {_t(GZ)} cdo:country {_t(CN)} }}", GZ, "country-of-place",
         CDO + "country"),
    Case("city-country-not-a-country", f"DELETE DATA {{ {_t(GZ)} cdo:country {_t(CN)} }} ; "
         f"INSERT DATA {{ {_t(GZ)} cdo:country {_t(SPB)} }}", GZ, "country-of-place", CDO + "country"),
    Case("city-with-two-countries", f"INSERT DATA {{ {_t(GZ)} cdo:country {_t('country/RU')} }}", GZ,
         "country-of-place", CDO + "country"),
    Case("latitude-out-of-range", f"DELETE WHERE {{ {_t(GZ)} wgs:lat ?l }} ; "
         f"INSERT DATA {{ {_t(GZ)} wgs:lat 123.5 "
         f"}}", GZ, "lat", "http://www.w3.org/2003/01/geo/wgs84_pos#lat"),
    Case("longitude-as-double", f"DELETE WHERE {{ {_t(GZ)} wgs:long ?l }} ; "
         f"INSERT DATA {{ {_t(GZ)} wgs:long \"113.25\"^^xsd:double }}", GZ, "long",
         "http://www.w3.org/2003/01/geo/wgs84_pos#long"),
    Case("geonames-id-not-digits", f"DELETE WHERE {{ {_t(GZ)} cdo:geonamesId ?g }} ; "
         f"INSERT DATA {{ {_t(GZ)} cdo:geonamesId \"gn1809858\" }}", GZ, "geonamesId", CDO + "geonamesId"),
    Case("wikidata-id-lower-case", f"DELETE WHERE {{ {_t(GZ)} cdo:wikidataId ?q }} ; "
         f"INSERT DATA {{ {_t(GZ)} cdo:wikidataId \"q16572\" }}", GZ, "wikidataId", CDO + "wikidataId"),
    Case("negative-population", f"DELETE WHERE {{ {_t(GZ)} cdo:population ?p }} ; "
         f"INSERT DATA {{ {_t(GZ)} cdo:population -5 }}", GZ, "City-population", CDO + "population"),
    Case("city-without-english-name", f"DELETE DATA {{ {_t(GZ)} skos:prefLabel \"Guangzhou\"@en }}", GZ,
         "NeedsEnglishLabelShape", str(SKOS.prefLabel), "needs-english-label"),
    Case("city-without-chinese-name-warns", f"DELETE DATA {{ {_t(GZ)} skos:prefLabel \"广州\"@zh }}", GZ,
         "WantsChineseLabelShape", str(SKOS.prefLabel), "needs-chinese-label", "Warning"),
    Case("two-geometries", f"INSERT DATA {{ {_t(GZ)} geo:hasGeometry {_t(SPB + '#geometry')} . "
         f"{_t(SPB + '#geometry')} geo:asWKT \"POINT(30 59)\"^^geo:wktLiteral }}", GZ,
         "hasGeometry", "http://www.opengis.net/ont/geosparql#hasGeometry"),
    Case("wkt-as-string", f"DELETE WHERE {{ {_t(GZ + '#geometry')} geo:asWKT ?w }} ; "
         f"INSERT DATA {{ {_t(GZ + '#geometry')} geo:asWKT \"POINT(113.25 23.1)\" }}", GZ + "#geometry",
         "Geometry-asWKT", "http://www.opengis.net/ont/geosparql#asWKT"),
    Case("geometry-iri-not-a-fragment", f"INSERT DATA {{ {_t(SPB)} geo:hasGeometry {_t('geometry/1')} . "
         f"{_t('geometry/1')} geo:asWKT \"POINT(30 59)\"^^geo:wktLiteral }}", "geometry/1", "GeometryShape"),
    Case("unlocode-with-space", f"DELETE WHERE {{ {_t(NB)} cdo:unlocode ?u }} ; "
         f"INSERT DATA {{ {_t(NB)} cdo:unlocode \"CN NGB\" }}", NB, "unlocode", CDO + "unlocode"),
    Case("port-iri-not-a-key", f"INSERT DATA {{ {_t('port/Busan')} a cdo:Port ; skos:prefLabel \"Busan\"@en "
                               f"; "
         f"cdo:country {_t('country/KR')} }}", "port/Busan", "PortShape"),
    Case("port-without-country", f"DELETE DATA {{ {_t(NB)} cdo:country {_t(CN)} }}", NB, "country-of-place",
         CDO + "country"),
    Case("place-of-no-concrete-kind", f"INSERT DATA {{ {_t('city/x-somewhere')} a cdo:Place ; "
         "skos:prefLabel \"Somewhere\"@en "
         "}", "city/x-somewhere", "PlaceShape", None, "place-has-a-concrete-class"),
    Case("cluster-without-cities", f"DELETE WHERE {{ {_t(GBA)} schema:containsPlace ?c }}", GBA,
         "CityCluster-containsPlace", SCHEMA + "containsPlace"),
    Case("cluster-contains-a-country", f"INSERT DATA {{ {_t(GBA)} schema:containsPlace {_t(CN)} }}", GBA,
         "CityCluster-containsPlace", SCHEMA + "containsPlace"),
    Case("cluster-without-english-name",
         f"DELETE DATA {{ {_t(GBA)} skos:prefLabel \"Guangdong-Hong Kong-Macao Greater Bay Area\"@en }}",
         GBA, "NeedsEnglishLabelShape", str(SKOS.prefLabel), "needs-english-label"),
    Case("cluster-without-source", f"DELETE WHERE {{ {_t(GBA)} prov:wasDerivedFrom ?s "
                                   f"}}", GBA, "wasDerivedFrom",
         "http://www.w3.org/ns/prov#wasDerivedFrom"),
    Case("cluster-iri-not-a-slug", f"INSERT DATA {{ {_t('cluster/YRD')} a cdo:CityCluster ; "
         f"skos:prefLabel \"YRD\"@en, \"长三角\"@zh ; schema:containsPlace {_t(GZ)} ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "cluster/YRD", "CityClusterShape"),
    Case("cluster-country-a-city", f"INSERT DATA {{ {_t(GBA)} cdo:country {_t(GZ)} "
                                   f"}}", GBA, "CityCluster-country",
         CDO + "country"),
    # --- organisations and consular posts ---
    Case("org-iri-not-a-slug", f"INSERT DATA {{ {_t('org/UN_Habitat')} a cdo:InternationalOrganization ; "
         f"skos:prefLabel \"UN-Habitat\"@en, \"人居署\"@zh ; prov:wasDerivedFrom {_t(SOURCE)} }}",
         "org/UN_Habitat", "OrganizationShape"),
    Case("network-without-chinese-name", f"DELETE DATA {{ {_t(METRO)} skos:prefLabel \"世界大都市协会\"@zh "
                                         f"}}", METRO,
         "NeedsChineseLabelShape", str(SKOS.prefLabel), "needs-chinese-label"),
    Case("network-without-source", f"DELETE WHERE {{ {_t(METRO)} prov:wasDerivedFrom ?s }}", METRO,
         "wasDerivedFrom", "http://www.w3.org/ns/prov#wasDerivedFrom"),
    Case("headquarters-not-a-city", f"DELETE WHERE {{ {_t(BRI)} cdo:headquarters ?h }} ; "
         f"INSERT DATA {{ {_t(BRI)} cdo:headquarters {_t(CN)} }}", BRI, "Organization-headquarters",
         CDO + "headquarters"),
    Case("founder-as-text", f"INSERT DATA {{ {_t(BRI)} schema:founder \"NDRC\" "
                            f"}}", BRI, "Organization-founder",
         SCHEMA + "founder"),
    Case("url-as-text", f"INSERT DATA {{ {_t(METRO)} schema:url \"https://metropolis.org\" }}", METRO, "url",
         SCHEMA + "url"),
    Case("field-not-in-scheme", f"INSERT DATA {{ {_t(METRO)} cdo:field "
                                f"<https://w3id.org/citydiplomacy/vocab/field/space> }}", METRO, "field",
         CDO + "field"),
    Case("founding-date-as-string", f"DELETE WHERE {{ {_t(METRO)} schema:foundingDate ?d }} ; "
         f"INSERT DATA {{ {_t(METRO)} schema:foundingDate \"1985\" "
         f"}}", METRO, "DatesShape", SCHEMA + "foundingDate",
         "dates-well-formed"),
    Case("two-founding-dates", f"INSERT DATA {{ {_t(METRO)} schema:foundingDate \"1984\"^^xsd:gYear "
                               f"}}", METRO,
         "foundingDate", SCHEMA + "foundingDate"),
    Case("initiator-as-text", f"INSERT DATA {{ {_t(BRI)} cdo:initiatedBy \"NDRC\" }}", BRI, "initiatedBy",
         CDO + "initiatedBy"),
    Case("participant-as-text", f"INSERT DATA {{ {_t(BRI)} cdo:participant \"WHO\" }}", BRI, "participant",
         CDO + "participant"),
    Case("consulate-without-sending-country", f"DELETE WHERE {{ {_t(CONSULATE)} cdo:sendingCountry ?c }}",
         CONSULATE, "ConsularPost-sendingCountry", CDO + "sendingCountry"),
    Case("consulate-located-in-a-country", f"DELETE WHERE {{ {_t(CONSULATE)} schema:location ?c }} ; "
         f"INSERT DATA {{ {_t(CONSULATE)} schema:location {_t(CN)} }}", CONSULATE, "ConsularPost-location",
         SCHEMA + "location"),
    Case("consulate-rank-not-in-scheme", f"DELETE WHERE {{ {_t(CONSULATE)} cdo:consularPostType ?t }} ; "
         f"INSERT DATA {{ {_t(CONSULATE)} cdo:consularPostType "
         f"<https://w3id.org/citydiplomacy/vocab/consular-post-type/embassy> }}", CONSULATE,
         "ConsularPost-consularPostType", CDO + "consularPostType"),
    Case("consulate-iri-names-another-country", f"DELETE WHERE {{ {_t(CONSULATE)} cdo:sendingCountry ?c }} ; "
         f"INSERT DATA {{ {_t(CONSULATE)} cdo:sendingCountry {_t('country/RU')} }}", CONSULATE,
         "ConsularPostRulesShape", None, "consular-post-iri-rule"),
    Case("consulate-iri-lower-case-country", f"INSERT DATA {{ {_t('consular-post/us__Q656')} a "
                                             f"cdo:ConsularPost ; "
         f"skos:prefLabel \"US consulate\"@en ; cdo:sendingCountry {_t('country/US')} ; schema:location "
         f"{_t(SPB)} ; "
         "cdo:consularPostType <https://w3id.org/citydiplomacy/vocab/consular-post-type/consulate> ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "consular-post/us__Q656", "ConsularPostShape"),
    Case("consulate-without-name", f"DELETE WHERE {{ {_t(CONSULATE)} skos:prefLabel ?l }}", CONSULATE,
         "NeedsChineseOrEnglishLabelShape", str(SKOS.prefLabel), "needs-chinese-or-english-label"),
    # --- twinnings ---
    Case("twinning-with-one-party", f"DELETE DATA {{ {_t(TWIN)} cdo:party {_t(SPB)} "
                                    f"}}" + NO_SHORTCUTS, TWIN, "Twinning-party",
         CDO + "party"),
    Case("twinning-with-three-parties", f"INSERT DATA {{ {_t(TWIN)} cdo:party {_t(GZ)} "
                                        f"}}" + NO_SHORTCUTS, TWIN,
         "Twinning-party", CDO + "party"),
    Case("twinning-party-a-country", f"DELETE DATA {{ {_t(TWIN)} cdo:party {_t(SPB)} }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:party {_t('country/RU')} "
         f"}}" + NO_SHORTCUTS, TWIN, "TwinningRulesShape", CDO + "party",
         "twinning-parties-are-places"),
    Case("twinning-without-type", f"DELETE WHERE {{ {_t(TWIN)} cdo:twinningType ?t }}" + NO_SHORTCUTS, TWIN,
         "Twinning-twinningType", CDO + "twinningType"),
    Case("twinning-type-from-another-scheme", f"DELETE WHERE {{ {_t(TWIN)} cdo:twinningType ?t }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:twinningType ts:formal "
         f"}}" + NO_SHORTCUTS, TWIN, "Twinning-twinningType",
         CDO + "twinningType"),
    Case("twinning-with-two-statuses", f"INSERT DATA {{ {_t(TWIN)} cdo:status ts:intent "
                                       f"}}" + NO_SHORTCUTS, TWIN,
         "Twinning-status", CDO + "status"),
    Case("twinning-status-not-in-scheme", f"DELETE WHERE {{ {_t(TWIN)} cdo:status ?s }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:status ts:dormant "
         f"}}" + NO_SHORTCUTS, TWIN, "Twinning-status", CDO + "status"),
    Case("twinning-keys-not-sorted", f"INSERT DATA {{ {_t('twinning/gn-1797929__Q656')} a cdo:Twinning ; "
         f"cdo:party {_t(SPB)}, {_t(QD)} ; cdo:twinningType tt:sister-city ; cdo:status ts:formal ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "twinning/gn-1797929__Q656", "TwinningRulesShape", None,
         "twinning-iri-rule"),
    Case("twinning-iri-not-two-keys", f"INSERT DATA {{ {_t('twinning/qingdao-spb')} a cdo:Twinning ; "
         f"cdo:party {_t(SPB)}, {_t(QD)} ; cdo:twinningType tt:sister-city ; cdo:status ts:formal ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "twinning/qingdao-spb", "TwinningShape"),
    Case("intent-after-start", f"DELETE WHERE {{ {_t(TWIN)} cdo:intentDate ?d }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:intentDate \"2013\"^^xsd:gYear }}", TWIN, "TwinningRulesShape",
         SCHEMA + "startDate", "dates-in-order"),
    Case("end-before-start-at-mixed-precision", f"INSERT DATA {{ {_t(TWIN)} schema:endDate "
                                                f"\"2012-05-31\"^^xsd:date ; "
         "cdo:status ts:terminated } ; DELETE DATA { "
         "" + _t(TWIN) + " cdo:status ts:formal }" + NO_SHORTCUTS, TWIN,
         "TwinningRulesShape", SCHEMA + "endDate", "dates-in-order"),
    Case("start-date-as-string", f"DELETE WHERE {{ {_t(TWIN)} schema:startDate ?d }} ; "
         f"INSERT DATA {{ {_t(TWIN)} schema:startDate \"2012-06\" "
         f"}}", TWIN, "DatesShape", SCHEMA + "startDate",
         "dates-well-formed"),
    Case("month-thirteen", f"DELETE WHERE {{ {_t(TWIN)} schema:startDate ?d }} ; "
         f"INSERT DATA {{ {_t(TWIN)} schema:startDate \"2012-13\"^^xsd:gYearMonth }}", TWIN, "DatesShape",
         SCHEMA + "startDate", "dates-well-formed"),
    Case("february-thirtieth", f"DELETE WHERE {{ {_t(TWIN)} schema:startDate ?d }} ; "
         f"INSERT DATA {{ {_t(TWIN)} schema:startDate \"2012-02-30\"^^xsd:date }}", TWIN, "DatesShape",
         SCHEMA + "startDate", "dates-well-formed"),
    Case("year-with-time-zone", f"DELETE WHERE {{ {_t(TWIN)} cdo:intentDate ?d }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:intentDate \"2011Z\"^^xsd:gYear }}", TWIN, "DatesShape",
         CDO + "intentDate", "dates-well-formed"),
    Case("two-start-dates", f"INSERT DATA {{ {_t(TWIN)} schema:startDate \"2012\"^^xsd:gYear }}", TWIN,
         "startDate", SCHEMA + "startDate"),
    Case("two-intent-dates", f"INSERT DATA {{ {_t(TWIN)} cdo:intentDate \"2010\"^^xsd:gYear }}", TWIN,
         "intentDate", CDO + "intentDate"),
    Case("terminated-without-end-date", f"DELETE DATA {{ {_t(TWIN)} cdo:status ts:formal }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:status ts:terminated }} ; DELETE WHERE {{ ?c cdo:twinnedWith ?d "
         f"}}", TWIN,
         "TwinningRulesShape", SCHEMA + "endDate", "terminated-twinning-has-end-date"),
    Case("friendship-port-between-cities", f"DELETE WHERE {{ {_t(TWIN)} cdo:twinningType ?t }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:twinningType tt:friendship-port "
         f"}}" + NO_SHORTCUTS, TWIN, "TwinningRulesShape",
         CDO + "party", "friendship-port-between-ports"),
    Case("evidence-not-an-agreement", f"INSERT DATA {{ {_t(TWIN)} cdo:evidencedBy {_t(SOURCE)} }}", TWIN,
         "evidencedBy", CDO + "evidencedBy"),
    Case("twinning-without-source", f"DELETE WHERE {{ {_t(TWIN)} prov:wasDerivedFrom ?s }}", TWIN,
         "wasDerivedFrom", "http://www.w3.org/ns/prov#wasDerivedFrom"),
    Case("citation-not-a-derivation", f"INSERT DATA {{ {_t(TWIN)} prov:qualifiedDerivation {_t(SOURCE)} "
                                      f"}}", TWIN,
         "qualifiedDerivation", "http://www.w3.org/ns/prov#qualifiedDerivation", also=(SOURCE,)),
    # --- citations ---
    Case("citation-without-source", f"DELETE WHERE {{ {_t(CITATION)} prov:entity ?e }}", CITATION,
         "Derivation-entity", "http://www.w3.org/ns/prov#entity"),
    Case("citation-iri-names-another-source", f"DELETE WHERE {{ {_t(CITATION)} prov:entity ?e }} ; "
         f"INSERT DATA {{ {_t(CITATION)} prov:entity {_t(SOURCE)} }}", CITATION, "DerivationRulesShape", None,
         "derivation-iri-rule"),
    Case("quote-without-language", f"INSERT DATA {{ {_t(CITATION)} cdo:quote \"a sentence\" }}", CITATION,
         "Derivation-quote", CDO + "quote"),
    Case("citation-iri-not-a-fragment", f"INSERT DATA {{ {_t(TWIN)} prov:qualifiedDerivation "
                                        f"{_t('citation/1')} . "
         f"{_t('citation/1')} a prov:Derivation ; prov:entity {_t(SOURCE)} "
         f"}}", "citation/1", "DerivationShape"),
    # --- derived shortcuts ---
    Case("shortcut-one-way", f"DELETE DATA {{ {_t(QD)} cdo:twinnedWith {_t(SPB)} "
                             f"}}", SPB, "twinnedWith-symmetric",
         f"^<{CDO}twinnedWith>"),
    Case("shortcut-without-twinning", f"INSERT DATA {{ {_t(GZ)} cdo:twinnedWith {_t(SPB)} . "
         f"{_t(SPB)} cdo:twinnedWith {_t(GZ)} }}", GZ, "TwinnedWithRulesShape", CDO + "twinnedWith",
         "twinnedWith-backed-by-formal-twinning", also=(SPB,)),
    Case("shortcut-for-intent-only", f"DELETE DATA {{ {_t(TWIN)} cdo:status ts:formal }} ; "
         f"INSERT DATA {{ {_t(TWIN)} cdo:status ts:intent "
         f"}}", SPB, "TwinnedWithRulesShape", CDO + "twinnedWith",
         "twinnedWith-backed-by-formal-twinning", also=(QD,)),
    Case("shortcut-to-itself", f"INSERT DATA {{ {_t(SPB)} cdo:twinnedWith {_t(SPB)} }}", SPB,
         "TwinnedWithRulesShape", CDO + "twinnedWith", "twinnedWith-backed-by-formal-twinning"),
    # --- memberships ---
    Case("membership-without-member", f"DELETE WHERE {{ {_t(MEMBER)} org:member ?m }}", MEMBER,
         "Membership-member", "http://www.w3.org/ns/org#member"),
    Case("member-a-document", f"DELETE WHERE {{ {_t(MEMBER)} org:member ?m }} ; "
         f"INSERT DATA {{ {_t(MEMBER)} org:member {_t(SOURCE)} }}", MEMBER, "MembershipRulesShape",
         "http://www.w3.org/ns/org#member", "member-is-a-city-or-organisation"),
    Case("organisation-a-city", f"DELETE WHERE {{ {_t(MEMBER)} org:organization ?o }} ; "
         f"INSERT DATA {{ {_t(MEMBER)} org:organization {_t(SPB)} }}", MEMBER, "MembershipRulesShape",
         "http://www.w3.org/ns/org#organization", "membership-is-in-an-organisation"),
    Case("membership-without-organisation", f"DELETE WHERE {{ {_t(MEMBER)} org:organization ?o }}", MEMBER,
         "Membership-organization", "http://www.w3.org/ns/org#organization"),
    Case("membership-without-role", f"DELETE WHERE {{ {_t(MEMBER)} org:role ?r }}", MEMBER, "Membership-role",
         "http://www.w3.org/ns/org#role"),
    Case("role-not-in-scheme", f"INSERT DATA {{ {_t(MEMBER)} org:role "
                               f"<https://w3id.org/citydiplomacy/vocab/role/mascot> }}", MEMBER,
         "Membership-role", "http://www.w3.org/ns/org#role"),
    Case("membership-iri-names-another-role", f"DELETE WHERE {{ {_t(MEMBER)} org:role ?r }} ; "
         f"INSERT DATA {{ {_t(MEMBER)} org:role <https://w3id.org/citydiplomacy/vocab/role/member> "
         f"}}", MEMBER, "MembershipRulesShape", None,
         "membership-iri-rule"),
    Case("membership-ends-before-it-starts", f"DELETE WHERE {{ {_t(MEMBER)} schema:endDate ?e }} ; "
         f"INSERT DATA {{ {_t(MEMBER)} schema:endDate \"2019\"^^xsd:gYear }}", MEMBER, "MembershipRulesShape",
         SCHEMA + "endDate", "dates-in-order"),
    Case("two-end-dates", f"INSERT DATA {{ {_t(MEMBER)} schema:endDate \"2024\"^^xsd:gYear "
                          f"}}", MEMBER, "endDate",
         SCHEMA + "endDate"),
    Case("membership-iri-not-three-keys", f"INSERT DATA {{ {_t('membership/metropolis-guangzhou')} a "
                                          f"org:Membership ; "
         f"org:member {_t(GZ)} ; org:organization {_t(METRO)} ; org:role "
         f"<https://w3id.org/citydiplomacy/vocab/role/member> ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "membership/metropolis-guangzhou", "MembershipShape"),
    # --- forums ---
    Case("forum-iri-not-a-slug", f"INSERT DATA {{ {_t('forum/Global_Forum')} a cdo:Forum ; "
         f"skos:prefLabel \"Global Forum\"@en, \"全球论坛\"@zh ; prov:wasDerivedFrom {_t(SOURCE)} }}",
         "forum/Global_Forum", "ForumShape"),
    Case("forum-without-chinese-name", f"DELETE DATA {{ {_t(GMF)} skos:prefLabel \"全球市长论坛\"@zh }}", GMF,
         "NeedsChineseLabelShape", str(SKOS.prefLabel), "needs-chinese-label"),
    Case("organiser-as-text", f"INSERT DATA {{ {_t(GMF)} schema:organizer \"Guangzhou\" }}", GMF, "organizer",
         SCHEMA + "organizer"),
    Case("forum-located-in-a-country", f"INSERT DATA {{ {_t(GMF)} schema:location {_t(CN)} "
                                       f"}}", GMF, "location",
         SCHEMA + "location"),
    Case("edition-without-forum", f"DELETE WHERE {{ {_t(EDITION)} schema:superEvent ?f }}", EDITION,
         "ForumEdition-superEvent", SCHEMA + "superEvent"),
    Case("edition-part-of-an-edition", f"DELETE WHERE {{ {_t(EDITION)} schema:superEvent ?f }} ; "
         f"INSERT DATA {{ {_t(EDITION)} schema:superEvent {_t(SESSION)} "
         f"}}", EDITION, "ForumEdition-superEvent",
         SCHEMA + "superEvent"),
    Case("edition-without-start", f"DELETE WHERE {{ {_t(EDITION)} schema:startDate ?d }}", EDITION,
         "ForumEdition-startDate", SCHEMA + "startDate"),
    Case("edition-without-place-warns", f"DELETE WHERE {{ {_t(EDITION)} schema:location ?c }}", EDITION,
         "ForumEdition-location", SCHEMA + "location", severity="Warning"),
    Case("edition-iri-outside-its-forum", f"INSERT DATA {{ {_t('forum/other-forum')} a cdo:Forum ; "
         f"skos:prefLabel \"Other\"@en, \"其他\"@zh ; prov:wasDerivedFrom {_t(SOURCE)} }} ; "
         f"DELETE WHERE {{ {_t(EDITION)} schema:superEvent ?f }} ; "
         f"INSERT DATA {{ {_t(EDITION)} schema:superEvent {_t('forum/other-forum')} }}", EDITION,
         "ForumEditionRulesShape", SCHEMA + "superEvent", "iri-nests-under-superEvent"),
    Case("edition-ends-before-it-starts", f"DELETE WHERE {{ {_t(EDITION)} schema:endDate ?d }} ; "
         f"INSERT DATA {{ {_t(EDITION)} schema:endDate \"2021-11\"^^xsd:gYearMonth, \"2020\"^^xsd:gYear "
         f"}}", EDITION,
         "ForumEditionRulesShape", SCHEMA + "endDate", "dates-in-order"),
    Case("edition-iri-not-a-year", f"INSERT DATA {{ {_t(GMF + '/twenty')} a cdo:ForumEdition ; "
         f"skos:prefLabel \"Twenty\"@en ; schema:superEvent {_t(GMF)} ; schema:startDate "
         f"\"2020\"^^xsd:gYear ; "
         f"schema:location {_t(GZ)} ; prov:wasDerivedFrom {_t(SOURCE)} "
         f"}}", GMF + "/twenty", "ForumEditionShape"),
    Case("session-without-type", f"DELETE WHERE {{ {_t(SESSION)} cdo:sessionType ?t }}", SESSION,
         "Session-sessionType", CDO + "sessionType"),
    Case("session-part-of-a-forum", f"DELETE WHERE {{ {_t(SESSION)} schema:superEvent ?e }} ; "
         f"INSERT DATA {{ {_t(SESSION)} schema:superEvent {_t(GMF)} }}", SESSION, "Session-superEvent",
         SCHEMA + "superEvent"),
    Case("session-iri-outside-its-edition", f"INSERT DATA {{ {_t(GMF + '/2020/gala')} a cdo:Session ; "
         f"skos:prefLabel \"Gala\"@en ; schema:superEvent {_t(EDITION)} ; "
         f"cdo:sessionType <https://w3id.org/citydiplomacy/vocab/session-type/plenary> ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", GMF + "/2020/gala",
         "SessionRulesShape", SCHEMA + "superEvent", "iri-nests-under-superEvent"),
    Case("session-without-name", f"DELETE WHERE {{ {_t(SESSION)} skos:prefLabel ?l }}", SESSION,
         "NeedsChineseOrEnglishLabelShape", str(SKOS.prefLabel), "needs-chinese-or-english-label"),
    Case("session-iri-not-a-slug", f"INSERT DATA {{ {_t(EDITION + '/Gala')} a cdo:Session ; "
         f"skos:prefLabel \"Gala\"@en ; schema:superEvent {_t(EDITION)} ; "
         f"cdo:sessionType <https://w3id.org/citydiplomacy/vocab/session-type/plenary> ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", EDITION + "/Gala",
         "SessionShape"),
    # --- initiatives and agreements ---
    Case("initiative-iri-not-a-slug", f"INSERT DATA {{ {_t('initiative/Luban')} a cdo:Initiative ; "
         f"skos:prefLabel \"Luban\"@en, \"鲁班\"@zh ; prov:wasDerivedFrom {_t(SOURCE)} }}",
         "initiative/Luban", "InitiativeShape"),
    Case("initiative-without-english-name", f"DELETE DATA {{ {_t(LUBAN)} skos:prefLabel \"Luban "
                                            f"Workshop\"@en }}",
         LUBAN, "NeedsEnglishLabelShape", str(SKOS.prefLabel), "needs-english-label"),
    Case("initiative-ends-before-it-starts", f"INSERT DATA {{ {_t(LUBAN)} schema:endDate "
                                             f"\"2015-12\"^^xsd:gYearMonth }}",
         LUBAN, "InitiativeRulesShape", SCHEMA + "endDate", "dates-in-order"),
    Case("initiative-without-source", f"DELETE WHERE {{ {_t(LUBAN)} prov:wasDerivedFrom ?s }}", LUBAN,
         "wasDerivedFrom", "http://www.w3.org/ns/prov#wasDerivedFrom"),
    Case("agreement-without-type", f"DELETE WHERE {{ {_t(AGREEMENT)} cdo:agreementType ?t }}", AGREEMENT,
         "Agreement-agreementType", CDO + "agreementType"),
    Case("agreement-type-not-in-scheme", f"DELETE WHERE {{ {_t(AGREEMENT)} cdo:agreementType ?t }} ; "
         f"INSERT DATA {{ {_t(AGREEMENT)} cdo:agreementType "
         f"<https://w3id.org/citydiplomacy/vocab/agreement-type/treaty> }}", AGREEMENT,
         "Agreement-agreementType", CDO + "agreementType"),
    Case("signatory-a-document", f"INSERT DATA {{ {_t(AGREEMENT)} cdo:signatory {_t(SOURCE)} }}", AGREEMENT,
         "AgreementRulesShape", CDO + "signatory", "signatory-is-a-party"),
    Case("signatory-as-text", f"INSERT DATA {{ {_t(AGREEMENT)} cdo:signatory \"Qingdao\" }}", AGREEMENT,
         "Agreement-signatory", CDO + "signatory"),
    Case("two-signing-dates", f"INSERT DATA {{ {_t(AGREEMENT)} cdo:signingDate \"2012\"^^xsd:gYear "
                              f"}}", AGREEMENT,
         "Agreement-signingDate", CDO + "signingDate"),
    Case("adopted-at-a-forum-series", f"DELETE WHERE {{ {_t(DECLARATION)} cdo:adoptedAt ?e }} ; "
         f"INSERT DATA {{ {_t(DECLARATION)} cdo:adoptedAt {_t(GMF)} }}", DECLARATION, "Agreement-adoptedAt",
         CDO + "adoptedAt"),
    Case("establishes-a-country", f"INSERT DATA {{ {_t(AGREEMENT)} cdo:establishes {_t(CN)} }}", AGREEMENT,
         "AgreementRulesShape", CDO + "establishes", "establishes-a-relation"),
    Case("establishes-a-text", f"INSERT DATA {{ {_t(AGREEMENT)} cdo:establishes \"a twinning\" }}", AGREEMENT,
         "Agreement-establishes", CDO + "establishes"),
    Case("agreement-without-name", f"DELETE WHERE {{ {_t(AGREEMENT)} skos:prefLabel ?l }}", AGREEMENT,
         "NeedsChineseOrEnglishLabelShape", str(SKOS.prefLabel), "needs-chinese-or-english-label"),
    Case("agreement-iri-not-a-slug", f"INSERT DATA {{ {_t('agreement/Yancheng Consensus'.replace(' ', '_'))} "
         "a cdo:Agreement ; skos:prefLabel \"盐城共识\"@zh ; cdo:agreementType "
         "<https://w3id.org/citydiplomacy/vocab/agreement-type/consensus> ; "
         f"prov:wasDerivedFrom {_t(SOURCE)} }}", "agreement/Yancheng_Consensus", "AgreementShape"),
    # --- headline figures and sources ---
    Case("figure-without-measure", f"DELETE WHERE {{ {_t(OBS)} cdo:measure ?m }}", OBS, "Observation-measure",
         CDO + "measure"),
    Case("measure-not-in-scheme", f"DELETE WHERE {{ {_t(OBS)} cdo:measure ?m }} ; "
         f"INSERT DATA {{ {_t(OBS)} cdo:measure <https://w3id.org/citydiplomacy/vocab/measure/happiness> "
         f"}}", OBS, "Observation-measure",
         CDO + "measure"),
    Case("figure-with-value-and-lower-bound", f"INSERT DATA {{ {_t(OBS)} schema:minValue 90 }}", OBS,
         "ObservationValueShape"),
    Case("figure-without-value", f"DELETE WHERE {{ {_t(OBS)} schema:value ?v "
                                 f"}}", OBS, "ObservationValueShape"),
    Case("value-as-string", f"DELETE WHERE {{ {_t(OBS)} schema:value ?v }} ; "
         f"INSERT DATA {{ {_t(OBS)} schema:value \"91\" }}", OBS, "Observation-value", SCHEMA + "value"),
    Case("lower-bound-as-string", f"DELETE WHERE {{ {_t(PORTS)} schema:minValue ?v }} ; "
         f"INSERT DATA {{ {_t(PORTS)} schema:minValue \"30+\" "
         f"}}", PORTS, "Observation-minValue", SCHEMA + "minValue"),
    Case("figure-without-date", f"DELETE WHERE {{ {_t(OBS)} schema:observationDate ?d }}", OBS,
         "Observation-observationDate", SCHEMA + "observationDate"),
    Case("figure-about-a-string", f"DELETE WHERE {{ {_t(OBS)} schema:observationAbout ?a }} ; "
         f"INSERT DATA {{ {_t(OBS)} schema:observationAbout \"Guangzhou\" "
         f"}}", OBS, "Observation-observationAbout",
         SCHEMA + "observationAbout"),
    Case("figure-without-source", f"DELETE WHERE {{ {_t(OBS)} prov:wasDerivedFrom ?s "
                                  f"}}", OBS, "wasDerivedFrom",
         "http://www.w3.org/ns/prov#wasDerivedFrom"),
    Case("figure-iri-without-source-stem", f"INSERT DATA {{ {_t('observation/friendship-cities')} a "
                                           f"cdo:Observation ; "
         f"cdo:measure <https://w3id.org/citydiplomacy/vocab/measure/friendship-cities> ; schema:value 1 ; "
         f"schema:observationDate \"2021\"^^xsd:gYear ; "
         f"schema:observationAbout {_t(GZ)} ; prov:wasDerivedFrom {_t(SOURCE)} "
         f"}}", "observation/friendship-cities",
         "ObservationShape"),
    Case("source-without-title", f"DELETE WHERE {{ {_t(SOURCE)} dcterms:title ?t }}", SOURCE,
         "SourceDocument-title", "http://purl.org/dc/terms/title"),
    Case("title-without-language", f"INSERT DATA {{ {_t(SOURCE)} dcterms:title \"Guangzhou\" }}", SOURCE,
         "SourceDocument-title", "http://purl.org/dc/terms/title"),
    Case("source-without-language", f"DELETE WHERE {{ {_t(SOURCE)} dcterms:language ?l }}", SOURCE,
         "SourceDocument-language", "http://purl.org/dc/terms/language"),
    Case("language-spelt-out", f"DELETE WHERE {{ {_t(SOURCE)} dcterms:language ?l }} ; "
         f"INSERT DATA {{ {_t(SOURCE)} dcterms:language \"Chinese\" }}", SOURCE, "SourceDocument-language",
         "http://purl.org/dc/terms/language"),
    Case("issued-with-time", f"DELETE WHERE {{ {_t(SOURCE)} dcterms:issued ?d }} ; "
         f"INSERT DATA {{ {_t(SOURCE)} dcterms:issued \"2021-09-13T07:03:00\"^^xsd:dateTime }}", SOURCE,
         "DatesShape", "http://purl.org/dc/terms/issued", "dates-well-formed"),
    Case("two-issue-dates", f"INSERT DATA {{ {_t(SOURCE)} dcterms:issued \"2021\"^^xsd:gYear }}", SOURCE,
         "SourceDocument-issued", "http://purl.org/dc/terms/issued"),
    Case("source-url-as-text", f"INSERT DATA {{ {_t(SOURCE)} dcterms:source \"http://www.gz.gov.cn/\" "
                               f"}}", SOURCE,
         "SourceDocument-source", "http://purl.org/dc/terms/source"),
    Case("source-iri-with-slash", f"INSERT DATA {{ {_t('source/a/b')} a cdo:SourceDocument ; "
         "dcterms:title \"t\"@en ; dcterms:language \"en\" }", "source/a/b", "SourceDocumentShape"),
]

# Changes that must still conform: the edges of the rules above.
CONFORMING_VARIANTS = {
    "country-as-member": f"INSERT DATA {{ {_t('membership/metropolis__CN__observer')} a org:Membership ; "
    f"org:member {_t(CN)} ; org:organization {_t(METRO)} ; "
    "org:role <https://w3id.org/citydiplomacy/vocab/role/observer> ; "
    f"prov:wasDerivedFrom {_t(SOURCE)} }}",
    "end-year-equal-to-start-month": f"INSERT DATA {{ {_t(TWIN)} schema:endDate \"2012\"^^xsd:gYear }}",
    "terminated-with-end-date": f"DELETE DATA {{ {_t(TWIN)} cdo:status ts:formal }} ; "
    f"INSERT DATA {{ {_t(TWIN)} cdo:status ts:terminated ; schema:endDate \"2020\"^^xsd:gYear }} ; "
    "DELETE WHERE { ?c cdo:twinnedWith ?d }",
    "chinese-name-in-simplified-script": f"DELETE DATA {{ {_t(CN)} skos:prefLabel \"中国\"@zh }} ; "
    f"INSERT DATA {{ {_t(CN)} skos:prefLabel \"中国\"@zh-Hans }}",
    "lower-bound-instead-of-value": f"DELETE WHERE {{ {_t(OBS)} schema:value ?v }} ; "
    f"INSERT DATA {{ {_t(OBS)} schema:minValue 90 }}",
    "membership-with-two-roles": f"INSERT DATA {{ {_t(MEMBER)} org:role "
                                 f"<https://w3id.org/citydiplomacy/vocab/role/member> }}",
    "leap-day": f"DELETE WHERE {{ {_t(MEMBER)} schema:endDate ?d }} ; "
    f"INSERT DATA {{ {_t(MEMBER)} schema:endDate \"2024-02-29\"^^xsd:date }}",
}


@pytest.fixture(scope="module")
def world() -> Graph:
    return Graph().parse(WORLD, format="turtle")


def changed(update: str) -> Graph:
    """A copy of the world with a SPARQL update applied.

    pyoxigraph applies it: rdflib parses updates slowly and forgets a request's PREFIX lines after its first
    operation (resolving ``wgs:`` to its own https binding instead).
    """
    store = ox.Store()
    store.load(WORLD.read_bytes(), format=ox.RdfFormat.TURTLE)
    store.update(PREFIXES + update)
    graph = Graph()
    for quad in store:
        graph.add((_rdflib(quad.subject), _rdflib(quad.predicate), _rdflib(quad.object)))
    return graph


def _rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise AssertionError(f"the world has no blank nodes: {term}")


def shapes_touching(world: Graph, graph: Graph, nodes: set[str]) -> list[str]:
    """The node shapes whose targets pick a node the change touched, or one of ``nodes``.

    Validating only these is enough here: every shape looks at its focus node's own triples and at the types
    of the nodes they point to, so a change can only affect the results of shapes targeting a node it touches.
    """
    touched = {URIRef(n) for n in nodes}
    for s, _p, o in set(graph) ^ set(world):
        touched.update(n for n in (s, o) if isinstance(n, URIRef))

    def picks(predicate: Node, target: Node, node: URIRef) -> bool:
        return any(
            (node, RDF.type, target) in g if predicate == SH.targetClass
            else (node, target, None) in g if predicate == SH.targetSubjectsOf
            else (None, target, node) in g if predicate == SH.targetObjectsOf
            else node == target
            for g in (graph, world)
        )

    return [
        shape.iri for shape in _load_shapes().node_shapes
        if any(picks(predicate, target, node) for predicate, target in shape.targets for node in touched)
    ]


def test_world_conforms_with_one_expected_warning(world: Graph) -> None:
    report = validate(world)
    assert report.conforms, json.dumps(report.as_json(), ensure_ascii=False, indent=1)
    assert [(r.focus_node, r.source_shape) for r in report.results] == [
        (ID + "city/Q11736", str(CDSH.WantsChineseLabelShape))  # Tianjin has no Chinese name in the world
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_breaking_a_rule_gives_exactly_its_result(world: Graph, case: Case) -> None:
    graph = changed(case.update)
    focus = ID + case.focus
    report = validate(graph, only=shapes_touching(world, graph, {focus, *(ID + node for node in case.also)}))
    expected = [
        r for r in report.results
        if r.focus_node == focus and r.source_shape == str(CDSH[case.shape]) and r.severity == case.severity
        and (case.path is None or r.path == case.path)
        and (case.constraint is None or r.source_constraint == str(CDSH[case.constraint]))
    ]
    detail = json.dumps(report.as_json(), ensure_ascii=False, indent=1)
    assert expected, detail
    assert all(r.message for r in expected)
    allowed = {focus, *(ID + node for node in case.also)}
    others = [r for r in report.results if r.severity == "Violation" and r.focus_node not in allowed]
    assert not others, detail
    assert report.conforms == (case.severity != "Violation")


@pytest.mark.parametrize("name", sorted(CONFORMING_VARIANTS))
def test_edge_cases_conform(world: Graph, name: str) -> None:
    report = validate(changed(CONFORMING_VARIANTS[name]))
    assert report.conforms, json.dumps(report.as_json(), ensure_ascii=False, indent=1)


def test_every_shape_has_a_conforming_and_a_violating_example(world: Graph) -> None:
    shapes = shapes_graph()
    kinds = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf)
    targeted = {s for p in kinds for s in shapes.subjects(p)}
    not_constraints = {RDF.type, *kinds, SH.property, SH.message, SH.severity,
                       URIRef("http://www.w3.org/2000/01/rdf-schema#comment")}
    checking = {s for s in targeted if set(shapes.predicates(s)) - not_constraints}  # has rules of its own
    used = set(shapes.objects(None, SH.property))
    broken = {CDSH[case.shape] for case in CASES}
    assert checking | used <= broken, sorted(str(s) for s in (checking | used) - broken)
    rules = set(shapes.objects(None, SH.sparql))
    assert rules <= {CDSH[c.constraint] for c in CASES if c.constraint}
    world_classes = set(world.objects(None, RDF.type))
    for cls in shapes.objects(None, SH.targetClass):
        assert cls in world_classes or cls == URIRef(CDO + "Place"), f"no conforming example of {cls}"


def _scheme_concepts() -> dict[str, set[URIRef]]:
    vocab = Graph()
    for path in VOCAB.glob("*.ttl"):
        vocab.parse(path)
    concepts: dict[str, set[URIRef]] = {}
    for concept, scheme in vocab.subject_objects(SKOS.inScheme):
        concepts.setdefault(str(scheme), set()).add(concept)  # type: ignore[arg-type]
    return concepts


def test_sh_in_lists_are_exactly_the_schemes() -> None:
    """The shapes list the allowed concepts (validation loads no ontology graph), so they must not drift."""
    shapes = shapes_graph()
    concepts = _scheme_concepts()
    checked = set()
    for shape, head in shapes.subject_objects(SH["in"]):
        allowed = set(shapes.items(head))
        scheme = str(next(iter(allowed))).rsplit("/", 1)[0]
        assert allowed == concepts[scheme], f"{shape}: {sorted(concepts[scheme] ^ allowed)}"
        checked.add(scheme)
    assert {s.rsplit("/", 1)[-1] for s in checked} == {
        "twinning-type", "twinning-status", "role", "agreement-type", "session-type", "field", "measure",
        "consular-post-type",
    }


def test_set_at_a_time_rules_match_pyshacl_per_node() -> None:
    """Running a rules shape once over the graph gives what pySHACL gives running it per focus node."""
    graph = Graph().parse(format="turtle", data=PREFIXES + f"""
        {_t('twinning/gn-1797929__Q656')} a cdo:Twinning ; cdo:party {_t(SPB)}, {_t(CN)} ;
            cdo:twinningType tt:friendship-port ; cdo:status ts:terminated ;
            cdo:intentDate "2030"^^xsd:gYear ; schema:startDate "2012-06-01"^^xsd:date ;
            schema:endDate "2012-02-30"^^xsd:date .
        {_t(SPB)} a cdo:City . {_t(CN)} a cdo:Country .""")
    rules = [CDSH.TwinningRulesShape, CDSH.DatesShape]
    ours = {(r.focus_node, r.path, r.value, r.source_constraint) for r in validate(graph, only=rules).results}
    _, report, _ = pyshacl.validate(graph, shacl_graph=shapes_graph(), inference="none",
                                    use_shapes=[str(s) for s in rules])
    theirs = {
        (str(report.value(r, SH.focusNode)), _text(report.value(r, SH.resultPath)),
         _n3(report.value(r, SH.value)), str(report.value(r, SH.sourceConstraint)))
        for r in report.subjects(RDF.type, SH.ValidationResult)
    }
    assert len(ours) >= 6
    assert ours == theirs


def _text(term: Node | None) -> str | None:
    return None if term is None else str(term)


def _n3(term: Node | None) -> str | None:
    return term.n3() if isinstance(term, Literal) else _text(term)


def test_references_are_consulted_but_not_validated() -> None:
    """The rdf:type of a pointed-to city lets sh:class pass; the city itself is not checked for names."""
    data = Graph().parse(format="turtle", data=f"""
        @prefix cdo: <https://w3id.org/citydiplomacy/ontology#> .
        {_t(GZ)} a cdo:City .
        {_t(CN)} a cdo:Country .
        {_t(SPB)} a cdo:City ; cdo:country {_t(CN)} ;
            <http://www.w3.org/2004/02/skos/core#prefLabel> "St Petersburg"@en, "圣彼得堡"@zh .""")
    assert validate(data).conforms


def test_context_is_consulted_but_not_validated(world: Graph) -> None:
    shortcuts = Graph()
    for triple in world.triples((None, URIRef(CDO + "twinnedWith"), None)):
        shortcuts.add(triple)
    twinnings = changed(f"DELETE WHERE {{ {_t(TWIN)} prov:wasDerivedFrom ?s }}")  # broken, but context
    assert validate(shortcuts, context=twinnings).conforms
    assert not validate(shortcuts, context=changed(f"DELETE WHERE {{ {_t(TWIN)} cdo:party ?p }}")).conforms


def test_only_runs_the_named_shapes(world: Graph) -> None:
    graph = changed(f"DELETE WHERE {{ {_t(TWIN)} cdo:status ?s }}")
    assert validate(graph, only=[CDSH.CityShape]).conforms
    assert not validate(graph, only=[CDSH.TwinningShape]).conforms


def test_report_forms(world: Graph) -> None:
    report = validate(changed(f"DELETE WHERE {{ {_t(TWIN)} cdo:status ?s }} ; "
                                     f"INSERT DATA {{ {_t(TWIN)} cdo:intentDate \"2010\"^^xsd:gYear }}"))
    assert report.violations >= 2 and report.warnings == 1 and not report.conforms
    body = report.as_json(limit=1)
    assert json.loads(json.dumps(body)) == body
    assert body["truncated"] and body["results"][0]["resultSeverity"] == "Violation"
    graph = Graph().parse(data=report.turtle(), format="turtle")
    assert len(set(graph.subjects(RDF.type, SH.ValidationResult))) == len(report.results)
    assert (None, SH.conforms, None) in graph


def test_synthetic_loader_output_conforms() -> None:
    graphs = synthetic.build(cities=120, twinning_count=40)
    runs = ((graphs.gazetteer, None), (graphs.twinnings, None), (graphs.derived, graphs.twinnings))
    for data, context in runs:
        report = validate(data, context=context)
        assert report.conforms, json.dumps(report.as_json(limit=5), ensure_ascii=False, indent=1)
