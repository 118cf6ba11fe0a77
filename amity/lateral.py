"""``LATERAL`` (an Oxigraph extension, proposed for SPARQL 1.2) in a form other SPARQL 1.1 stores accept.

Amity's saved queries use ``L LATERAL { P }`` to make pyoxigraph evaluate ``P`` once per solution of ``L``,
starting from the values ``L`` bound: a planning hint that turns whole-graph scans into lookups. Virtuoso,
Fuseki and the others do not parse the keyword, so a remote store receives ``P``'s content spliced into
the enclosing group (keyword and braces removed). For the shape the catalogue uses — triple patterns,
``OPTIONAL``, ``GRAPH``, ``FILTER`` and ``BIND`` over variables of ``L`` — the answer is the same: a
``FILTER`` at the top of ``P`` then filters the enclosing group, which holds ``L``'s bindings, and an
``OPTIONAL`` in ``P`` is a left join onto them. What cannot be spliced is a correlated part of ``P`` whose
own nested group reads ``L``'s variables (a ``UNION`` branch guarded by ``{ FILTER(?hops = 2) }``, a
subquery): standard SPARQL evaluates such a group on its own, so ``twinning-chain`` ships a standard
version of itself (``docs/remote-store.md`` §7).

>>> splice_lateral("SELECT * { ?a <p> ?b LATERAL { ?b <q> ?c FILTER(?c != ?a) } }")
'SELECT * { ?a <p> ?b .  ?b <q> ?c FILTER(?c != ?a)  }'
"""

from __future__ import annotations

from amity.sparql_text import tokens


def has_lateral(text: str) -> bool:
    return any(tok.kind == "word" and tok.text.upper() == "LATERAL" for tok in tokens(text))


def splice_lateral(text: str) -> str:
    """``text`` with each ``LATERAL { P }`` replaced by ``P``, innermost first."""
    while True:
        toks = tokens(text)
        found = None
        for i, tok in enumerate(toks[:-1]):
            if tok.kind == "word" and tok.text.upper() == "LATERAL" and toks[i + 1].kind == "open":
                found = i
        if found is None:
            return text
        opening = toks[found + 1]
        closing = next((t for t in toks[found + 2:] if t.kind == "close" and t.depth == opening.depth), None)
        if closing is None:
            return text  # unbalanced: let the store's parser report it
        # A triple pattern before the keyword needs its "." once the braces are gone ("?a <p> ?b ?b <q> ?c"
        # does not parse); after "{", "." or a group the separator is optional or already there.
        before = toks[found - 1].text if found else "{"
        separator = " ." if before not in ("{", ".", "}") else ""
        text = text[:toks[found].start].rstrip() + separator + " " + text[opening.end:closing.start] \
            + text[closing.end:]
