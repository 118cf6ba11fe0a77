"""The ontology, its alignments and the SKOS schemes: they parse, and they keep the rules of docs/model.md.

Checked here: the terms of ``ontology/cdo.ttl`` are exactly ``amity.ns.CDO_TERMS``; every term and concept has
names in English and Chinese and a definition; every concept sits in exactly one scheme, under the IRI the
model's rule gives it; every term docs/model.md names has labels; the shapes use no term the ontology lacks.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import OWL, RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, SKOS

from amity import iris
from amity.ns import CDO_TERMS
from amity.validate import shapes_graph

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY_DIR = ROOT / "ontology"
VOCAB_DIR = ONTOLOGY_DIR / "vocab"
ONTOLOGY_FILES = sorted(ONTOLOGY_DIR.glob("*.ttl")) + sorted(VOCAB_DIR.glob("*.ttl"))
ONTOLOGY_IRI = URIRef("https://w3id.org/citydiplomacy/ontology")
CDO = Namespace(iris.ONTOLOGY)
ORG = Namespace("http://www.w3.org/ns/org#")
WDT = Namespace("http://www.wikidata.org/prop/direct/")
WD = Namespace("http://www.wikidata.org/entity/")
DBO = Namespace("http://dbpedia.org/ontology/")
SCHEMES = {
    "twinning-type", "twinning-status", "role", "agreement-type", "session-type", "field", "measure",
    "consular-post-type",
}
#: Prefixes of docs/model.md whose terms must have labels (cdv: names concepts, which have their own test).
MODEL_PREFIXES = {
    "cdo": iris.ONTOLOGY, "skos": str(SKOS), "schema": "http://schema.org/", "org": str(ORG),
    "prov": "http://www.w3.org/ns/prov#", "dcterms": str(DCTERMS), "geo": "http://www.opengis.net/ont/geosparql#",
    "wgs": "http://www.w3.org/2003/01/geo/wgs84_pos#", "rdfs": str(RDFS), "owl": str(OWL),
}


@functools.cache
def parsed(path: Path) -> Graph:
    return Graph().parse(path, format="turtle")


@functools.cache
def everything() -> Graph:
    graph = Graph()
    for path in ONTOLOGY_FILES:
        graph += parsed(path)
    return graph


@functools.cache
def core() -> Graph:
    return parsed(ONTOLOGY_DIR / "cdo.ttl")


def languages(graph: Graph, subject: URIRef, predicate: URIRef) -> set[str]:
    return {o.language or "" for o in graph.objects(subject, predicate) if isinstance(o, Literal)}


def cdo_terms() -> set[URIRef]:
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    return {s for k in kinds for s in core().subjects(RDF.type, k) if str(s).startswith(iris.ONTOLOGY)}


def concepts() -> set[URIRef]:
    return set(everything().subjects(RDF.type, SKOS.Concept))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ONTOLOGY_FILES, ids=lambda p: p.name)
def test_file_parses_in_both_engines_without_blank_nodes(path: Path) -> None:
    """rdflib validates with it, pyoxigraph loads it (graph/ontology); no blank nodes keeps builds equal."""
    graph = parsed(path)
    assert len(graph) > 10
    assert len(list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))) == len(graph)
    assert not [t for t in graph if any(isinstance(n, BNode) for n in t)]


def test_ontology_header() -> None:
    g = core()
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in g
    assert languages(g, ONTOLOGY_IRI, DCTERMS.title) >= {"en", "zh"}
    assert languages(g, ONTOLOGY_IRI, DCTERMS.description) >= {"en", "zh"}
    assert g.value(ONTOLOGY_IRI, OWL.versionInfo) is not None
    assert g.value(ONTOLOGY_IRI, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")


def test_terms_are_exactly_the_namespace_terms() -> None:
    """amity.ns.CDO is closed over CDO_TERMS, so a term missing from either side would be a silent typo."""
    declared = {str(term).removeprefix(iris.ONTOLOGY) for term in cdo_terms()}
    assert declared == set(CDO_TERMS)


def test_only_our_terms_are_declared_in_our_namespace() -> None:
    mentioned = {n for t in everything() for n in t
                 if isinstance(n, URIRef) and str(n).startswith(iris.ONTOLOGY)}
    assert mentioned <= cdo_terms()


@pytest.mark.parametrize("term", sorted(cdo_terms()), ids=lambda t: t.removeprefix(iris.ONTOLOGY))
def test_term_has_names_definition_and_kind(term: URIRef) -> None:
    g = core()
    local = term.removeprefix(iris.ONTOLOGY)
    for predicate in (RDFS.label, SKOS.prefLabel):
        assert languages(g, term, predicate) >= {"en", "zh"}, predicate
        assert len(languages(g, term, predicate)) == len(list(g.objects(term, predicate))), "one per language"
    assert languages(g, term, SKOS.definition) >= {"en", "zh"}
    assert g.value(term, RDFS.isDefinedBy) == ONTOLOGY_IRI
    if (term, RDF.type, OWL.Class) in g:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", local), "classes are UpperCamelCase"
    else:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", local), "properties are lowerCamelCase"


def test_twinned_with_is_symmetric_and_aligned() -> None:
    g = everything()
    assert (CDO.twinnedWith, RDF.type, OWL.SymmetricProperty) in g
    assert {WDT.P190, DBO.twinTown} <= set(g.objects(CDO.twinnedWith, SKOS.closeMatch))
    assert not any("twinCity" in str(n) for t in g for n in t), "DBpedia's term is dbo:twinTown"


def test_alignments() -> None:
    g = everything()
    matches = {(s, o) for p in (SKOS.closeMatch, SKOS.exactMatch) for s, o in g.subject_objects(p)}
    assert {
        (CDO.City, WD.Q515), (CDO.country, WDT.P17), (CDO.population, WDT.P1082),
        (ORG.memberOf, WDT.P463), (URIRef("http://www.opengis.net/ont/geosparql#asWKT"), WDT.P625),
    } <= matches
    assert (CDO.City, RDFS.subClassOf, URIRef("http://schema.org/City")) in g
    assert (CDO.CityNetwork, RDFS.subClassOf, CDO.Organization) in g
    assert (CDO.Organization, RDFS.subClassOf, ORG.Organization) in g


def test_terms_named_in_the_model_have_names() -> None:
    """docs/model.md is the contract: every class and property it names has an English and a Chinese name."""
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    named = {
        URIRef(MODEL_PREFIXES[prefix] + local)
        for prefix, local in re.findall(r"`?\b([a-z]+):([A-Za-z][A-Za-z0-9]*)\b", text)
        if prefix in MODEL_PREFIXES and not local[0].isdigit()
    }
    assert CDO.Twinning in named and ORG.Membership in named
    g = everything()
    missing = sorted(str(t) for t in named if not languages(g, t, SKOS.prefLabel) >= {"en", "zh"})
    assert not missing


def test_schemes_are_one_per_file_with_the_model_iri() -> None:
    assert {p.stem for p in VOCAB_DIR.glob("*.ttl")} == SCHEMES
    for path in VOCAB_DIR.glob("*.ttl"):
        schemes = set(parsed(path).subjects(RDF.type, SKOS.ConceptScheme))
        assert schemes == {URIRef(iris.VOCAB + path.stem)}
        scheme = next(iter(schemes))
        assert languages(parsed(path), scheme, SKOS.prefLabel) >= {"en", "zh"}
        assert languages(parsed(path), scheme, SKOS.definition) >= {"en", "zh"}


@pytest.mark.parametrize("concept", sorted(concepts()), ids=lambda c: c.removeprefix(iris.VOCAB))
def test_concept_is_named_defined_and_placed(concept: URIRef) -> None:
    g = everything()
    schemes = list(g.objects(concept, SKOS.inScheme))
    assert len(schemes) == 1, "exactly one scheme"
    scheme = str(schemes[0]).removeprefix(iris.VOCAB)
    notation = str(g.value(concept, SKOS.notation))
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", notation), "the notation is a slug"
    assert str(concept) == iris.concept(scheme, notation), "IRI = vocab/{scheme}/{notation}"
    assert languages(g, concept, SKOS.prefLabel) >= {"en", "zh"}
    assert len(languages(g, concept, SKOS.prefLabel)) == len(list(g.objects(concept, SKOS.prefLabel)))
    assert "en" in languages(g, concept, SKOS.definition)
    for related in (*g.objects(concept, SKOS.broader), *g.objects(concept, SKOS.narrower)):
        assert (related, SKOS.inScheme, schemes[0]) in g
    top = (concept, SKOS.topConceptOf, schemes[0]) in g
    assert top == ((schemes[0], SKOS.hasTopConcept, concept) in g)
    assert top or g.value(concept, SKOS.broader) is not None, "every concept is reachable from the top"
    if scheme == "role":
        assert (concept, RDF.type, ORG.Role) in g


def test_concept_labels_are_unique_within_a_scheme() -> None:
    g = everything()
    seen: dict[tuple[str, str, str], URIRef] = {}
    for concept in concepts():
        scheme = str(g.value(concept, SKOS.inScheme))
        for label in g.objects(concept, SKOS.prefLabel):
            key = (scheme, label.language, str(label))  # type: ignore[union-attr]
            assert key not in seen, f"{concept} and {seen[key]} share {label!r}"
            seen[key] = concept


def test_field_mappings_point_at_sdg_goals_or_targets() -> None:
    g = everything()
    targets = [o for p in (SKOS.closeMatch, SKOS.relatedMatch) for s, o in g.subject_objects(p)
               if str(s).startswith(iris.VOCAB + "field/")]
    assert len(targets) >= 10
    sdg = re.compile(r"http://metadata\.un\.org/sdg/[0-9]{1,2}(\.[0-9a-z]+)?")
    assert all(sdg.fullmatch(str(t)) for t in targets)


def test_shapes_use_only_declared_terms_and_concepts() -> None:
    known = cdo_terms() | concepts()
    used = {n for t in shapes_graph() for n in t
            if isinstance(n, URIRef) and str(n).startswith((iris.ONTOLOGY, iris.VOCAB))}
    schemes = {URIRef(iris.VOCAB + s) for s in SCHEMES}
    assert used - schemes <= known, sorted(str(n) for n in used - known - schemes)
    referenced = {URIRef(m) for m in re.findall(r"<(https://w3id\.org/citydiplomacy/(?:ontology#|vocab/)[^>]+)>",
                                                "".join(str(o) for o in shapes_graph().objects()))}
    assert referenced <= known, sorted(str(n) for n in referenced - known)
