"""Derived triples: shortcuts materialised from the n-ary nodes, rebuilt on every build.

They live in their own graph so they can be dropped and recomputed, and so a
consumer can tell a stated fact from a convenience.
"""

from __future__ import annotations

from pyoxigraph import Store

from amity import iris

DERIVED_GRAPH = iris.graph("derived")

#: One SPARQL Update per derivation; each runs as one transaction.
DERIVATIONS: dict[str, str] = {
    # A formal, not-ended twinning gives the symmetric shortcut both ways.
    "twinnedWith": f"""
        PREFIX cdo: <{iris.ONTOLOGY}>
        PREFIX schema: <http://schema.org/>
        INSERT {{ GRAPH <{DERIVED_GRAPH}> {{ ?a cdo:twinnedWith ?b }} }}
        WHERE {{
          ?t a cdo:Twinning ; cdo:status <{iris.concept("twinning-status", "formal")}> ;
             cdo:party ?a, ?b .
          FILTER(?a != ?b)
          FILTER NOT EXISTS {{ ?t schema:endDate ?end }}
        }}""",
    # Every membership gives the member → organisation shortcut.
    "memberOf": f"""
        PREFIX org: <http://www.w3.org/ns/org#>
        INSERT {{ GRAPH <{DERIVED_GRAPH}> {{ ?member org:memberOf ?organisation }} }}
        WHERE {{ ?m a org:Membership ; org:member ?member ; org:organization ?organisation . }}""",
}


def materialise(store: Store) -> dict[str, int]:
    """Recompute the derived graph from what the store holds; return counts per derivation.

    pyoxigraph's ``update`` has no union-default-graph switch, so each update
    names every source graph with ``USING``, which makes their merge the
    WHERE clause's default graph, as the endpoint's queries see it.
    """
    store.update(f"DROP SILENT GRAPH <{DERIVED_GRAPH}>")
    using = " ".join(
        f"USING <{g.value}>" for g in sorted(store.named_graphs(), key=lambda g: g.value)
        if g.value != DERIVED_GRAPH
    )
    counts: dict[str, int] = {}
    before = 0
    for name, update in DERIVATIONS.items():
        insert, _, where = update.partition("WHERE {")
        store.update(f"{insert} {using} WHERE {{{where}")
        after = _count(store)
        counts[name] = after - before
        before = after
    return counts


def _count(store: Store) -> int:
    result = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{DERIVED_GRAPH}> {{ ?s ?p ?o }} }}")
    return int(next(iter(result))["n"].value)
