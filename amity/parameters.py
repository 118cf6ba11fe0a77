"""Parameter values of saved queries: checked against their type and turned into RDF terms.

What people type becomes the term a query is bound with: a city's name in any
language becomes its IRI (through :mod:`amity.resolve`), ``2018`` an
``xsd:gYear``, ``trade`` the concept of the field it names. Every refusal names
the parameter and what it expects, so the page, the API and the command line
can say exactly what to fix.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pyoxigraph import Literal, NamedNode, Store, Variable

from amity.ns import PREFIXES, XSD
from amity.problems import BadParameter
from amity.resolve import resolve

if TYPE_CHECKING:
    from amity.catalogue import Parameter, SavedQuery

LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

# The store handle is kept with its answer so that a recycled id() never serves another snapshot's values.
_allowed_cache: dict[tuple[int, str], tuple[Store, list[tuple[str, str]]]] = {}
_allowed_lock = threading.Lock()


def allowed_values(store: Store, parameter: Parameter) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a parameter's dropdown: its list, or what its query returns.

    Query answers are cached per store handle (a new snapshot is a new handle).
    """
    if parameter.allowed:
        return [(v, v) for v in parameter.allowed]
    if not parameter.allowed_query:
        return []
    key = (id(store), parameter.allowed_query)
    with _allowed_lock:
        cached = _allowed_cache.get(key)
    if cached is not None and cached[0] is store:
        return cached[1]
    rows = store.query(parameter.allowed_query, prefixes=PREFIXES, use_default_graph_as_union=True)
    values: dict[str, str] = {}
    for row in rows:
        if row["value"] is not None:
            label = row["label"].value if row["label"] is not None else row["value"].value
            values.setdefault(row["value"].value, label)
    pairs = sorted(values.items(), key=lambda pair: (pair[1].casefold(), pair[0]))
    with _allowed_lock:
        if len(_allowed_cache) > 200:
            _allowed_cache.clear()
        _allowed_cache[key] = (store, pairs)
    return pairs


def bind(store: Store, query: SavedQuery, values: Mapping[str, str]) -> dict[Variable, NamedNode | Literal]:
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
        if raw is None or raw.strip() == "":
            raw = parameter.default
        if raw is None:
            if parameter.required:
                raise BadParameter(f"parameter {parameter.name!r} ({parameter.type}) is required",
                                   extra={"parameter": parameter.name})
            continue
        bound[Variable(parameter.name)] = term_for(store, parameter, raw)
    return bound


def term_for(store: Store, parameter: Parameter, raw: str) -> NamedNode | Literal:
    """One value as the RDF term its type calls for.

    :raises BadParameter: naming the parameter and what it expects.
    """
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
        if parameter.allowed_query:
            raw = pick_allowed(store, parameter, raw)
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
    if parameter.allowed_query:
        raw = pick_allowed(store, parameter, raw)
    return Literal(raw)


def pick_allowed(store: Store, parameter: Parameter, raw: str) -> str:
    """One of the allowed values, given as itself, its last IRI segment (``trade``) or its label.

    :raises BadParameter: listing the allowed values when none fits.
    """
    pairs = allowed_values(store, parameter)
    wanted = raw.casefold()
    for value, label in pairs:
        if raw == value or wanted in (re.split(r"[/#]", value)[-1].casefold(), label.casefold()):
            return value
    raise BadParameter(f"parameter {parameter.name!r} must be one of the listed values, got {raw!r}",
                       extra={"parameter": parameter.name, "allowed": [v for v, _ in pairs][:200]})
