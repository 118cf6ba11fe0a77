"""Saved queries: ``queries/*.rq`` files with a YAML header, typed parameters bound as RDF terms.

A saved query is an ordinary SPARQL file that runs unchanged in any client.
Its leading ``#+`` comment lines hold YAML (grlc's convention)::

    #+ title: Twinnings of a city
    #+ description: Every twinning of the city, with type, status and dates.
    #+ tags: [twinning, city]
    #+ params:
    #+   city: {type: city, description: the city, default: Qingdao, example: Q16572}
    #+ map: {lat: lat, long: long, label: partnerLabel}

Each parameter is a variable of the query (``?city``). A value is checked
against its type, turned into an RDF term and passed to pyoxigraph as a
substitution: it is never pasted into the query text. pyoxigraph only
substitutes variables of the top-level projection, so every parameter must be
selected (``SELECT ?city …``); :func:`parse_saved_query` refuses a file that
forgets one. A parameter that is not given stays unbound. pyoxigraph 0.5.13
plans ``BOUND(?p)`` and ``BIND(?p AS ?q)`` as if a parameter seen only in
expressions were never bound, even when it is substituted, so an optional
parameter is tested with ``COALESCE(?p, "") = "" || …`` (or used as
``COALESCE(?p, default)``); the parser refuses the two forms that misbehave.

The command line, the web pages and the API all answer through :func:`run`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from amity import formats
from amity.parameters import DATE, LANGUAGE, allowed_values, bind, pick_allowed, term_for
from amity.problems import BadParameter, NotFound
from amity.sparql_text import QUERY_FORMS, tokens

if TYPE_CHECKING:
    from amity.external import ExternalStore
    from amity.service import Amity
    from amity.sparql import Prepared
    from amity.store import EmbeddedStore

__all__ = ["DATE", "LANGUAGE", "Answer", "Parameter", "SavedQuery", "allowed_values", "bind", "get",
           "load_catalogue", "page_bounds", "parse_saved_query", "pick_allowed", "run", "term_for",
           "with_window"]

QUERY_DIR = Path(__file__).resolve().parent.parent / "queries"
STANDARD_DIR = "standard"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TYPES = ("city", "country", "network", "iri", "string", "language", "integer", "decimal", "date")
#: Request parameters the catalogue itself answers to; a saved query may not name a parameter so.
RESERVED = frozenset({"limit", "offset", "format", "download"})
#: Display hints a header may carry, with the columns each one names.
HINTS = {"map": ("lat", "long"), "chart": ("x", "y"), "network": ("source", "target")}
#: A network hint may instead name a ``path``: a list of columns, each row a chain through them.
MAX_LIMIT = 10_000


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
        return {"name": self.name, "type": self.type, "description": self.description,
                "default": self.default, "example": self.example, "allowed": list(self.allowed),
                "required": self.required}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    text: str
    params: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # display hints (map, chart, network) and more
    #: ``queries/standard/{name}.rq``: the same query in standard SPARQL 1.1, for a remote store, where the
    #: saved text needs an Oxigraph extension no splice can replace (see :mod:`amity.lateral`).
    standard: str | None = None

    def text_for(self, remote: bool) -> str:
        """The text to run: the standard version on a remote store when there is one."""
        return self.standard if remote and self.standard else self.text

    @property
    def form(self) -> str:
        from amity.sparql_text import scan

        return scan(self.text).form or "SELECT"

    @property
    def offered(self) -> tuple[formats.Format, ...]:
        """The formats this query's answer comes in, default first."""
        return formats.RESULTS if self.form in ("SELECT", "ASK") else formats.GRAPHS

    def hint(self, kind: str) -> dict[str, Any] | None:
        """A display hint from the header (``map``, ``chart`` or ``network``), if there is one."""
        value = self.extra.get(kind)
        return dict(value) if isinstance(value, dict) else None

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
        return {"name": self.name, "title": self.title, "description": self.description,
                "tags": list(self.tags), "params": [p.to_dict() for p in self.params], "query": self.text,
                **self.extra}


def projection(text: str) -> set[str] | None:
    """The variables a SELECT query projects (None for ``SELECT *`` or another form).

    >>> sorted(projection("SELECT ?a (COUNT(?b) AS ?n) WHERE { ?a ?p ?b } GROUP BY ?a"))
    ['a', 'n']
    >>> projection("SELECT * { ?s ?p ?o }") is None
    True
    """
    toks = tokens(text)
    start = next((i for i, t in enumerate(toks) if t.kind == "word" and t.text.upper() in QUERY_FORMS), None)
    if start is None or toks[start].text.upper() != "SELECT":
        return None
    names: set[str] = set()
    parens = 0
    for i in range(start + 1, len(toks)):
        tok = toks[i]
        if tok.kind == "open" or (tok.kind == "word" and tok.text.upper() in ("WHERE", "FROM")):
            break
        if tok.text == "*" and parens == 0:
            return None
        if tok.text == "(":
            parens += 1
        elif tok.text == ")":
            parens -= 1
        elif tok.kind == "var" and (parens == 0 or toks[i - 1].text.upper() == "AS"):
            names.add(tok.text[1:])
    return names


def _misused_parameters(text: str, names: set[str]) -> str | None:
    """``BOUND(?p)`` or ``BIND(?p AS …)`` on a parameter, which pyoxigraph plans as unbound.

    >>> _misused_parameters("SELECT ?p { FILTER(!BOUND(?p)) }", {"p"})
    'BOUND(?p)'
    >>> _misused_parameters('SELECT ?p { FILTER(COALESCE(?p, "") = "") }', {"p"}) is None
    True
    """
    toks = tokens(text)
    for i in range(len(toks) - 3):
        word, paren, var = toks[i], toks[i + 1], toks[i + 2]
        if word.kind != "word" or paren.text != "(" or var.kind != "var" or var.text[1:] not in names:
            continue
        if word.text.upper() == "BOUND":
            return f"BOUND({var.text})"
        if word.text.upper() == "BIND" and toks[i + 3].text.upper() == "AS":
            return f"BIND({var.text} AS …)"
    return None


def parse_saved_query(path: Path) -> SavedQuery:
    """Read one ``.rq`` file; its stem is its name everywhere (URL, command line, tests).

    :raises ValueError: for a header a maintainer must fix (named in the message).
    """
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
        if param_name in RESERVED:
            raise ValueError(f"{path}: {param_name!r} is reserved for paging and formats; "
                             "rename the parameter")
        params.append(Parameter(
            name=param_name, type=kind, description=str(spec.get("description", "")),
            default=None if spec.get("default") is None else str(spec["default"]),
            example=None if spec.get("example") is None else str(spec["example"]),
            allowed=tuple(str(v) for v in spec.get("allowed", ()) or ()),
            allowed_query=spec.get("allowed_query"), required=bool(spec.get("required", False)),
        ))
    text = "\n".join(body_lines).strip() + "\n"
    projected = projection(text)
    missing = [p.name for p in params if projected is not None and p.name not in projected]
    if missing:
        raise ValueError(f"{path}: parameters must be selected to be bound (pyoxigraph substitutes only "
                         f"projected variables): add {', '.join('?' + m for m in missing)} to the SELECT")
    misused = _misused_parameters(text, {p.name for p in params})
    if misused:
        raise ValueError(f"{path}: {misused} does not see a substituted parameter in pyoxigraph 0.5.13; "
                         'write COALESCE(?p, "") = "" to test whether it was given')
    extra = {k: v for k, v in header.items() if k not in ("title", "description", "params", "tags")}
    for kind, needed in HINTS.items():
        hint = extra.get(kind)
        if kind == "network" and isinstance(hint, dict) and isinstance(hint.get("path"), list):
            continue
        if hint is not None and not (isinstance(hint, dict) and all(k in hint for k in needed)):
            raise ValueError(f"{path}: the {kind} hint needs {' and '.join(needed)}")
    standard_path = path.parent / STANDARD_DIR / path.name
    standard = standard_path.read_text(encoding="utf-8") if standard_path.is_file() else None
    if standard is not None and projection(standard) != projected:
        raise ValueError(f"{standard_path}: the standard version must select what {path.name} selects")
    return SavedQuery(name, str(header["title"]), str(header["description"]).strip(), text, tuple(params),
                      tuple(header.get("tags", ()) or ()), path, extra, standard)


@functools.cache
def _load(directory: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[SavedQuery, ...]:
    return tuple(parse_saved_query(path) for path in sorted(directory.glob("*.rq")))


def load_catalogue(directory: Path = QUERY_DIR) -> tuple[SavedQuery, ...]:
    """Every saved query, re-read when a file changes (so a maintainer's new ``.rq`` shows up at once)."""
    stamp = tuple((str(p.relative_to(directory)), p.stat().st_mtime_ns)
                  for p in sorted([*directory.glob("*.rq"), *directory.glob(f"{STANDARD_DIR}/*.rq")]))
    return _load(directory, stamp)


def get(name: str, directory: Path = QUERY_DIR) -> SavedQuery:
    """:raises NotFound: for a name that is not in the catalogue (also for names like ``../x``)."""
    if not NAME.match(name):
        raise NotFound(f"there is no saved query called {name!r}")
    for query in load_catalogue(directory):
        if query.name == name:
            return query
    raise NotFound(f"there is no saved query called {name!r}",
                   extra={"catalogue": [q.name for q in load_catalogue(directory)]})


# -- running ------------------------------------------------------------------------------------------


def with_window(text: str, limit: int | None, offset: int) -> str:
    """The query with its top-level LIMIT/OFFSET narrowed to one page of its own answer.

    A LIMIT or OFFSET the query already has is kept in force: the page is cut out of it.

    >>> with_window("SELECT * { ?s ?p ?o } ORDER BY ?s", 10, 20)
    'SELECT * { ?s ?p ?o } ORDER BY ?s LIMIT 10 OFFSET 20'
    >>> with_window("SELECT * { ?s ?p ?o } LIMIT 25 OFFSET 5", 10, 20)
    'SELECT * { ?s ?p ?o } LIMIT 5 OFFSET 25'
    """
    if limit is None and offset == 0:
        return text
    toks = tokens(text)
    old_limit: int | None = None
    old_offset = 0
    cut: list[tuple[int, int]] = []
    for i, tok in enumerate(toks):
        if tok.depth == 0 and tok.kind == "word" and tok.text.upper() in ("LIMIT", "OFFSET") \
                and i + 1 < len(toks) and toks[i + 1].kind == "number":
            number = int(toks[i + 1].text)
            if tok.text.upper() == "LIMIT":
                old_limit = number
            else:
                old_offset = number
            cut.append((tok.start, toks[i + 1].end))
    for start, end in reversed(cut):
        text = text[:start].rstrip() + text[end:]
    new_offset = old_offset + offset
    new_limit = limit
    if old_limit is not None:
        remaining = max(old_limit - offset, 0)
        new_limit = remaining if limit is None else min(limit, remaining)
    clause = (f" LIMIT {new_limit}" if new_limit is not None else "") \
        + (f" OFFSET {new_offset}" if new_offset else "")
    insert_at = len(text.rstrip())
    top = [t for t in tokens(text) if t.depth == 0]
    values = [t for t in top if t.kind == "word" and t.text.upper() == "VALUES"]
    if values and any(t.kind == "close" and t.start < values[-1].start for t in top):
        insert_at = values[-1].start
        return text[:insert_at].rstrip() + clause + " " + text[insert_at:]
    return text[:insert_at] + clause + text[insert_at:]


@dataclass
class Answer:
    """One run of a saved query: its bytes as they stream, and what a page needs to link onwards."""

    query: SavedQuery
    prepared: Prepared
    chunks: Iterator[bytes]
    values: dict[str, str]  # the parameter values used, defaults filled in
    limit: int | None = None
    offset: int = 0
    has_more: bool = False

    @property
    def format(self) -> formats.Format:
        return self.prepared.format


def page_bounds(limit: str | int | None, offset: str | int | None) -> tuple[int | None, int]:
    """``limit``/``offset`` request values as numbers.

    :raises BadParameter: for anything but whole numbers in range.
    """
    def number(name: str, raw: str | int | None, low: int, high: int) -> int | None:
        if raw is None or raw == "":
            return None
        if not re.match(r"^\d{1,9}$", str(raw).strip()) or not low <= int(raw) <= high:
            raise BadParameter(f"parameter {name!r} expects a whole number from {low} to {high}, got {raw!r}",
                               extra={"parameter": name, "expected": f"integer {low}..{high}"})
        return int(raw)

    return number("limit", limit, 1, MAX_LIMIT), number("offset", offset, 0, 10**9) or 0


def run(target: Amity | EmbeddedStore | ExternalStore, name: str, params: Mapping[str, str], fmt: str | None = None, *,
        accept: str | None = None, limit: int | None = None, offset: int = 0) -> Answer:
    """Run saved query ``name`` with ``params``: the one call behind the CLI, the pages and the API.

    ``target`` is the running service (queries go to its worker processes) or a
    bare store (the command line: evaluated here). ``fmt`` is a format name or
    extension; without it ``accept`` is negotiated. With ``limit``, one page is
    answered and :attr:`Answer.has_more` says whether another follows.

    :raises NotFound: for an unknown query.
    :raises BadParameter: for an unknown parameter or a value that does not fit its type.
    :raises NotAcceptable: for a format the query cannot answer in.
    """
    from amity import sparql
    from amity.service import Amity
    from amity.stores import is_external

    query = get(name)
    service = target if isinstance(target, Amity) else None
    handle = service.store if service is not None else target
    store = handle.reader()  # type: ignore[union-attr]
    text = query.text_for(remote=is_external(handle))
    bindings = sparql.encode_substitutions(bind(store, query, params))
    used = {p.name: (params.get(p.name) or p.default or "") for p in query.params}

    def execute(text: str, format_name: str | None,
                accept_header: str | None) -> tuple[Prepared, Iterator[bytes]]:
        if service is not None:
            prepared = service.prepare(text, format_name=format_name, accept=accept_header,
                                       substitutions=bindings)
            return prepared, service.run(prepared)
        prepared = sparql.prepare(text, format_name=format_name, accept=accept_header, substitutions=bindings)
        return prepared, iter(list(sparql.run(store, prepared)))

    if fmt is not None:
        formats.by_name(fmt, query.offered)  # refuse an unsuitable format before any work
    if query.form == "ASK":
        limit, offset = None, 0
    has_more = False
    if limit is not None and query.form == "SELECT":
        # The probe goes first: its one-row answer frees its query process at once, while a large page streams
        # and holds one until it is read. Asked the other way round, one request held a process while waiting
        # for another, and with every process of its lane held that way it waited for itself (a 503 after 30 s).
        _, probe = execute(with_window(text, 1, offset + limit), "tsv", None)
        has_more = b"".join(probe).count(b"\n") > 1
    prepared, chunks = execute(with_window(text, limit, offset), fmt, accept)
    return Answer(query, prepared, chunks, used, limit, offset, has_more)
