"""A lexical look at SPARQL text: its form, its SERVICE calls and its top-level LIMIT.

pyoxigraph parses and runs queries but exposes no parsed query object, and
rdflib's full parser costs 1.4–19 ms a query (``shared/design/tech.md``), more
than the whole budget of a small query. What the endpoint must know before it
runs a query only needs tokens: which keywords stand outside strings, IRIs and
comments, and at which brace depth. pyoxigraph still does the real parsing and
reports syntax errors with their position.

>>> scan("SELECT * { ?s ?p 'SERVICE' }").form
'SELECT'
>>> scan("SELECT * { SERVICE <http://x/sparql> { ?s ?p ?o } }").services
['http://x/sparql']
>>> with_row_cap("SELECT * { ?s ?p ?o }", 100).text
'SELECT * { ?s ?p ?o } LIMIT 100'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<pname>[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*:[\w.\-:%\\\u00B7-\uFFFF]*|:[\w.\-:%\\\u00B7-\uFFFF]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+)
  | (?P<open>\{)
  | (?P<close>\})
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
)


class Token(NamedTuple):
    """A named tuple rather than a dataclass: a query has hundreds of tokens and this is made per request."""

    kind: str
    text: str
    start: int
    end: int
    depth: int


@dataclass
class Scan:
    """What the endpoint needs to know about a request before running it."""

    text: str
    tokens: list[Token]
    form: str | None = None  # SELECT, CONSTRUCT, DESCRIBE, ASK, or UPDATE
    services: list[str] = field(default_factory=list)  # endpoint IRIs; "?var" for a variable endpoint
    update_operations: list[str] = field(default_factory=list)
    has_from: bool = False
    nesting: int = 0  # deepest nesting of {}, () and [] outside strings, IRIs and comments


def tokens(text: str) -> list[Token]:
    """Tokens with their brace depth; whitespace and comments dropped."""
    out: list[Token] = []
    depth = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        if kind == "close":
            depth = max(depth - 1, 0)
        out.append(Token(kind, match.group(), match.start(), match.end(), depth))
        if kind == "open":
            depth += 1
    return out


def scan(text: str) -> Scan:
    """Classify a query or update and list the SERVICE endpoints it would call."""
    toks = tokens(text)
    result = Scan(text, toks)
    level = 0
    for i, tok in enumerate(toks):
        if tok.text in ("{", "(", "["):
            level += 1
            result.nesting = max(result.nesting, level)
        elif tok.text in ("}", ")", "]"):
            level = max(level - 1, 0)
        if tok.kind != "word":
            continue
        word = tok.text.upper()
        if result.form is None and word in QUERY_FORMS:
            result.form = word
        elif result.form is None and word in UPDATE_KEYWORDS:
            result.form = "UPDATE"
        if word in UPDATE_KEYWORDS and tok.depth == 0:
            result.update_operations.append(word)
        if word == "FROM" and tok.depth == 0:
            result.has_from = True
        if word == "SERVICE":
            j = i + 1
            if j < len(toks) and toks[j].text.upper() == "SILENT":
                j += 1
            if j < len(toks):
                target = toks[j]
                if target.kind == "iri":
                    result.services.append(target.text[1:-1])
                elif target.kind == "var":
                    result.services.append(target.text)
                else:  # a prefixed name: resolved by the parser, so treat it as unknown
                    result.services.append(target.text)
    return result


#: Tokens that are constants of a query: queries differing only in them usually cost about the same.
_CONSTANTS = {"iri": "<>", "string": "''", "number": "0"}


def shape(toks: list[Token]) -> str:
    """The query with its constants blanked, as a key for what queries of this kind have cost before.

    >>> shape(tokens("SELECT ?l { <http://x/a> ?p 'Rome' } LIMIT 5"))
    "SELECT ?l { <> ?p '' } LIMIT 0"
    """
    return " ".join(_CONSTANTS.get(tok.kind, tok.text) for tok in toks)


@dataclass(frozen=True)
class Capped:
    text: str
    cap_applied: bool  # True when the cap may cut the results


def with_row_cap(text: str, cap: int, *, tokenized: list[Token] | None = None) -> Capped:
    """Make the query's top-level LIMIT at most ``cap``.

    A top-level LIMIT is one at brace depth 0 (a subquery's sits deeper). It is
    lowered when larger than ``cap`` and added when absent, before a trailing
    ``VALUES`` block if there is one. ASK queries are left alone.

    >>> with_row_cap("SELECT * { ?s ?p ?o } LIMIT 5", 100).text
    'SELECT * { ?s ?p ?o } LIMIT 5'
    >>> with_row_cap("SELECT * { ?s ?p ?o } LIMIT 500", 100).text
    'SELECT * { ?s ?p ?o } LIMIT 100'
    >>> with_row_cap("SELECT * { ?s ?p ?o } VALUES ?s { <a:b> }", 10).text
    'SELECT * { ?s ?p ?o } LIMIT 10 VALUES ?s { <a:b> }'

    ``tokenized`` are the text's tokens when the caller has them already (one pass per query).
    """
    toks = tokenized if tokenized is not None else tokens(text)
    forms = [t.text.upper() for t in toks if t.kind == "word" and t.text.upper() in QUERY_FORMS]
    if not forms or forms[0] == "ASK":
        return Capped(text, False)
    top_level = [t for t in toks if t.depth == 0]
    for i, tok in enumerate(top_level):
        if tok.kind == "word" and tok.text.upper() == "LIMIT" and i + 1 < len(top_level):
            number = top_level[i + 1]
            if number.kind == "number":
                if int(number.text) <= cap:
                    return Capped(text, False)
                return Capped(text[: number.start] + str(cap) + text[number.end:], True)
    insert_at = len(text.rstrip())
    # A trailing VALUES block: the last depth-0 VALUES keyword after the last depth-0 '}' of the query body.
    values = [t for t in top_level if t.kind == "word" and t.text.upper() == "VALUES"]
    if values:
        last_values = values[-1]
        body_closes = [t for t in top_level if t.kind == "close" and t.start < last_values.start]
        if body_closes:
            insert_at = last_values.start
            return Capped(text[:insert_at].rstrip() + f" LIMIT {cap} " + text[insert_at:], True)
    return Capped(text[:insert_at] + f" LIMIT {cap}" + text[insert_at:], True)


#: Words that end an ORDER BY clause when they follow a complete condition.
_AFTER_ORDER = frozenset({"LIMIT", "OFFSET", "VALUES"})


def _closing(toks: list[Token], i: int) -> int | None:
    """The index of the ``)`` that closes the ``(`` at ``toks[i]``."""
    level = 0
    for j in range(i, len(toks)):
        if toks[j].text == "(":
            level += 1
        elif toks[j].text == ")":
            level -= 1
            if level == 0:
                return j
    return None


def _order_conditions(toks: list[Token], i: int) -> list[tuple[str, int, int, int, int]]:
    """The conditions of the ORDER BY clause whose conditions start at ``toks[i]``.

    Each is (direction, start and end of the condition in the text, start and end of its expression).
    """
    conditions = []
    while i < len(toks):
        tok = toks[i]
        opens = i + 1 < len(toks) and toks[i + 1].text == "("
        if tok.kind == "var":
            conditions.append(("ASC", tok.start, tok.end, tok.start, tok.end))
            i += 1
            continue
        if tok.kind == "word" and tok.text.upper() in ("ASC", "DESC") and opens:
            close = _closing(toks, i + 1)
            if close is None:
                break
            conditions.append((tok.text.upper(), tok.start, toks[close].end, toks[i + 1].end, toks[close].start))
        elif tok.text == "(" or (tok.kind in ("word", "iri", "pname") and opens
                                 and tok.text.upper() not in _AFTER_ORDER):
            close = _closing(toks, i if tok.text == "(" else i + 1)
            if close is None:
                break
            conditions.append(("ASC", tok.start, toks[close].end, tok.start, toks[close].end))
        else:
            break
        i = close + 1
    return conditions


def with_total_order(text: str) -> str | None:
    """The query with each ORDER BY condition preceded by the kind and the datatype of its value, or None
    when it has no ORDER BY.

    SPARQL leaves the order between values of different kinds undefined (a number and a string have no
    ``<``), and pyoxigraph 0.5.13 aborts when its sort meets such values in an order that is not total
    ("user-provided comparison function does not correctly implement a total order"). Sorting by kind
    (unbound, blank node, IRI, number, other literal) and then by datatype first keeps every order that
    SPARQL defines and leaves the engine only values it can compare.

    >>> with_total_order("SELECT ?o { ?s ?p ?o } ORDER BY ?o LIMIT 5")  # doctest: +ELLIPSIS
    'SELECT ?o { ?s ?p ?o } ORDER BY ASC(COALESCE(IF(isBLANK(?o), 1, ...), 0)) ASC(...) ASC(?o) LIMIT 5'
    """
    toks = tokens(text)
    edits: list[tuple[int, int, str]] = []
    for i in range(len(toks) - 1):
        if toks[i].kind == "word" and toks[i].text.upper() == "ORDER" and toks[i + 1].text.upper() == "BY":
            for direction, start, end, expr_start, expr_end in _order_conditions(toks, i + 2):
                expr = text[expr_start:expr_end]
                kind = f"COALESCE(IF(isBLANK({expr}), 1, IF(isIRI({expr}), 2, IF(isNUMERIC({expr}), 3, 4))), 0)"
                datatype = f"COALESCE(IF(isNUMERIC({expr}), \"\", STR(DATATYPE({expr}))), \"\")"
                edits.append((start, end, f"{direction}({kind}) {direction}({datatype}) {direction}({expr})"))
    if not edits:
        return None
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text
