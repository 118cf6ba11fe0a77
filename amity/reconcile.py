"""Rewrite a partner's references onto our IRIs, so their triples join the reference data, not sit beside it.

Partners name places the way their own systems do: our IRI, a Wikidata entity
(``http://www.wikidata.org/entity/Q170322``), a GeoNames feature (``https://sws.geonames.org/1797929/``), or
an IRI built by our rules from a key we minted differently (``id/city/Q170322`` for a city we know as
``id/city/gn-1797929``, because a QID was learned after its key was minted, docs/model.md). Each is looked up
in the store, by ``cdo:wikidataId`` / ``cdo:geonamesId`` or by ``owl:sameAs`` (``graph/links``), and replaced
by the IRI we use. Keys inside composite IRIs follow (``id/twinning/{a}__{b}`` is rebuilt from the reconciled
keys, sorted again), so a partner's twinning lands on the same node as ours when it is the same pair.

Lookups are one index probe per distinct IRI (pyoxigraph's POS/SPO indexes), memoised for the upload, so the
work grows with the upload, not with the store. Nothing is guessed: an identifier that fits no node, or
several, is left as it is and reported. Blank nodes are replaced by skolem IRIs (``/.well-known/genid/``, RDF
1.1 §3.5): the store holds no blank nodes (docs/model.md), and a graph's history then restores exactly what
was merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, Store

from amity import iris
from amity.ns import CDO, OWL, RDF, SCHEMA, SKOS
from amity.problems import BadRequest

GENID = iris.BASE + ".well-known/genid/"
PARTNER_GRAPHS = iris.GRAPH + "partner/"
PROVENANCE_GRAPH = iris.graph("provenance")

_WIKIDATA = re.compile(r"^https?://(?:www\.)?wikidata\.org/(?:entity|wiki)/(Q[1-9][0-9]*)$")
_GEONAMES = re.compile(r"^https?://(?:sws\.|www\.)?geonames\.org/([1-9][0-9]*)/?(?:about\.rdf)?$")
_PLACE = re.compile(r"^" + re.escape(iris.ID) + r"(city|port)/([^/#]+)$")
_TWINNING = re.compile(r"^" + re.escape(iris.ID) + r"twinning/([^/#]+?)__([^/#]+)$")
_MEMBERSHIP = re.compile(r"^" + re.escape(iris.ID) + r"membership/([^/#]+?)__([^/#]+?)__([^/#]+)$")
_CONSULAR = re.compile(r"^" + re.escape(iris.ID) + r"consular-post/([A-Z]{2})__([^/#]+)$")

#: Objects of these predicates name outside resources on purpose and are never rewritten.
KEEP_OBJECTS = frozenset(p.value for p in (
    OWL.sameAs, SKOS.exactMatch, SKOS.closeMatch, SKOS.relatedMatch, SKOS.broadMatch, SKOS.narrowMatch,
    SCHEMA.sameAs, SCHEMA.url,
))
PLACE_CLASSES = frozenset((CDO.City.value, CDO.Port.value))


def visible_graphs(own_prefix: str | None) -> Callable[[str], bool]:
    """Which graphs a partner's upload may be reconciled and validated against.

    Reference data, plus the partner's own graphs; never another partner's graphs, which that partner may
    change or drop at any time, nor the merge records.
    """
    own = own_prefix or "\0"

    def visible(graph: str) -> bool:
        if graph == PROVENANCE_GRAPH:
            return False
        if graph.startswith(PARTNER_GRAPHS):
            return graph == own or graph.startswith(own + "/")
        return True

    return visible


@dataclass
class Reconciled:
    """An upload's quads on our IRIs, and what reconciling it changed or could not place."""

    quads: list[Quad]
    rewritten: dict[str, str] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    blank_nodes: int = 0


class Reconciler:
    """Maps a partner's IRIs onto ours, probing ``store`` once per distinct IRI."""

    def __init__(self, store: Store, own_prefix: str | None) -> None:
        self.store = store
        self.visible = visible_graphs(own_prefix)
        self._terms: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        self._types: dict[str, frozenset[str]] = {}
        self.rewritten: dict[str, str] = {}
        self.ambiguous: dict[str, list[str]] = {}

    # -- probes ----------------------------------------------------------------------------------------------

    def types(self, iri: str) -> frozenset[str]:
        """The classes the visible graphs give ``iri``."""
        found = self._types.get(iri)
        if found is None:
            found = frozenset(
                q.object.value for q in self.store.quads_for_pattern(NamedNode(iri), RDF.type, None, None)
                if isinstance(q.graph_name, NamedNode) and self.visible(q.graph_name.value)
            )
            self._types[iri] = found
        return found

    def _subjects(self, predicate: NamedNode, value: NamedNode | Literal) -> set[str]:
        return {
            q.subject.value for q in self.store.quads_for_pattern(None, predicate, value, None)
            if isinstance(q.subject, NamedNode) and q.subject.value.startswith(iris.ID)
            and isinstance(q.graph_name, NamedNode) and self.visible(q.graph_name.value)
        }

    def _one(self, text: str, candidates: set[str]) -> str | None:
        """The single candidate; cities and ports first when an identifier names several kinds of thing."""
        if len(candidates) > 1:
            places = {c for c in candidates if self.types(c) & PLACE_CLASSES}
            candidates = places or candidates
        if len(candidates) == 1:
            return next(iter(candidates))
        if candidates:
            self.ambiguous[text] = sorted(candidates)
        return None

    def by_wikidata(self, qid: str) -> str | None:
        candidates = self._subjects(CDO.wikidataId, Literal(qid)) | self._subjects(
            OWL.sameAs, NamedNode(iris.wikidata(qid)))
        return self._one(iris.wikidata(qid), candidates)

    def by_geonames(self, geonames_id: str) -> str | None:
        candidates = self._subjects(CDO.geonamesId, Literal(geonames_id)) | self._subjects(
            OWL.sameAs, NamedNode(iris.geonames(geonames_id)))
        return self._one(iris.geonames(geonames_id), candidates)

    # -- keys and IRIs ---------------------------------------------------------------------------------------

    def place(self, key: str) -> str | None:
        """Our city or port for a place key minted by the rules: its own IRI when we know it, else the node
        with that QID or GeoNames id; None when neither fits."""
        if key in self._keys:
            return self._keys[key]
        found = None
        for candidate in (iris.city(key), iris.port(key)):
            if self.types(candidate):
                found = candidate
                break
        else:
            target = None
            if iris.is_qid(key):
                target = self.by_wikidata(key)
            elif key.startswith("gn-") and iris.is_geonames_id(key[3:]):
                target = self.by_geonames(key[3:])
            if target is not None and _PLACE.match(target):
                found = target
        self._keys[key] = found
        return found

    def place_key(self, key: str) -> str:
        """The key we use for ``key``: itself unless the place is known under another one."""
        found = self.place(key)
        return iris.key_of(found) if found else key

    def iri(self, iri: str) -> str:
        """Our IRI for ``iri`` (itself when there is nothing to change)."""
        found = self._terms.get(iri)
        if found is None:
            found = self._rewrite(iri)
            self._terms[iri] = found
            if found != iri:
                self.rewritten[iri] = found
        return found

    def _rewrite(self, iri: str) -> str:
        base, hash_sign, fragment = iri.partition("#")
        if hash_sign:
            return self.iri(base) + hash_sign + fragment
        match = _WIKIDATA.match(iri)
        if match:
            return self.by_wikidata(match.group(1)) or iri
        match = _GEONAMES.match(iri)
        if match:
            return self.by_geonames(match.group(1)) or iri
        if not iri.startswith(iris.ID):
            return iri
        match = _PLACE.match(iri)
        if match:
            found = self.place(match.group(2))
            return found if found and iris.key_of(found) != match.group(2) else iri
        match = _TWINNING.match(iri)
        if match:
            a, b = (self.place_key(k) for k in match.groups())
            return iris.twinning(a, b) if a != b else iri
        match = _MEMBERSHIP.match(iri)
        if match:
            organisation, member, role = match.groups()
            return iris.membership(organisation, self.place_key(member), role)
        match = _CONSULAR.match(iri)
        if match:
            country, city = match.groups()
            return iris.consular_post(country, self.place_key(city))
        return iri

    # -- quads -----------------------------------------------------------------------------------------------

    def reconcile(self, quads: Iterable[Quad], graph: str) -> Reconciled:
        """Every quad moved into ``graph`` with its subject and object on our IRIs.

        :raises BadRequest: for a quad in a named graph other than ``graph`` (N-Quads, TriG, JSON-LD): one
            request writes one graph.
        """
        target = NamedNode(graph)
        genids: dict[str, NamedNode] = {}

        def term(node):
            if isinstance(node, NamedNode):
                new = self.iri(node.value)
                return node if new == node.value else NamedNode(new)
            if isinstance(node, BlankNode):
                skolem = genids.get(node.value)
                if skolem is None:
                    skolem = genids[node.value] = NamedNode(GENID + node.value)
                return skolem
            return node

        def moved() -> Iterator[Quad]:
            for quad in quads:
                name = quad.graph_name
                if not (isinstance(name, DefaultGraph) or name == target):
                    label = name.value if isinstance(name, NamedNode) else str(name)
                    raise BadRequest(
                        f"the document puts triples in graph <{label}>, but this request writes <{graph}>: "
                        "send the default graph or that graph only, one request per graph",
                        extra={"graph": graph, "other_graph": label},
                    )
                o = quad.object
                obj = o if quad.predicate.value in KEEP_OBJECTS and isinstance(o, NamedNode) else term(o)
                yield Quad(term(quad.subject), quad.predicate, obj, target)

        result = Reconciled(list(moved()))
        result.rewritten = dict(self.rewritten)
        result.blank_nodes = len(genids)
        result.warnings = [
            {"iri": text, "message": f"<{text}> fits several of our nodes; it was left as it is",
             "candidates": ", ".join(found)}
            for text, found in sorted(self.ambiguous.items())
        ]
        result.warnings.extend(self.unknown_places(result.quads))
        return result

    def unknown_places(self, quads: list[Quad]) -> Iterator[dict[str, str]]:
        """A warning for each city, port or outside place named but known nowhere (store or upload)."""
        typed_here = {q.subject.value for q in quads if q.predicate == RDF.type}
        seen: set[str] = set()
        for quad in quads:
            for node in (quad.subject, quad.object):
                if not isinstance(node, NamedNode) or node.value in seen:
                    continue
                text = node.value
                seen.add(text)
                outside = bool(_WIKIDATA.match(text) or _GEONAMES.match(text))
                if quad.predicate.value in KEEP_OBJECTS and node is quad.object:
                    continue
                if not (outside or _PLACE.match(text)) or text in typed_here or self.types(text):
                    continue
                yield {
                    "iri": text,
                    "message": (f"no city or port of ours is known as <{text}>: left as it is" if outside
                                else f"<{text}> is not a city or port we know, nor described in this upload"),
                }
