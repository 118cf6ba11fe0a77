"""Saved queries: ``queries/*.rq`` files with a YAML header, typed parameters bound as RDF terms.

A saved query is an ordinary SPARQL file that runs unchanged in any client.
Its leading ``#+`` comment lines hold YAML (grlc's convention)::

    #+ title: Twinnings of a city
    #+ description: Every twinning of the city, with type, status and dates.
    #+ tags: [twinning, city]
    #+ params:
    #+   city: {type: city, description: the city, default: Qingdao, example: Q16572}

Each parameter is a variable of the query (``?city``). A value is checked
against its type, turned into an RDF term and passed to pyoxigraph as a
substitution: it is never pasted into the query text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pyoxigraph import Literal, NamedNode, Store, Variable

from amity.ns import XSD
from amity.problems import BadParameter, NotFound
from amity.resolve import resolve

QUERY_DIR = Path(__file__).resolve().parent.parent / "queries"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TYPES = ("city", "country", "network", "iri", "string", "language", "integer", "decimal", "date")
LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str = ""
    default: str | None = None
    example: str | None = None
    allowed: tuple[str, ...] = ()
    allowed_query: str | None = None  # SELECT ?value ?label … giving the allowed values
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, "default": self.default,
                "example": self.example, "allowed": list(self.allowed), "required": self.required}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    text: str
    params: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. chart hints

    @property
    def form(self) -> str:
        from amity.sparql_text import scan

        return scan(self.text).form or "SELECT"

    def param(self, name: str) -> Parameter:
        for parameter in self.params:
            if parameter.name == name:
                return parameter
        raise BadParameter(f"{self.name} has no parameter {name!r}",
                           extra={"parameters": [p.name for p in self.params]})

    def example_text(self) -> str:
        """The query text as saved: parameters left as variables (they are bound by substitution)."""
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description, "tags": list(self.tags),
                "params": [p.to_dict() for p in self.params], "query": self.text, **self.extra}


def parse_saved_query(path: Path) -> SavedQuery:
    """Read one ``.rq`` file; its stem is its name everywhere (URL, command line, tests)."""
    name = path.stem
    if not NAME.match(name):
        raise ValueError(f"{path}: saved-query names are lower-case words joined by '-'")
    header_lines: list[str] = []
    body_lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not body_lines and line.startswith("#+"):
            header_lines.append(line[3:] if line.startswith("#+ ") else line[2:])
        else:
            body_lines.append(line)
    header = yaml.safe_load("\n".join(header_lines)) or {}
    if "title" not in header or "description" not in header:
        raise ValueError(f"{path}: a saved query needs a title and a description")
    params = []
    for param_name, spec in (header.get("params") or {}).items():
        spec = spec or {}
        kind = spec.get("type", "string")
        if kind not in TYPES:
            raise ValueError(f"{path}: parameter {param_name} has unknown type {kind!r}")
        params.append(Parameter(
            name=param_name, type=kind, description=spec.get("description", ""),
            default=None if spec.get("default") is None else str(spec["default"]),
            example=None if spec.get("example") is None else str(spec["example"]),
            allowed=tuple(str(v) for v in spec.get("allowed", ()) or ()),
            allowed_query=spec.get("allowed_query"), required=bool(spec.get("required", False)),
        ))
    extra = {k: v for k, v in header.items() if k not in ("title", "description", "params", "tags")}
    return SavedQuery(name, str(header["title"]), str(header["description"]).strip(), "\n".join(body_lines).strip()
                      + "\n", tuple(params), tuple(header.get("tags", ()) or ()), path, extra)


@functools.cache
def _load(directory: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[SavedQuery, ...]:
    return tuple(parse_saved_query(path) for path in sorted(directory.glob("*.rq")))


def load_catalogue(directory: Path = QUERY_DIR) -> tuple[SavedQuery, ...]:
    """Every saved query, re-read when a file changes (so a maintainer's new ``.rq`` shows up at once)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.rq")))
    return _load(directory, stamp)


def get(name: str, directory: Path = QUERY_DIR) -> SavedQuery:
    """:raises NotFound: for a name that is not in the catalogue (also for names like ``../x``)."""
    if not NAME.match(name):
        raise NotFound(f"there is no saved query called {name!r}")
    for query in load_catalogue(directory):
        if query.name == name:
            return query
    raise NotFound(f"there is no saved query called {name!r}")


def allowed_values(store: Store, parameter: Parameter) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a parameter's dropdown: its list, or what its query returns."""
    if parameter.allowed:
        return [(v, v) for v in parameter.allowed]
    if parameter.allowed_query:
        from amity.ns import PREFIXES

        rows = store.query(parameter.allowed_query, prefixes=PREFIXES, use_default_graph_as_union=True)
        return [(row["value"].value, row["label"].value if row["label"] is not None else row["value"].value)
                for row in rows]
    return []


def bind(store: Store, query: SavedQuery, values: dict[str, str]) -> dict[Variable, NamedNode | Literal]:
    """Check every given value against its parameter and turn it into an RDF term.

    :raises BadParameter: naming the parameter and what it expects (also for unknown parameters).
    """
    known = {p.name for p in query.params}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BadParameter(f"{query.name} has no parameter(s) {', '.join(unknown)}",
                           extra={"parameters": sorted(known)})
    bound: dict[Variable, NamedNode | Literal] = {}
    for parameter in query.params:
        raw = values.get(parameter.name)
        if raw is None or raw == "":
            raw = parameter.default
        if raw is None:
            if parameter.required:
                raise BadParameter(f"parameter {parameter.name!r} ({parameter.type}) is required",
                                   extra={"parameter": parameter.name})
            continue
        bound[Variable(parameter.name)] = term_for(store, parameter, raw)
    return bound


def term_for(store: Store, parameter: Parameter, raw: str) -> NamedNode | Literal:
    """One value as the RDF term its type calls for."""
    raw = raw.strip()
    kind = parameter.type

    def bad(expected: str) -> BadParameter:
        return BadParameter(f"parameter {parameter.name!r} expects {expected}, got {raw!r}",
                            extra={"parameter": parameter.name, "expected": expected})

    if parameter.allowed and raw not in parameter.allowed:
        raise BadParameter(f"parameter {parameter.name!r} must be one of {', '.join(parameter.allowed)}",
                           extra={"parameter": parameter.name, "allowed": list(parameter.allowed)})
    if kind in ("city", "country", "network"):
        return resolve(store, kind, raw, parameter=parameter.name)
    if kind == "iri":
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]*$", raw):
            raise bad("an absolute IRI")
        return NamedNode(raw)
    if kind == "integer":
        if not re.match(r"^[+-]?\d{1,18}$", raw):
            raise bad("an integer")
        return Literal(str(int(raw)), datatype=XSD.integer)
    if kind == "decimal":
        if not re.match(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", raw):
            raise bad("a decimal number such as 31.23")
        return Literal(raw, datatype=XSD.decimal)
    if kind == "date":
        if not DATE.match(raw):
            raise bad("a date: YYYY, YYYY-MM or YYYY-MM-DD")
        datatype = {4: XSD.gYear, 7: XSD.gYearMonth, 10: XSD.date}[len(raw)]
        return Literal(raw, datatype=datatype)
    if kind == "language":
        if not LANGUAGE.match(raw):
            raise bad("a language tag such as zh, en or ru")
        return Literal(raw.lower())
    if len(raw) > 500:
        raise bad("a string of at most 500 characters")
    return Literal(raw)
