"""Deterministic IRI minting: one function per kind of thing.

The rules are documented in ``docs/model.md``. Every loader, the partner
reconciler and the saved-query parameters go through these functions, so the
same city or pair always ends up with the same IRI.

>>> city("Q656")
'https://w3id.org/citydiplomacy/id/city/Q656'
>>> twinning("gn-1797929", "Q656")
'https://w3id.org/citydiplomacy/id/twinning/Q656__gn-1797929'
>>> place_key(qid=None, geonames_id="1797929")
'gn-1797929'
>>> slug("Port Klang (Malaysia)")
'port-klang-malaysia'
"""

from __future__ import annotations

import re
import unicodedata

BASE = "https://w3id.org/citydiplomacy/"
ONTOLOGY = BASE + "ontology#"
VOCAB = BASE + "vocab/"
SHAPES = BASE + "shapes#"
ID = BASE + "id/"
GRAPH = BASE + "graph/"

_QID = re.compile(r"^Q[1-9][0-9]*$")
_GEONAMES_ID = re.compile(r"^[1-9][0-9]*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lower-case ASCII words joined by ``-``: the shape of every hand-made key.

    >>> slug("Saint-Étienne")
    'saint-etienne'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    result = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if not result:
        raise ValueError(f"cannot make a slug from {text!r}")
    return result


def is_qid(value: str) -> bool:
    """True for a Wikidata item id such as ``Q656``."""
    return bool(_QID.match(value))


def is_geonames_id(value: str) -> bool:
    """True for a GeoNames feature id (digits only)."""
    return bool(_GEONAMES_ID.match(value))


def place_key(*, qid: str | None = None, geonames_id: str | int | None = None,
              name: str | None = None) -> str:
    """The key of a city or port: QID, else ``gn-{id}``, else ``x-{slug}``.

    >>> place_key(qid="Q16572", geonames_id=1809858)
    'Q16572'
    >>> place_key(name="Ningbo-Zhoushan")
    'x-ningbo-zhoushan'
    """
    if qid:
        if not is_qid(qid):
            raise ValueError(f"not a Wikidata QID: {qid!r}")
        return qid
    if geonames_id:
        if not is_geonames_id(str(geonames_id)):
            raise ValueError(f"not a GeoNames id: {geonames_id!r}")
        return f"gn-{geonames_id}"
    if name:
        return "x-" + slug(name)
    raise ValueError("a place key needs a QID, a GeoNames id or a name")


def key_of(iri: str) -> str:
    """The last path segment of one of our IRIs: the key it was minted from.

    >>> key_of("https://w3id.org/citydiplomacy/id/city/Q656")
    'Q656'
    """
    return iri.rstrip("/").rsplit("/", 1)[-1]


def city(key: str) -> str:
    return f"{ID}city/{key}"


def port(key: str) -> str:
    return f"{ID}port/{key}"


def country(iso2: str) -> str:
    """A country, by its ISO 3166-1 alpha-2 code (upper-cased).

    >>> country("ru")
    'https://w3id.org/citydiplomacy/id/country/RU'
    """
    if not re.match(r"^[A-Za-z]{2}$", iso2):
        raise ValueError(f"not an ISO 3166-1 alpha-2 code: {iso2!r}")
    return f"{ID}country/{iso2.upper()}"


def cluster(key: str) -> str:
    return f"{ID}cluster/{key}"


def org(key: str) -> str:
    return f"{ID}org/{key}"


def twinning(key_a: str, key_b: str) -> str:
    """One IRI per unordered pair: the keys are sorted by code point."""
    if key_a == key_b:
        raise ValueError(f"a twinning needs two different places, got {key_a!r} twice")
    first, second = sorted((key_a, key_b))
    return f"{ID}twinning/{first}__{second}"


def membership(org_key: str, member_key: str, role: str) -> str:
    """One membership node per organisation, member and role.

    >>> membership("metropolis", "Q16572", "president")
    'https://w3id.org/citydiplomacy/id/membership/metropolis__Q16572__president'
    """
    return f"{ID}membership/{org_key}__{member_key}__{role}"


def forum(key: str, edition: str | None = None, session: str | None = None) -> str:
    """A forum series, one of its editions, or a session of an edition.

    >>> forum("global-coastal-forum", "2023")
    'https://w3id.org/citydiplomacy/id/forum/global-coastal-forum/2023'
    """
    parts = [key] + [p for p in (edition, session) if p]
    if session and not edition:
        raise ValueError("a session belongs to an edition")
    return f"{ID}forum/" + "/".join(parts)


def initiative(key: str) -> str:
    return f"{ID}initiative/{key}"


def agreement(key: str) -> str:
    return f"{ID}agreement/{key}"


def consular_post(sending_iso2: str, city_key: str) -> str:
    return f"{ID}consular-post/{sending_iso2.upper()}__{city_key}"


def source(file_stem: str) -> str:
    """A source article, by its file name in ``shared/seeds``.

    >>> source("004_a22a3d687938a3c4.txt")
    'https://w3id.org/citydiplomacy/id/source/004_a22a3d687938a3c4'
    """
    return f"{ID}source/{file_stem.removesuffix('.txt')}"


def observation(source_stem: str, key: str) -> str:
    return f"{ID}observation/{source_stem.removesuffix('.txt')}__{key}"


def geometry(place_iri: str) -> str:
    return f"{place_iri}#geometry"


def derivation(node_iri: str, source_stem: str) -> str:
    """The citation node saying which article (and sentence) a fact comes from."""
    return f"{node_iri}#from-{source_stem.removesuffix('.txt')}"


def concept(scheme: str, name: str) -> str:
    """A SKOS concept of one of our schemes.

    >>> concept("twinning-status", "formal")
    'https://w3id.org/citydiplomacy/vocab/twinning-status/formal'
    """
    return f"{VOCAB}{scheme}/{name}"


def graph(name: str) -> str:
    return f"{GRAPH}{name}"


def partner_graph(partner: str) -> str:
    """The root graph a partner owns; it also owns every graph below it.

    >>> partner_graph("unesco")
    'https://w3id.org/citydiplomacy/graph/partner/unesco'
    """
    return f"{GRAPH}partner/{partner}"


def wikidata(qid: str) -> str:
    return f"http://www.wikidata.org/entity/{qid}"


def geonames(geonames_id: str | int) -> str:
    return f"https://sws.geonames.org/{geonames_id}/"
