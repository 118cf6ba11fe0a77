"""Derived triples: shortcuts materialised from the n-ary nodes, rebuilt on every build.

They live in their own graph so they can be dropped and recomputed, and so a
consumer can tell a stated fact from a convenience.
"""

from __future__ import annotations

from pyoxigraph import NamedNode, Quad, Store

from amity import iris

DERIVED_GRAPH = iris.graph("derived")

#: One CONSTRUCT per derivation, evaluated over the union of all graphs.
DERIVATIONS: dict[str, str] = {
    # A formal, not-ended twinning gives the symmetric shortcut both ways.
    "twinnedWith": f"""
        PREFIX cdo: <{iris.ONTOLOGY}>
        PREFIX schema: <http://schema.org/>
        CONSTRUCT {{ ?a cdo:twinnedWith ?b }}
        WHERE {{
          ?t a cdo:Twinning ; cdo:status <{iris.concept("twinning-status", "formal")}> ;
             cdo:party ?a, ?b .
          FILTER(?a != ?b)
          FILTER NOT EXISTS {{ ?t schema:endDate ?end }}
        }}""",
    # Every membership gives the member → organisation shortcut.
    "memberOf": """
        PREFIX org: <http://www.w3.org/ns/org#>
        CONSTRUCT { ?member org:memberOf ?organisation }
        WHERE { ?m a org:Membership ; org:member ?member ; org:organization ?organisation . }""",
}


def materialise(store: Store) -> dict[str, int]:
    """Recompute the derived graph from what the store holds; return counts per derivation.

    The shortcuts are computed over the union of all graphs (as the endpoint's
    queries see them) and written in one transaction, replacing the old ones.
    """
    derived = NamedNode(DERIVED_GRAPH)
    quads: list[Quad] = []
    counts: dict[str, int] = {}
    for name, construct in DERIVATIONS.items():
        triples = set(store.query(construct, use_default_graph_as_union=True))
        counts[name] = len(triples)
        quads.extend(Quad(t.subject, t.predicate, t.object, derived) for t in triples)
    # Two calls, but never two states anyone sees: writes go to a private copy published only when done.
    store.update(f"DROP SILENT GRAPH <{DERIVED_GRAPH}>")
    store.extend(sorted(quads, key=str))
    return counts
