"""Namespaces as pyoxigraph terms, so code writes ``CDO.Twinning``, never an IRI string.

``CDO`` is closed: it only answers the terms that ``ontology/cdo.ttl`` defines
(``tests/test_ontology.py`` keeps the two in step), so a typo fails where it is
written instead of minting a new, silent IRI.

>>> CDO.Twinning
<NamedNode value=https://w3id.org/citydiplomacy/ontology#Twinning>
>>> SKOS.prefLabel.value
'http://www.w3.org/2004/02/skos/core#prefLabel'
"""

from __future__ import annotations

from pyoxigraph import NamedNode

from amity import iris


class Namespace:
    """Terms of one vocabulary, minted on attribute access and cached."""

    def __init__(self, base: str, terms: frozenset[str] | None = None) -> None:
        self._base = base
        self._terms = terms
        self._cache: dict[str, NamedNode] = {}

    @property
    def base(self) -> str:
        return self._base

    def __getattr__(self, name: str) -> NamedNode:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> NamedNode:
        term = self._cache.get(name)
        if term is None:
            if self._terms is not None and name not in self._terms:
                raise AttributeError(f"term {name!r} not in namespace {self._base}")
            term = self._cache[name] = NamedNode(self._base + name)
        return term

    def __contains__(self, iri: str) -> bool:
        return iri.startswith(self._base)


#: Every term of ``ontology/cdo.ttl``; checked against the file by the tests.
CDO_TERMS = frozenset(
    """
    City Port Country CityCluster CityNetwork InternationalOrganization GovernmentBody Twinning Forum
    ForumEdition Session Initiative Agreement ConsularPost SourceDocument Observation Place Organization
    country wikidataId geonamesId iso2 iso3 population party twinningType status intentDate field
    evidencedBy twinnedWith headquarters sessionType agreementType signatory signingDate adoptedAt
    establishes initiatedBy participant sendingCountry consularPostType measure quote unlocode
    """.split()
)

CDO = Namespace(iris.ONTOLOGY, CDO_TERMS)
CDV = Namespace(iris.VOCAB)
CDSH = Namespace(iris.SHAPES)
CDI = Namespace(iris.ID)
CDG = Namespace(iris.GRAPH)

RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
SCHEMA = Namespace("http://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
WGS = Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
VOID = Namespace("http://rdfs.org/ns/void#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
WD = Namespace("http://www.wikidata.org/entity/")
WDT = Namespace("http://www.wikidata.org/prop/direct/")

#: Prefixes offered to queries, the query editor and Turtle output.
PREFIXES: dict[str, str] = {
    "cdo": iris.ONTOLOGY,
    "cdv": iris.VOCAB,
    "cdi": iris.ID,
    "cdg": iris.GRAPH,
    "rdf": RDF.base,
    "rdfs": RDFS.base,
    "owl": OWL.base,
    "xsd": XSD.base,
    "skos": SKOS.base,
    "schema": SCHEMA.base,
    "org": ORG.base,
    "prov": PROV.base,
    "dcterms": DCTERMS.base,
    "geo": GEO.base,
    "wgs": WGS.base,
    "void": VOID.base,
    "wd": WD.base,
    "wdt": WDT.base,
}
