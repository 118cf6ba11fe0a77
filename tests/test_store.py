"""The store: one writer, immutable snapshots for readers, nothing published by a failed write."""

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store

from amity.store import EmbeddedStore

G = NamedNode("https://w3id.org/citydiplomacy/graph/test")
P = NamedNode("http://example.org/p")


def quads(n, start=0):
    return [Quad(NamedNode(f"http://example.org/s{i}"), P, Literal(str(i)), G) for i in range(start, start + n)]


@pytest.fixture
def store(tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    master_dir, version = store.next_master_dir()
    master = Store(str(master_dir))
    master.bulk_extend(quads(100))
    store.publish_new_master(master, master_dir, version)
    del master
    return store


def test_a_published_build_is_readable(store):
    assert store.state().version == 1
    assert len(store.reader()) == 100


def test_a_write_publishes_a_new_snapshot_readers_switch_to(store):
    reader_before = store.reader()
    with store.writing() as master:
        master.extend(quads(5, start=100))
    assert store.state().version == 2
    assert len(reader_before) == 100, "an open snapshot never changes"
    assert len(store.reader()) == 105


def test_a_failed_write_publishes_nothing(store):
    with pytest.raises(RuntimeError), store.writing() as master:
        master.extend(quads(5, start=100))
        raise RuntimeError("validation failed")
    assert store.state().version == 1
    assert len(store.reader()) == 100


def test_an_update_error_writes_nothing(store):
    with pytest.raises(RuntimeError), store.writing() as master:
        master.update("INSERT DATA { GRAPH <http://example.org/g> { <http://a> <http://b> 1 } } ; "
                      "CREATE GRAPH <http://example.org/g>")
    assert len(store.reader()) == 100


def test_old_snapshots_are_collected(store):
    for i in range(8):
        with store.writing() as master:
            master.extend(quads(1, start=200 + i))
    snapshots = sorted(p.name for p in store.root.glob("snap-*"))
    assert len(snapshots) <= 5 and snapshots[-1] == "snap-000009"


def test_reading_before_any_build_says_what_to_do(tmp_path):
    from amity.problems import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="amity build"):
        EmbeddedStore(tmp_path / "empty").reader()
