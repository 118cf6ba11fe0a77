"""Pre-bound variables written into the query text, for stores that take no ``substitutions``.

pyoxigraph's ``Store.query(substitutions=…)`` follows SEP-0007: every occurrence of the variable, subqueries
included, takes the value, and the answer still binds it. The SPARQL protocol has no such parameter, so for a
remote store the bindings travel inside the query: a one-row ``VALUES`` block opens the query's ``WHERE``
(all bindings, so the answer carries them) and every nested group graph pattern that mentions a bound
variable (subqueries, ``OPTIONAL``, ``UNION`` branches, ``GRAPH``…; a subquery's ``WHERE`` counts what its
projection, ``GROUP BY`` and ``HAVING`` mention). Each group then joins with the values before its own
``FILTER``s and ``BIND``s run, which is what substitution gives; a ``VALUES`` only at the end of the query
would leave the variable unbound inside a subquery (``cities-near-point`` computes its distances in one) and
change the answer. Groups that mention none are left alone: Virtuoso evaluates an ``OPTIONAL`` label lookup
joined with unrelated values on its own, over every label (65 s instead of 1.5 s).

Inside ``EXISTS`` / ``NOT EXISTS`` the variables are replaced by their values instead, which is what the
standard does there (it evaluates the pattern with the enclosing solution substituted). Virtuoso 7.2 gets
both alternatives wrong: a ``VALUES`` block inside ``NOT EXISTS`` stops it filtering
(``countries-without-formal-partner`` gave 16 rows instead of 9), and a variable bound by the outer
``VALUES`` is lost inside ``EXISTS`` once the group has ``OPTIONAL``s (``members-of-network`` by country
gave none). Not touched: a ``CONSTRUCT`` template (``VALUES`` is no triple) and ``VALUES`` data blocks. A
group whose only content is a subquery cannot start with ``VALUES`` either; the subquery's own ``WHERE``
gets it.

>>> from pyoxigraph import NamedNode, Variable
>>> with_values("SELECT ?n { ?c <p> ?n }", {Variable("c"): NamedNode("http://x/c")})
'SELECT ?n { VALUES (?c) { (<http://x/c>) } ?c <p> ?n }'
"""

from __future__ import annotations

from collections.abc import Mapping

from pyoxigraph import BlankNode, Literal, NamedNode, Triple, Variable

from amity.sparql_text import Token, tokens

Term = NamedNode | BlankNode | Literal | Triple


def values_block(bindings: Mapping[Variable, Term]) -> str:
    """``VALUES (?a ?b) { (… …) }``, variables in name order.

    >>> values_block({Variable("b"): Literal("x", language="en"), Variable("a"): NamedNode("http://a")})
    'VALUES (?a ?b) { (<http://a> "x"@en) }'
    """
    names = sorted(bindings, key=lambda variable: variable.value)
    variables = " ".join(f"?{variable.value}" for variable in names)
    row = " ".join(str(bindings[variable]) for variable in names)
    return f"VALUES ({variables}) {{ ({row}) }}"


def _after_block(toks: list[Token], open_index: int) -> int:
    """The index after the ``}`` that closes the ``{`` at ``open_index``."""
    depth = toks[open_index].depth
    for k in range(open_index + 1, len(toks)):
        if toks[k].kind == "close" and toks[k].depth == depth:
            return k + 1
    return len(toks)


def _is_word(tok: Token | None, word: str) -> bool:
    return tok is not None and tok.kind == "word" and tok.text.upper() == word


def _expand_construct_where(text: str, toks: list[Token]) -> str | None:
    """``CONSTRUCT WHERE { P }`` as ``CONSTRUCT { P } WHERE { P }`` (its group is also its template)."""
    for i, tok in enumerate(toks[:-2]):
        if _is_word(tok, "CONSTRUCT") and _is_word(toks[i + 1], "WHERE") and toks[i + 2].kind == "open":
            end = _after_block(toks, i + 2) - 1
            pattern = text[toks[i + 2].end:toks[end].start]
            return text[:tok.end] + " {" + pattern + "}" + text[tok.end:]
    return None


def with_values(text: str, bindings: Mapping[Variable, Term]) -> str:
    """``text`` with the bindings as a ``VALUES`` block at the start of every group graph pattern."""
    if not bindings:
        return text
    toks = tokens(text)
    expanded = _expand_construct_where(text, toks)
    if expanded is not None:
        text, toks = expanded, tokens(expanded)
    by_name = {variable.value: variable for variable in bindings}
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), applied from the end
    subselects: list[tuple[int, int]] = []  # (index of the "{" before SELECT, index after its "}")
    i = 0
    while i < len(toks):
        tok = toks[i]
        following = toks[i + 1] if i + 1 < len(toks) else None
        if _is_word(tok, "VALUES") or ((_is_word(tok, "CONSTRUCT") or _is_word(tok, "EXISTS"))
                                       and following is not None and following.kind == "open"):
            j = i + 1
            while j < len(toks) and toks[j].kind != "open":
                j += 1
            end = _after_block(toks, j) if j < len(toks) else j
            if _is_word(tok, "EXISTS"):  # substitution, as the standard defines EXISTS
                edits += [(t.start, t.end, str(bindings[by_name[t.text[1:]]])) for t in toks[j:end]
                          if t.kind == "var" and t.text[1:] in by_name]
            i = end
            continue
        if tok.kind == "open" and _is_word(following, "SELECT"):
            subselects.append((i, _after_block(toks, i)))
        elif tok.kind == "open":
            if tok.depth == 0:  # the query's own WHERE: every binding, so the answer carries them all
                wanted = list(bindings)
            else:
                # A subquery's WHERE answers for the whole subquery (its GROUP BY, HAVING, projection).
                start, end = next(((w, e) for w, e in subselects if w < i < e and toks[w].depth == tok.depth - 1),
                                  (i, _after_block(toks, i)))
                inside = {t.text[1:] for t in toks[start + 1:end] if t.kind == "var"}
                wanted = [by_name[name] for name in sorted(inside & by_name.keys())]
            if wanted:
                edits.append((tok.end, tok.end, " " + values_block({v: bindings[v] for v in wanted})))
        i += 1
    if not any(start == end for start, end, _ in edits):  # DESCRIBE <iri> without a WHERE
        return text.rstrip() + " " + values_block(bindings)
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
