"""Curated facts from the five source articles: ``data/curated/*.yaml`` → ``graph/curated``.

The YAML files are written by hand, by people who know the subject, not the code: each file starts with a
comment that explains its fields, and every entry names the article it comes from (``source``) and the words
it rests on (``quote``). This loader turns them into nodes that each cite their article through a
``prov:Derivation`` carrying the quote, so a reader of the graph can always check a fact against its sentence.

A hand-written file has typos, so nothing here trusts it: an unknown field, a missing name, a handle nobody
defined, a date that is not a date, a concept the SKOS schemes lack, or a quote the article does not contain
is reported with its file and line through ``ctx.problem`` and the entry (or just the bad part of it) is left
out. One bad entry never stops the build. The YAML is composed rather than loaded so that every value keeps
its line number, and so that no value is silently converted (``2018`` stays the text ``2018``, whose
precision decides the date datatype).

Places are keyed the way the gazetteer keys them; :func:`resolve_place` is the one function that asks the
build's :class:`~loaders.places.PlaceIndex` (or, without one, derives the key itself).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pycountry
import yaml
from pyoxigraph import Literal, NamedNode, RdfFormat, parse

from amity import iris
from amity.ns import CDO, DCTERMS, ORG, PROV, RDF, SCHEMA, SKOS, XSD
from loaders.base import BuildContext, Source, Triple
from loaders.rdf_terms import string

GRAPH = iris.graph("curated")
SOURCE = Source(
    title="Curated facts from five Chinese-language articles on city diplomacy",
    url=iris.ID + "source/",
    licence="https://creativecommons.org/licenses/by/4.0/",
    retrieved="2026-11-24",
    attribution=(
        "Amity curators. Facts extracted from five articles (中国社会科学网 2024-04-24, "
        "广州日报 2021-09-13, an undated web explainer, 《国际展望》 2022 no. 4, 商周刊 2024 no. 6), "
        "© their publishers; the quotes are short citations kept for provenance."
    ),
    files=(
        "curated/sources.yaml", "curated/places.yaml", "curated/organisations.yaml", "curated/clusters.yaml",
        "curated/forums.yaml", "curated/initiatives.yaml", "curated/agreements.yaml",
        "curated/twinnings.yaml", "curated/memberships.yaml", "curated/observations.yaml",
    ),
)

#: Where the YAML files are, below ``ctx.data_dir``.
CURATED_DIR = Path("curated")
#: Where the article texts are, below ``ctx.data_dir``; when present, every quote is checked against them.
SEEDS_DIR = Path("seeds")
#: The SKOS schemes whose concepts the YAML may name: ``cdv:{scheme}/{name}``.
ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_EDITION = re.compile(r"^[0-9]{4}(-[0-9]+)?$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]+\.[0-9]+$")
#: Pinyin in brackets after a character, as article 003 carries it: noise of the site it was copied from.
_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")
_NULL_TAG = "tag:yaml.org,2002:null"
_URL = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")

#: Joins two quotes for the same node and article: the shapes allow one quote per language and citation.
QUOTE_JOINER = " … "

ORGANISATION_CLASSES = {
    "city-network": CDO.CityNetwork,
    "international-organization": CDO.InternationalOrganization,
    "government-body": CDO.GovernmentBody,
    "organisation": CDO.Organization,
}
PLACE_CLASSES = {"city": CDO.City, "port": CDO.Port}

CITATION = frozenset({"source", "quote", "also", "note"})
FIELDS: dict[str, frozenset[str]] = {
    "sources": frozenset({"file", "title", "publisher", "date", "authors", "url", "note", "quote"}),
    "places": frozenset({"key", "kind", "qid", "geonames", "country", "names"}) | CITATION,
    "organisations": frozenset({"key", "kind", "names", "alt_names", "part_of", "founders", "founded",
                                "headquarters", "fields", "url"}) | CITATION,
    "clusters": frozenset({"key", "names", "alt_names", "countries", "contains"}) | CITATION,
    "forums": frozenset({"key", "names", "alt_names", "founders", "organizers", "locations", "fields",
                         "editions"}) | CITATION,
    "editions": frozenset({"edition", "names", "alt_names", "start", "end", "locations", "organizers",
                           "sessions"}) | CITATION,
    "sessions": frozenset({"key", "type", "names", "start", "end"}) | CITATION,
    "initiatives": frozenset({"key", "names", "alt_names", "initiated_by", "participants", "organizers",
                              "locations", "start", "end", "fields"}) | CITATION,
    "agreements": frozenset({"key", "type", "names", "signatories", "signed", "adopted_at", "establishes",
                             "fields"}) | CITATION,
    "twinnings": frozenset({"parties", "type", "status", "intent_date", "start_date", "end_date", "fields",
                            "evidenced_by"}) | CITATION,
    "memberships": frozenset({"organisation", "member", "members", "roles", "start", "end"}) | CITATION,
    "observations": frozenset({"key", "measure", "about", "country", "value", "approx", "date"}) | CITATION,
    "also": frozenset({"source", "quote"}),
}

#: Kinds of handle a field may name.
PLACE, ORGANISATION, COUNTRY, CLUSTER = "place", "organisation", "country", "cluster"
FORUM, EDITION, SESSION, INITIATIVE, AGREEMENT = "forum", "edition", "session", "initiative", "agreement"
AGENTS = (PLACE, ORGANISATION, COUNTRY)
ANYTHING = (PLACE, ORGANISATION, COUNTRY, CLUSTER, FORUM, EDITION, SESSION, INITIATIVE, AGREEMENT)


# ------------------------------------------------------------------------------------------------------------
# Reading YAML with line numbers
# ------------------------------------------------------------------------------------------------------------

@dataclass
class Entry:
    """One YAML mapping: its values (text, lists, nested entries) and the line of each key."""

    file: str
    line: int
    values: dict[str, Any]
    lines: dict[str, int]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)


def read_entries(path: Path, ctx: BuildContext) -> list[Entry]:
    """The top-level list of a curated file, each item with its line; a broken file is reported."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        ctx.problem(path.name, mark.line + 1 if mark else 1,
                    f"not valid YAML: {getattr(error, 'problem', None) or error}")
        return []
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        ctx.problem(path.name, root.start_mark.line + 1, "expected a list of entries (lines '- field: ...')")
        return []
    entries = []
    for item in root.value:
        value = _convert(item, path.name, ctx)
        if isinstance(value, Entry):
            entries.append(value)
        else:
            ctx.problem(path.name, item.start_mark.line + 1, "each entry must be a mapping of field: value")
    return entries


def _convert(node: yaml.Node, file: str, ctx: BuildContext) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == _NULL_TAG else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, file, ctx) for item in node.value]
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in values:
            ctx.problem(file, line, f"field {key!r} given twice in one entry")
        values[key] = _convert(value_node, file, ctx)
        lines[key] = line
    return Entry(file, node.start_mark.line + 1, values, lines)


# ------------------------------------------------------------------------------------------------------------
# Helpers the YAML, the tests and other tools share
# ------------------------------------------------------------------------------------------------------------

def citation_text(text: str) -> str:
    """Text as quotes are compared: whitespace runs collapsed, article 003's bracketed pinyin removed.

    >>> citation_text("國(guó)際  關(guān)係\\n城市")
    '國際 關係 城市'
    """
    return re.sub(r"\s+", " ", _PINYIN.sub("", text)).strip()


def date_literal(text: str) -> Literal | None:
    """``2018`` → xsd:gYear, ``2018-04`` → xsd:gYearMonth, ``2018-04-25`` → xsd:date; anything else → None.

    >>> date_literal("2018-04").datatype.value
    'http://www.w3.org/2001/XMLSchema#gYearMonth'
    >>> date_literal("2018-13") is None, date_literal("April 2018") is None
    (True, True)
    """
    if re.fullmatch(r"[0-9]{4}", text):
        return Literal(text, datatype=XSD.gYear)
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        return Literal(text, datatype=XSD.gYearMonth) if 1 <= int(text[5:]) <= 12 else None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        try:
            date.fromisoformat(text)
        except ValueError:
            return None
        return Literal(text, datatype=XSD.date)
    return None


@functools.lru_cache(maxsize=4)
def vocabulary(directory: Path = ONTOLOGY_DIR) -> Mapping[str, frozenset[str]]:
    """The concepts of the SKOS schemes in ``ontology/``, by scheme: what ``type:``, ``roles:`` ... may name.

    Read from the ontology rather than listed here, so that a curator who needs a new measure or role adds it
    to the scheme (where it gets its labels and definition) and the YAML accepts it, without touching code.
    """
    schemes: dict[str, set[str]] = {}
    concept = NamedNode("http://www.w3.org/2004/02/skos/core#Concept")
    for path in sorted(directory.rglob("*.ttl")):
        try:
            quads = list(parse(path=str(path), format=RdfFormat.TURTLE))
        except (OSError, SyntaxError):  # not this loader's file to report
            continue
        for quad in quads:
            subject = quad.subject
            if (quad.predicate == RDF.type and quad.object == concept and isinstance(subject, NamedNode)
                    and subject.value.startswith(iris.VOCAB)):
                scheme, _, name = subject.value[len(iris.VOCAB):].partition("/")
                if name:
                    schemes.setdefault(scheme, set()).add(name)
    return {scheme: frozenset(names) for scheme, names in schemes.items()}


# ------------------------------------------------------------------------------------------------------------
# Places: the one function that decides a curated place's key and IRI
# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlaceRef:
    """What the curated graph needs to know about a place: its key, IRI, kind, country and names."""

    key: str
    iri: str
    kind: str
    country: str
    names: Mapping[str, str]


def resolve_place(ctx: BuildContext, handle: str, entry: Entry) -> PlaceRef | None:
    """The place a ``places.yaml`` entry stands for, keyed as the rest of the graph keys it.

    With the build's place index (``ctx.places``) the index decides: it has reconciled the registry with the
    gazetteer, so a city gets the same IRI in every graph. Without one (a loader run on its own, the tests),
    the key is derived from the entry by the rule of ``docs/model.md``: QID, else ``gn-{GeoNames id}``, else
    ``x-{slug of the English name}``. Returns None, after reporting why, for an entry that cannot be keyed.
    """
    given = entry.get("names")
    names = {lang: value.strip() for lang, value in given.values.items()
             if isinstance(value, str) and value.strip()} if isinstance(given, Entry) else {}
    if ctx.places is not None:
        try:
            place = ctx.places.resolve_curated(handle)
        except KeyError:
            return None  # the index has already reported why it rejected the entry
        iri = place.iri.value if isinstance(place.iri, NamedNode) else str(place.iri)
        merged = dict(names)
        merged.update({lang: name for lang, name in (getattr(place, "names", None) or {}).items() if name})
        return PlaceRef(place.key, iri, place.kind, place.country or str(entry.get("country")), merged)
    kind = entry.get("kind")
    try:
        key = iris.place_key(qid=entry.get("qid"), geonames_id=entry.get("geonames"), name=names.get("en"))
    except ValueError as error:
        ctx.problem(entry.file, entry.line, f"{handle}: {error}")
        return None
    iri = iris.city(key) if kind == "city" else iris.port(key)
    return PlaceRef(key, iri, str(kind), str(entry.get("country")), names)


# ------------------------------------------------------------------------------------------------------------
# The loader
# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Thing:
    """Something a handle names: its kind, IRI, the key used inside other IRIs, and its names."""

    kind: str
    iri: NamedNode
    key: str
    names: Mapping[str, str]


@dataclass(frozen=True)
class Citation:
    source: str  # the article's file name
    quotes: tuple[str, ...]


@dataclass
class Defined:
    """A checked entry of a named thing, waiting to be emitted once every handle is known."""

    entry: Entry
    thing: Thing
    citations: list[Citation]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Article:
    file: str
    iri: NamedNode
    issued: Literal | None
    text: str | None  # normalised with citation_text, when the article text is at hand


@dataclass
class _Curation:
    """One run over the curated files: parsed entries, the handle registry and the triples made so far."""

    ctx: BuildContext
    folder: Path
    seeds: Path
    concepts: Mapping[str, frozenset[str]]
    articles: dict[str, Article] = field(default_factory=dict)
    things: dict[str, Thing] = field(default_factory=dict)
    triples: list[Triple] = field(default_factory=list)
    seen: set[Triple] = field(default_factory=set)
    single: dict[tuple[str, str, str], tuple[str, str, int]] = field(default_factory=dict)
    quotes: dict[tuple[NamedNode, str], list[str]] = field(default_factory=dict)
    observation_keys: set[str] = field(default_factory=set)

    # --- reporting and emitting ---

    def problem(self, entry: Entry, name: str | None, message: str) -> None:
        self.ctx.problem(entry.file, entry.line_of(name) if name else entry.line, message)

    def add(self, s: NamedNode, p: NamedNode, o: NamedNode | Literal) -> None:
        triple = (s, p, o)
        if triple not in self.seen:
            self.seen.add(triple)
            self.triples.append(triple)

    def add_single(self, entry: Entry, name: str, s: NamedNode, p: NamedNode, o: NamedNode | Literal,
                   slot: str = "") -> None:
        """Add a value the node may have only once (a type, a status, a date): a second, different one is
        reported instead of making the node contradict itself."""
        key = (s.value, p.value, slot)
        if key in self.single and self.single[key][0] != str(o):
            first, file, line = self.single[key]
            term = re.split(r"[/#]", p.value)[-1]
            self.problem(entry, name, f"{iris.key_of(s.value)}: {term} is {first} in {file}:{line}; "
                                      f"this entry says {o}")
            return
        self.single.setdefault(key, (str(o), entry.file, entry.line_of(name)))
        self.add(s, p, o)

    def check_fields(self, entry: Entry, kind: str) -> None:
        for name in entry.values:
            if name not in FIELDS[kind]:
                allowed = ", ".join(sorted(FIELDS[kind]))
                self.problem(entry, name, f"unknown field {name!r} (allowed here: {allowed})")

    # --- values ---

    def text(self, entry: Entry, name: str, required: bool = False) -> str | None:
        value = entry.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(entry, None, f"missing {name!r}")
            return None
        if not isinstance(value, str):
            self.problem(entry, name, f"{name!r} must be a single value")
            return None
        return value.strip()

    def texts(self, entry: Entry, name: str) -> list[str]:
        """A list field; a single value is taken as a list of one."""
        value = entry.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        good = [item.strip() for item in items if isinstance(item, str) and item.strip()]
        if len(good) != len(items):
            self.problem(entry, name, f"{name!r} must be a list of plain values")
        return good

    def date(self, entry: Entry, name: str) -> Literal | None:
        value = self.text(entry, name)
        if value is None:
            return None
        literal = date_literal(value)
        if literal is None:
            self.problem(entry, name, f"{name}: {value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
        return literal

    def concept(self, entry: Entry, name: str, scheme: str, value: str | None = None) -> NamedNode | None:
        value = value if value is not None else self.text(entry, name)
        if value is None:
            return None
        known = self.concepts.get(scheme)
        if known is not None and value not in known:
            self.problem(entry, name, f"{name}: {value!r} is not a concept of cdv:{scheme}; "
                                      f"add it to ontology/vocab/{scheme}.ttl first")
            return None
        return NamedNode(iris.concept(scheme, value))

    def names(self, entry: Entry, name: str = "names", required: tuple[str, ...] = ("zh", "en")
              ) -> dict[str, str]:
        value = entry.get(name)
        if value is None:
            if required:
                self.problem(entry, None, f"missing {name!r} (needs {' and '.join(required)})")
            return {}
        if not isinstance(value, Entry):
            self.problem(entry, name, f"{name!r} must map languages to names, e.g. {{zh: 青岛, en: Qingdao}}")
            return {}
        names: dict[str, str] = {}
        for lang, text in value.values.items():
            if not _LANGUAGE.match(lang):
                self.problem(value, lang, f"{lang!r} is not a language tag")
            elif not isinstance(text, str) or not text.strip():
                self.problem(value, lang, f"the {lang} name must be a single non-empty text")
            else:
                names[lang] = text.strip()
        missing = [lang for lang in required if lang not in names]
        if missing:
            self.problem(entry, name, f"{name!r} lacks {' and '.join(missing)}")
        return names

    def alt_names(self, entry: Entry) -> dict[str, list[str]]:
        value = entry.get("alt_names")
        if value is None:
            return {}
        if not isinstance(value, Entry):
            self.problem(entry, "alt_names", "alt_names must map languages to lists of names")
            return {}
        return {lang: self.texts(value, lang) for lang in value.values if _LANGUAGE.match(lang)}

    def reference(self, entry: Entry, name: str, handle: str, kinds: tuple[str, ...]) -> Thing | None:
        thing = self.things.get(handle)
        if thing is None and re.fullmatch(r"[A-Z]{2}", handle):
            thing = self.country(handle)
        if thing is None:
            self.problem(entry, name, f"{name}: unknown handle {handle!r}")
            return None
        if thing.kind not in kinds:
            self.problem(entry, name, f"{name}: {handle!r} is a {thing.kind}, expected {' or '.join(kinds)}")
            return None
        return thing

    def references(self, entry: Entry, name: str, kinds: tuple[str, ...]) -> list[Thing]:
        found = (self.reference(entry, name, handle, kinds) for handle in self.texts(entry, name))
        return [thing for thing in found if thing is not None]

    @staticmethod
    def country(code: str) -> Thing | None:
        country = pycountry.countries.get(alpha_2=code)
        if country is None:
            return None
        return Thing(COUNTRY, NamedNode(iris.country(code)), code, {"en": country.name})

    # --- citations ---

    def citations(self, entry: Entry) -> list[Citation]:
        """The entry's own citation and its ``also`` list; each quote is checked against its article."""
        found = [self.citation(entry)]
        also = entry.get("also")
        if also is not None:
            if not isinstance(also, list) or not all(isinstance(item, Entry) for item in also):
                self.problem(entry, "also", "also must be a list of {source: ..., quote: ...}")
            else:
                for item in also:
                    self.check_fields(item, "also")
                    found.append(self.citation(item))
        return [citation for citation in found if citation is not None]

    def citation(self, entry: Entry) -> Citation | None:
        source = self.text(entry, "source", required=True)
        quote = entry.get("quote")
        quotes = [quote] if isinstance(quote, str) else quote if isinstance(quote, list) else []
        quotes = [citation_text(q) for q in quotes if isinstance(q, str) and q.strip()]
        if not quotes:
            self.problem(entry, "quote" if "quote" in entry.values else None,
                         "missing 'quote': the article's words this fact rests on")
        if source is None:
            return None
        article = self.articles.get(source)
        if article is None:
            self.problem(entry, "source", f"source {source!r} is not an article listed in sources.yaml")
            return None
        if article.text is not None:
            for q in quotes:
                if q not in article.text:
                    self.problem(entry, "quote", f"quote not found in {source}: {q[:40]}…")
        return Citation(source, tuple(quotes)) if quotes else None

    def cite(self, node: NamedNode, citations: list[Citation]) -> None:
        """``prov:wasDerivedFrom`` the article, and collect the quotes for the node's citation node."""
        for citation in citations:
            article = self.articles[citation.source]
            self.add(node, PROV.wasDerivedFrom, article.iri)
            collected = self.quotes.setdefault((node, citation.source), [])
            collected.extend(q for q in citation.quotes if q not in collected)

    def emit_citations(self) -> None:
        for (node, source), quotes in self.quotes.items():
            article = self.articles[source]
            derivation = NamedNode(iris.derivation(node.value, source))
            self.add(node, PROV.qualifiedDerivation, derivation)
            self.add(derivation, RDF.type, PROV.Derivation)
            self.add(derivation, PROV.entity, article.iri)
            if quotes:
                self.add(derivation, CDO.quote, Literal(QUOTE_JOINER.join(quotes), language="zh"))

    # --- shared parts of an entity ---

    def labels(self, node: NamedNode, entry: Entry, names: Mapping[str, str]) -> None:
        for lang, name in sorted(names.items()):
            self.add_single(entry, "names", node, SKOS.prefLabel, Literal(name, language=lang), slot=lang)
        for lang, alternatives in sorted(self.alt_names(entry).items()):
            for name in alternatives:
                self.add(node, SKOS.altLabel, Literal(name, language=lang))

    def common(self, item: Defined) -> None:
        """What every node may carry: a note, cooperation fields, and its citations."""
        entry, node = item.entry, item.thing.iri
        note = self.text(entry, "note")
        if note:
            self.add(node, SKOS.note, Literal(note, language="en"))
        for value in self.texts(entry, "fields"):
            concept = self.concept(entry, "fields", "field", value)
            if concept is not None:
                self.add(node, CDO.field, concept)
        self.cite(node, item.citations)

    def link(self, node: NamedNode, predicate: NamedNode, entry: Entry, name: str, kinds: tuple[str, ...]
             ) -> None:
        for thing in self.references(entry, name, kinds):
            self.add(node, predicate, thing.iri)

    def slug_key(self, entry: Entry, name: str = "key") -> str | None:
        key = self.text(entry, name, required=True)
        if key is not None and not _SLUG.match(key):
            self.problem(entry, name, f"{name} {key!r} must be a slug: lower-case ASCII words joined by '-'")
            return None
        return key

    # --- the files ---

    def load_sources(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.check_fields(entry, "sources")
            file = self.text(entry, "file", required=True)
            titles = self.names(entry, "title", required=("zh",))
            publishers = self.names(entry, "publisher", required=("zh",))
            if file is None or not titles:
                continue
            if file in self.articles:
                self.problem(entry, "file", f"{file} is listed twice")
                continue
            path = self.seeds / file
            text = citation_text(path.read_text(encoding="utf-8")) if path.is_file() else None
            article = Article(file, NamedNode(iris.source(file)), self.date(entry, "date"), text)
            self.articles[file] = article
            node = article.iri
            self.add(node, RDF.type, CDO.SourceDocument)
            for lang, title in sorted(titles.items()):
                self.add(node, DCTERMS.title, Literal(title, language=lang))
                self.add(node, SKOS.prefLabel, Literal(title, language=lang))
            for lang, publisher in sorted(publishers.items()):
                self.add(node, DCTERMS.publisher, Literal(publisher, language=lang))
            if article.issued is not None:
                self.add(node, DCTERMS.issued, article.issued)
            self.add(node, DCTERMS.language, string("zh"))
            self.add(node, DCTERMS.identifier, string(file))
            for author in self.texts(entry, "authors"):
                self.add(node, DCTERMS.creator, Literal(author, language="zh"))
            url = self.text(entry, "url")
            if url is not None:
                if _URL.match(url):
                    self.add(node, DCTERMS.source, NamedNode(url))
                else:
                    self.problem(entry, "url", f"url {url!r} is not a web address")
            note = self.text(entry, "note")
            if note:
                self.add(node, SKOS.note, Literal(note, language="en"))
            # The masthead quote shows that title and date are the article's own: checked, not emitted.
            quote = self.text(entry, "quote", required=True)
            if quote and text is not None and citation_text(quote) not in text:
                self.problem(entry, "quote", f"quote not found in {file}: {quote[:40]}…")

    def define(self, entry: Entry, kind: str, fields: str, handle: str | None, iri: str,
               key: str | None = None, known_names: Mapping[str, str] | None = None) -> Defined | None:
        """Check what every named thing needs (a handle, zh and en names, a citation) and register it.

        Checked before anything is emitted, so that no node goes out without the labels and the citation the
        shapes require, and so that a thing that failed is an unknown handle for the entries pointing at it.
        """
        self.check_fields(entry, fields)
        names = self.names(entry)
        citations = self.citations(entry)
        if handle is None or not names or "zh" not in names or "en" not in names or not citations:
            return None
        if handle in self.things:
            self.problem(entry, None, f"handle {handle!r} is already used by a {self.things[handle].kind}")
            return None
        thing = Thing(kind, NamedNode(iri), key or handle, {**names, **(known_names or {})})
        self.things[handle] = thing
        return Defined(entry, thing, citations)

    def define_places(self, entries: list[Entry]) -> list[Defined]:
        """The registry of places. With the build's place index, the index has already checked kind, country
        and ids (and reported what was wrong): only what it does not check is checked here."""
        defined = []
        for entry in entries:
            handle = self.slug_key(entry)
            if self.ctx.places is None and not self.place_is_sound(entry):
                self.check_fields(entry, "places")
                continue
            ref = resolve_place(self.ctx, handle, entry) if handle else None
            if ref is None:
                self.check_fields(entry, "places")
                continue
            found = self.define(entry, PLACE, "places", handle, ref.iri, ref.key, ref.names)
            if found is not None:
                found.extra["ref"] = ref
                defined.append(found)
        return defined

    def place_is_sound(self, entry: Entry) -> bool:
        """Kind, country and ids of a registry entry; a malformed id is reported and then ignored."""
        kind = self.text(entry, "kind", required=True)
        country = self.text(entry, "country", required=True)
        sound = kind is not None and country is not None
        if kind is not None and kind not in PLACE_CLASSES:
            self.problem(entry, "kind", f"kind must be city or port, not {kind!r}")
            sound = False
        if country is not None and self.country(country) is None:
            self.problem(entry, "country", f"country {country!r} is not an ISO 3166-1 alpha-2 code")
            sound = False
        for name, check, what in (("qid", iris.is_qid, "a Wikidata QID"),
                                  ("geonames", iris.is_geonames_id, "a GeoNames id")):
            value = entry.get(name)
            if value is not None and not (isinstance(value, str) and check(value)):
                self.problem(entry, name, f"{name} {value!r} is not {what}")
                entry.values[name] = None
        return sound

    def emit_place(self, item: Defined) -> None:
        entry, ref = item.entry, item.extra["ref"]
        node = item.thing.iri
        self.add(node, RDF.type, PLACE_CLASSES[ref.kind])
        self.labels(node, entry, ref.names)
        self.add_single(entry, "country", node, CDO.country, NamedNode(iris.country(ref.country)))
        qid, geonames = entry.get("qid"), entry.get("geonames")
        if qid is not None:
            self.add_single(entry, "qid", node, CDO.wikidataId, string(qid))
        if geonames is not None:
            self.add_single(entry, "geonames", node, CDO.geonamesId, string(geonames))
        self.common(item)

    def define_keyed(self, entries: list[Entry], kind: str, fields: str, minter: Any) -> list[Defined]:
        """Entries named by a slug ``key``: organisations, clusters, initiatives, agreements."""
        defined = []
        for entry in entries:
            key = self.slug_key(entry)
            found = self.define(entry, kind, fields, key, minter(key) if key else "")
            if found is not None:
                defined.append(found)
        return defined

    def define_forums(self, entries: list[Entry]) -> list[Defined]:
        """Forums, their editions (handle ``forum/edition``) and sessions (``forum/edition/session``)."""
        defined: list[Defined] = []
        for forum in self.define_keyed(entries, FORUM, "forums", iris.forum):
            forum.extra["part"] = "forums"
            defined.append(forum)
            for edition_entry in self.nested(forum.entry, "editions"):
                edition = self.text(edition_entry, "edition", required=True)
                if edition is not None and not _EDITION.match(edition):
                    self.problem(edition_entry, "edition", f"edition {edition!r} must be a year or year-n")
                    edition = None
                start = self.date(edition_entry, "start")
                if start is None and edition_entry.get("start") is None:
                    self.problem(edition_entry, None, "missing 'start': an edition needs a date (a year)")
                handle = f"{forum.thing.key}/{edition}" if edition else None
                found = self.define(edition_entry, EDITION, "editions", handle,
                                    iris.forum(forum.thing.key, edition) if edition else "")
                if found is None or start is None:
                    continue
                found.extra.update(part="editions", parent=forum.thing)
                defined.append(found)
                for session_entry in self.nested(edition_entry, "sessions"):
                    key = self.slug_key(session_entry)
                    session_type = self.concept(session_entry, "type", "session-type")
                    if self.text(session_entry, "type") is None:
                        self.problem(session_entry, None, "missing 'type'")
                    session_handle = f"{handle}/{key}" if key else None
                    session = self.define(session_entry, SESSION, "sessions", session_handle,
                                          iris.forum(forum.thing.key, edition, key) if key else "")
                    if session is not None and session_type is not None:
                        session.extra.update(part="sessions", parent=found.thing, type=session_type)
                        defined.append(session)
        return defined

    def nested(self, entry: Entry, name: str) -> list[Entry]:
        value = entry.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Entry) for item in value):
            self.problem(entry, name, f"{name!r} must be a list of entries")
            return []
        return value

    def emit_organisation(self, item: Defined) -> None:
        entry, node = item.entry, item.thing.iri
        kind = self.text(entry, "kind", required=True)
        if kind is not None and kind not in ORGANISATION_CLASSES:
            self.problem(entry, "kind", f"kind must be one of {', '.join(ORGANISATION_CLASSES)}: {kind!r}")
        self.add(node, RDF.type, ORGANISATION_CLASSES.get(kind or "", CDO.Organization))
        self.labels(node, entry, item.thing.names)
        self.link(node, ORG.subOrganizationOf, entry, "part_of", (ORGANISATION,))
        self.link(node, SCHEMA.founder, entry, "founders", AGENTS)
        self.link(node, CDO.headquarters, entry, "headquarters", (PLACE,))
        founded = self.date(entry, "founded")
        if founded is not None:
            self.add_single(entry, "founded", node, SCHEMA.foundingDate, founded)
        url = self.text(entry, "url")
        if url is not None:
            if _URL.match(url):
                self.add(node, SCHEMA.url, NamedNode(url))
            else:
                self.problem(entry, "url", f"url {url!r} is not a web address")
        self.common(item)

    def emit_cluster(self, item: Defined) -> None:
        entry, node = item.entry, item.thing.iri
        self.add(node, RDF.type, CDO.CityCluster)
        self.labels(node, entry, item.thing.names)
        self.link(node, CDO.country, entry, "countries", (COUNTRY,))
        self.link(node, SCHEMA.containsPlace, entry, "contains", (PLACE,))
        if not self.texts(entry, "contains"):
            self.problem(entry, None, "missing 'contains': a city cluster needs at least one member city")
        self.common(item)

    def emit_forum_part(self, item: Defined) -> None:
        entry, node, part = item.entry, item.thing.iri, item.extra["part"]
        self.labels(node, entry, item.thing.names)
        if part == "forums":
            self.add(node, RDF.type, CDO.Forum)
            self.link(node, SCHEMA.founder, entry, "founders", AGENTS)
        else:
            self.add(node, RDF.type, CDO.ForumEdition if part == "editions" else CDO.Session)
            self.add(node, SCHEMA.superEvent, item.extra["parent"].iri)
            self.dates(entry, node)
        if part == "sessions":
            self.add_single(entry, "type", node, CDO.sessionType, item.extra["type"])
        else:
            self.link(node, SCHEMA.organizer, entry, "organizers", AGENTS)
            self.link(node, SCHEMA.location, entry, "locations", (PLACE,))
        self.common(item)

    def dates(self, entry: Entry, node: NamedNode, start: str = "start", end: str = "end") -> None:
        for name, predicate in ((start, SCHEMA.startDate), (end, SCHEMA.endDate)):
            value = self.date(entry, name)
            if value is not None:
                self.add_single(entry, name, node, predicate, value)

    def emit_initiative(self, item: Defined) -> None:
        entry, node = item.entry, item.thing.iri
        self.add(node, RDF.type, CDO.Initiative)
        self.labels(node, entry, item.thing.names)
        self.link(node, CDO.initiatedBy, entry, "initiated_by", AGENTS)
        self.link(node, CDO.participant, entry, "participants", AGENTS)
        self.link(node, SCHEMA.organizer, entry, "organizers", AGENTS)
        self.link(node, SCHEMA.location, entry, "locations", (PLACE,))
        self.dates(entry, node)
        self.common(item)

    def emit_agreement(self, item: Defined) -> None:
        entry, node = item.entry, item.thing.iri
        agreement_type = self.concept(entry, "type", "agreement-type")
        if self.text(entry, "type") is None:
            self.problem(entry, None, "missing 'type'")
        if agreement_type is None:
            return  # the shapes require a type: better no node than an invalid one
        self.add(node, RDF.type, CDO.Agreement)
        self.add_single(entry, "type", node, CDO.agreementType, agreement_type)
        self.labels(node, entry, item.thing.names)
        for lang, title in sorted(item.thing.names.items()):
            self.add(node, DCTERMS.title, Literal(title, language=lang))
        self.link(node, CDO.signatory, entry, "signatories", AGENTS)
        self.link(node, CDO.adoptedAt, entry, "adopted_at", (EDITION,))
        self.link(node, CDO.establishes, entry, "establishes", (ORGANISATION, INITIATIVE))
        signed = self.date(entry, "signed")
        if signed is not None:
            self.add_single(entry, "signed", node, CDO.signingDate, signed)
        self.common(item)

    def emit_twinning(self, entry: Entry) -> None:
        self.check_fields(entry, "twinnings")
        handles = self.texts(entry, "parties")
        if len(handles) != 2 or handles[0] == handles[1]:
            self.problem(entry, "parties" if "parties" in entry.values else None,
                         "parties must name two different places, e.g. [qingdao, perm]")
            return
        parties = [self.reference(entry, "parties", handle, (PLACE,)) for handle in handles]
        twinning_type = self.required_concept(entry, "type", "twinning-type")
        status = self.required_concept(entry, "status", "twinning-status")
        dates = [(name, predicate, self.date(entry, name)) for name, predicate in (
            ("intent_date", CDO.intentDate), ("start_date", SCHEMA.startDate), ("end_date", SCHEMA.endDate))]
        evidence = self.references(entry, "evidenced_by", (AGREEMENT,))
        citations = self.citations(entry)
        if None in (parties[0], parties[1], twinning_type, status) or not citations:
            return  # everything is checked first, so one pass shows the curator every fault of the entry
        a, b = sorted(parties, key=lambda thing: thing.key)
        node = NamedNode(iris.twinning(a.key, b.key))
        self.add(node, RDF.type, CDO.Twinning)
        self.add(node, CDO.party, a.iri)
        self.add(node, CDO.party, b.iri)
        for lang, joiner in (("zh", "—"), ("en", " – ")):
            label = Literal(f"{a.names[lang]}{joiner}{b.names[lang]}", language=lang)
            self.add_single(entry, "parties", node, SKOS.prefLabel, label, slot=lang)
        self.add_single(entry, "type", node, CDO.twinningType, twinning_type)
        self.add_single(entry, "status", node, CDO.status, status)
        for name, predicate, value in dates:
            if value is not None:
                self.add_single(entry, name, node, predicate, value)
        for agreement in evidence:
            self.add(node, CDO.evidencedBy, agreement.iri)
        self.common(Defined(entry, Thing("twinning", node, node.value, {}), citations))

    def required_concept(self, entry: Entry, name: str, scheme: str) -> NamedNode | None:
        if self.text(entry, name) is None:
            self.problem(entry, None, f"missing {name!r} (a concept of cdv:{scheme})")
            return None
        return self.concept(entry, name, scheme)

    def emit_membership(self, entry: Entry) -> None:
        self.check_fields(entry, "memberships")
        handle = self.text(entry, "organisation", required=True)
        organisation = self.reference(entry, "organisation", handle, (ORGANISATION,)) if handle else None
        if "member" in entry.values and "members" in entry.values:
            self.problem(entry, "members", "give either 'member' or 'members', not both")
            return
        name = "members" if "members" in entry.values else "member"
        if not self.texts(entry, name):
            self.problem(entry, None, "missing 'member'")
        members = self.references(entry, name, AGENTS)
        roles = [(value, self.concept(entry, "roles", "role", value)) for value in self.texts(entry, "roles")]
        if not roles:
            self.problem(entry, None, "missing 'roles'")
        start, end = self.date(entry, "start"), self.date(entry, "end")
        citations = self.citations(entry)
        if organisation is None or not citations:
            return
        for member in members:
            for role_name, role in roles:
                if role is None:
                    continue
                node = NamedNode(iris.membership(organisation.key, member.key, role_name))
                self.add(node, RDF.type, ORG.Membership)
                self.add(node, ORG.member, member.iri)
                self.add(node, ORG.organization, organisation.iri)
                self.add(node, ORG.role, role)
                if "zh" in member.names:
                    label = Literal(f"{member.names['zh']}—{organisation.names['zh']}", language="zh")
                    self.add_single(entry, name, node, SKOS.prefLabel, label, slot="zh")
                label = f"{member.names['en']} – {organisation.names['en']} ({role_name})"
                self.add_single(entry, name, node, SKOS.prefLabel, Literal(label, language="en"), slot="en")
                for field_name, predicate, value in (("start", SCHEMA.startDate, start),
                                                     ("end", SCHEMA.endDate, end)):
                    if value is not None:
                        self.add_single(entry, field_name, node, predicate, value)
                self.common(Defined(entry, Thing("membership", node, node.value, {}), citations))

    def emit_observation(self, entry: Entry) -> None:
        self.check_fields(entry, "observations")
        key = self.slug_key(entry)
        measure = self.required_concept(entry, "measure", "measure")
        if not self.texts(entry, "about"):
            self.problem(entry, None, "missing 'about'")
        about = self.references(entry, "about", ANYTHING)
        value = self.text(entry, "value", required=True)
        approx = self.text(entry, "approx")
        if approx is not None and approx != "more-than":
            self.problem(entry, "approx", f"approx must be more-than (or left out), not {approx!r}")
        number = None
        if value is not None:
            datatype = (XSD.integer if _INTEGER.match(value) else
                        XSD.decimal if _DECIMAL.match(value) else None)
            if datatype is None:
                self.problem(entry, "value", f"value {value!r} is not a number")
            else:
                number = Literal(value, datatype=datatype)
        citations = self.citations(entry)
        if key is None or measure is None or not about or number is None or not citations:
            return
        source = citations[0].source
        node = NamedNode(iris.observation(source, key))
        if node.value in self.observation_keys:
            self.problem(entry, "key", f"observation key {key!r} is used twice for {source}")
            return
        self.observation_keys.add(node.value)
        if entry.get("date") is not None:
            observed = self.date(entry, "date")
        else:
            observed = self.articles[source].issued
            if observed is None:
                self.problem(entry, None, f"{source} has no date: give the observation a 'date'")
        if observed is None:
            return
        self.add(node, RDF.type, CDO.Observation)
        self.add(node, CDO.measure, measure)
        self.add(node, SCHEMA.minValue if approx == "more-than" else SCHEMA.value, number)
        self.add(node, SCHEMA.observationDate, observed)
        for thing in about:
            self.add(node, SCHEMA.observationAbout, thing.iri)
        country = self.text(entry, "country")
        if country is not None:
            scope = self.reference(entry, "country", country, (COUNTRY,))
            if scope is not None:
                self.add(node, CDO.country, scope.iri)
        if approx == "more-than":
            self.add(node, SKOS.note, Literal(f"The article says more than {value}.", language="en"))
        self.common(Defined(entry, Thing("observation", node, key, {}), citations))

    # --- the whole run ---

    def run(self) -> list[Triple]:
        files = {kind: self.entries(kind) for kind in (
            "sources", "places", "organisations", "clusters", "forums", "initiatives", "agreements",
            "twinnings", "memberships", "observations")}
        self.load_sources(files["sources"])
        places = self.define_places(files["places"])
        organisations = self.define_keyed(files["organisations"], ORGANISATION, "organisations", iris.org)
        clusters = self.define_keyed(files["clusters"], CLUSTER, "clusters", iris.cluster)
        forums = self.define_forums(files["forums"])
        initiatives = self.define_keyed(files["initiatives"], INITIATIVE, "initiatives", iris.initiative)
        agreements = self.define_keyed(files["agreements"], AGREEMENT, "agreements", iris.agreement)
        for item in places:
            self.emit_place(item)
        for item in organisations:
            self.emit_organisation(item)
        for item in clusters:
            self.emit_cluster(item)
        for item in forums:
            self.emit_forum_part(item)
        for item in initiatives:
            self.emit_initiative(item)
        for item in agreements:
            self.emit_agreement(item)
        for entry in files["twinnings"]:
            self.emit_twinning(entry)
        for entry in files["memberships"]:
            self.emit_membership(entry)
        for entry in files["observations"]:
            self.emit_observation(entry)
        self.emit_citations()
        return self.triples

    def entries(self, kind: str) -> list[Entry]:
        path = self.folder / f"{kind}.yaml"
        return read_entries(path, self.ctx) if path.is_file() else []


def triples(ctx: BuildContext) -> Iterator[Triple]:
    """Every curated fact, citing its article; problems in the YAML go to ``ctx.problems``."""
    curation = _Curation(ctx, ctx.data_dir / CURATED_DIR, ctx.data_dir / SEEDS_DIR, vocabulary())
    yield from curation.run()
