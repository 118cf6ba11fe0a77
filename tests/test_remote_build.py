"""``amity build`` on a remote store: published in one commit, partner graphs left where they are.

The build derives and validates locally as it does for the embedded store, then publishes with the remote
store's bulk path (``amity/remote_publish.py``). A two-loader build keeps this quick; the whole default graph
is built into Virtuoso by ``benchmarks/stores.py``.
"""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode, Triple

from amity import iris
from amity.build import build
from amity.external import ExternalStore
from amity.problems import ServiceUnavailable
from tests.place_index_cache import real_index
from tests.remote_stores import client_for, reset

SMALL = ("loaders.ontology", "loaders.countries")
PARTNER_GRAPH = iris.partner_graph("unesco")


def context():
    from loaders.base import BuildContext

    ctx = BuildContext()
    ctx.places = real_index()
    return ctx


@pytest.fixture
def remote(scratch_virtuoso, tmp_path) -> ExternalStore:
    store = ExternalStore(client_for(scratch_virtuoso), tmp_path / "state", kind="virtuoso")
    reset(store)
    return store


def graph_sizes(store: ExternalStore) -> dict[str, int]:
    return {g.value: store.client.count(g.value) for g in store.client.named_graphs()}


def test_a_build_publishes_every_graph_it_made_as_one_version(remote):
    with pytest.raises(ServiceUnavailable):
        remote.reader()  # nothing to read before the first build
    report = build(remote, loaders=SMALL, workers=1, context=context())
    assert report.version == remote.version() == 1 and report.violations == 0
    sizes = graph_sizes(remote)
    for result in report.graphs:
        assert sizes[result.graph] == result.triples > 0, result.graph
    assert (remote.root / "reports" / "unmatched.tsv").is_file()  # reports go to the state directory
    assert remote.client.named_graphs(include_staging=True) == remote.client.named_graphs()  # no staging left


def test_a_rebuild_replaces_reference_graphs_drops_old_ones_and_keeps_partner_graphs(remote):
    build(remote, loaders=SMALL, workers=1, context=context())
    partner = [Triple(NamedNode(iris.country("FR")), NamedNode("http://www.w3.org/2004/02/skos/core#altLabel"),
                      Literal("Hexagone", language="fr"))]
    remote.client.put_graph(PARTNER_GRAPH, partner)
    retired = iris.graph("retired-source")  # a reference graph an earlier build made and this one does not
    remote.client.put_graph(retired, partner)
    before = graph_sizes(remote)

    report = build(remote, loaders=SMALL, workers=1, context=context())
    assert report.version == remote.version() == 2
    sizes = graph_sizes(remote)
    assert retired not in sizes  # dropped in the same commit as the new graphs
    assert sizes[PARTNER_GRAPH] == 1  # partner graphs are never rewritten by a build
    assert "partner unesco" in report.validation  # but revalidated with the new reference data
    assert {g: n for g, n in sizes.items() if g != PARTNER_GRAPH} == \
        {g: n for g, n in before.items() if g not in (PARTNER_GRAPH, retired)}
    assert not [g for g in remote.client.named_graphs(include_staging=True) if "/staging/" in g.value]
