"""Crash safety: a build killed at any point, or one that runs out of disk, leaves exactly the old graph or
exactly the new one in service, and the next build and ``amity serve`` work on what is left.

The build is the real ``amity build`` command (``amity.cli``) run in a
subprocess, killed with SIGKILL — no ``finally``, no ``atexit`` — at points
the test chooses: while loading, while validating, and at each step of
publishing (before the snapshot, after it, after ``CURRENT.tmp`` is written,
after ``CURRENT`` is replaced). This file is also the driver that subprocess
runs (``python tests/test_crash.py``): it swaps the bundled loaders for the
ontology plus a synthetic graph whose content depends on a generation number
(so old and new differ, and a build takes seconds, not minutes) and pauses at
the chosen point, writing a marker file so the test knows when to kill.

What survives is judged by the sorted N-Quads of the snapshot ``CURRENT``
names, compared with reference builds of the old and the new generation.
Store-level writes (``EmbeddedStore.writing``, which partner merges use) are
checked the same way; merge-specific crash tests come with the merge pipeline.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store

from amity.store import EmbeddedStore, clone
from amity.testing import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
CRASH_GRAPH = "https://w3id.org/citydiplomacy/graph/crash-test"
VALUE = "http://example.org/crash-test#value"
#: Kill points where the old graph must survive, and the one after which the new graph is published.
OLD, NEW = "old", "new"
COUNT_QUADS = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"


# -- the driver: run by the subprocess ----------------------------------------------------------------


def _pause(point: str) -> None:
    """Tell the test we are at ``point`` and wait to be killed."""
    Path(os.environ["AMITY_CRASH_MARKER"]).write_text(point)
    time.sleep(3600)
    raise SystemExit("not killed")


def _install_hooks(point: str, generation: int, size: int) -> None:
    import types

    import amity.build
    from amity import iris
    from amity.store import EmbeddedStore as Store_
    from loaders.base import BuildContext, Source

    def triples(ctx):
        for i in range(size):
            if point == "loading" and i == size // 2:
                _pause(point)
            yield (NamedNode(f"{iris.ID}crash-test/{i}"), NamedNode(VALUE),
                   Literal(f"generation {generation} item {i} " + "x" * (i % 50)))

    loader = types.ModuleType("crash_test_loader")
    loader.GRAPH = CRASH_GRAPH
    loader.SOURCE = Source(title="Crash test graph", url="https://example.org/crash-test",
                           licence="https://creativecommons.org/publicdomain/zero/1.0/", retrieved="2026-01-01",
                           attribution="tests/test_crash.py")
    loader.triples = triples
    sys.modules["crash_test_loader"] = loader
    # The synthetic graph never looks places up, so the (slow) reconciliation is skipped.
    amity.build.build.__kwdefaults__.update(loaders=("crash_test_loader",),
                                            context=BuildContext(places=object()))  # type: ignore[arg-type]

    def before(owner, name: str, when: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            if point == when:
                _pause(point)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)

    def paused_validation(*args, **kwargs):
        for i, result in enumerate(validate_groups(*args, **kwargs)):
            if i == 1:
                _pause(point)
            yield result

    validate_groups = amity.build.validate_groups
    if point == "validation":
        amity.build.validate_groups = paused_validation
    before(Store_, "publish_new_master", "before-snapshot")
    before(Store_, "_write_state", "after-snapshot")
    before(Store_, "_collect_old_snapshots", "after-current")
    replace = os.replace

    def replacing(src, dst, *args, **kwargs):
        if str(dst).endswith("CURRENT"):
            if point == "after-current-tmp":
                _pause(point)
            if point == "enospc-at-current":
                raise OSError(errno.ENOSPC, "No space left on device (injected)", str(dst))
        return replace(src, dst, *args, **kwargs)

    os.replace = replacing
    fsync = os.fsync

    def syncing(fd):
        if point == "enospc-at-fsync" and os.readlink(f"/proc/self/fd/{fd}").endswith("CURRENT.tmp"):
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return fsync(fd)

    os.fsync = syncing


def main() -> None:
    """``python tests/test_crash.py STORE`` — ``amity build --store STORE`` with the hooks of ``AMITY_CRASH_AT``."""
    from amity.cli import main as amity

    _install_hooks(os.environ.get("AMITY_CRASH_AT", ""), int(os.environ.get("AMITY_CRASH_GENERATION", "1")),
                   int(os.environ.get("AMITY_CRASH_SIZE", "5000")))
    sys.argv = ["amity", "build", "--store", sys.argv[1], "--workers", os.environ.get("AMITY_CRASH_WORKERS", "1")]
    amity()


# -- helpers for the tests ----------------------------------------------------------------------------


def run_build(store: Path, generation: int, *, at: str = "", marker: Path | None = None, size: int = 5000,
              workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "AMITY_CRASH_AT": at, "AMITY_CRASH_GENERATION": str(generation),
           "AMITY_CRASH_SIZE": str(size), "AMITY_CRASH_WORKERS": str(workers),
           "AMITY_CRASH_MARKER": str(marker or store.parent / "marker")}
    return subprocess.Popen([sys.executable, __file__, str(store)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def build_ok(store: Path, generation: int, **kwargs) -> None:
    process = run_build(store, generation, **kwargs)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]


def published(store: Path) -> list[str]:
    """The sorted N-Quads of the snapshot ``CURRENT`` names: what every reader sees."""
    state = EmbeddedStore(store).state()
    snapshot = Store.read_only(str(store / state.snapshot))
    lines = snapshot.dump(format=RdfFormat.N_QUADS).decode("utf-8").splitlines()
    del snapshot
    return sorted(lines)


def crash_graph_values(lines: list[str]) -> set[str]:
    return {line.split(" ", 2)[2].split('"')[1].split(" item ")[0] for line in lines if f"<{CRASH_GRAPH}>" in line
            and f"<{VALUE}>" in line}


def children_of(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    import psutil

    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        time.sleep(0.2)
    return alive


def kill_at(store: Path, generation: int, point: str, *, workers: int = 1, size: int = 5000) -> None:
    """Start a build, wait until it reaches ``point``, SIGKILL it, and check it left no process behind."""
    marker = store.parent / f"marker-{point}"
    marker.unlink(missing_ok=True)
    process = run_build(store, generation, at=point, marker=marker, workers=workers, size=size)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the build ended before {point}: {process.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, f"the build never reached {point}"
        time.sleep(0.05)
    helpers = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = wait_gone(helpers, 30)
    for pid in left:  # clean up before failing, so no validator outlives the test run
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes the killed build started are still running: {left}"


def serves(store: Path, log: Path, expected: list[str]) -> None:
    """``amity serve`` starts on the store and counts the quads readers should see."""
    server = start_server(EmbeddedStore(store), log, workers=1, threads=1, query_workers=1)
    try:
        response = requests.get(server.sparql_url(), params={"query": COUNT_QUADS},
                                headers={"Accept": "application/sparql-results+json"}, timeout=60)
        assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == len(expected)
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, Path | list[str]]:
    """Generation 1 built from scratch (the old graph), then generation 2 on top of it (the new graph)."""
    root = tmp_path_factory.mktemp("crash-reference")
    build_ok(root / "old", 1)
    old = published(root / "old")
    clone(EmbeddedStore(root / "old"), root / "new")
    build_ok(root / "new", 2)
    new = published(root / "new")
    assert crash_graph_values(old) == {"generation 1"} and crash_graph_values(new) == {"generation 2"}
    return {"store": root / "old", OLD: old, NEW: new}


@pytest.fixture
def old_store(references, tmp_path) -> Path:
    """A private copy of the old graph, as the server would have it."""
    return clone(EmbeddedStore(references["store"]), tmp_path / "store").root


# -- killed builds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("point, survivor, serve", [
    ("loading", OLD, False),
    ("validation", OLD, False),
    ("before-snapshot", OLD, False),
    ("after-snapshot", OLD, False),
    ("after-current-tmp", OLD, True),
    ("after-current", NEW, True),
])
def test_a_build_killed_at_any_step_leaves_the_old_or_the_new_graph_and_the_next_build_works(
        references, old_store, tmp_path, point, survivor, serve):
    """SIGKILL at each step of a build: readers see one complete graph, serving works, and a rebuild succeeds.

    ``amity serve`` is started on the two states either side of the commit (the other points leave the same
    files behind as far as a reader is concerned: ``CURRENT`` and its snapshot untouched)."""
    kill_at(old_store, 2, point, workers=2 if point == "validation" else 1)
    assert published(old_store) == references[survivor]
    if serve:
        serves(old_store, tmp_path / "serve.log", references[survivor])
    else:
        assert len(EmbeddedStore(old_store).reader()) == len(references[survivor])
    build_ok(old_store, 2)
    assert published(old_store) == references[NEW]


def test_a_build_killed_at_random_moments_leaves_the_old_or_the_new_graph(references, old_store, tmp_path):
    """Kills at moments no hook chose, spread over a whole build: never a mixture, never an unreadable store."""
    started = time.monotonic()
    build_ok(tmp_path / "timing", 2)
    duration = time.monotonic() - started
    for fraction in (0.3, 0.6, 0.8, 0.95):
        process = run_build(old_store, 2)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        state = published(old_store)
        assert state in (references[OLD], references[NEW]), f"a mixture after a kill at {fraction:.0%}"
        if state == references[NEW]:  # start again from the old graph for the next moment
            shutil.rmtree(old_store)
            clone(EmbeddedStore(references["store"]), old_store)
    serves(old_store, tmp_path / "serve.log", published(old_store))


# -- out of disk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["enospc-at-fsync", "enospc-at-current"])
def test_a_write_error_while_committing_keeps_the_old_graph(references, old_store, tmp_path, point):
    """ENOSPC injected where the build commits (writing ``CURRENT.tmp``, renaming it): the build fails loudly,
    the old graph stays in service, and the next build succeeds."""
    process = run_build(old_store, 2, at=point)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0 and "No space left" in output
    assert published(old_store) == references[OLD]
    assert sorted(p.name for p in old_store.glob("db-*")) == ["db-000001"], "the failed master was removed"
    if point == "enospc-at-current":
        serves(old_store, tmp_path / "serve.log", references[OLD])
    build_ok(old_store, 2)
    assert published(old_store) == references[NEW]


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """An 8 MB tmpfs (root only; skipped elsewhere): the old graph takes 2 MB of it."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip()}); the injected ENOSPC tests remain")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_disk_that_fills_up_during_a_build_keeps_the_old_graph(references, small_disk, tmp_path):
    """A real full disk: the new generation is far larger than the free space. The build fails, the old graph
    stays in service, and once space is freed (here: a smaller new generation) the next build succeeds."""
    store = small_disk / "store"
    build_ok(store, 1)
    assert published(store) == references[OLD]
    process = run_build(store, 2, size=150_000)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0 and "No space left" in output, output[-2000:]
    assert published(store) == references[OLD]
    serves(store, tmp_path / "serve.log", references[OLD])
    build_ok(store, 2)
    assert published(store) == references[NEW]


# -- store-level writes (what partner merges use) ------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from pyoxigraph import Literal, NamedNode, Quad
from amity.store import EmbeddedStore
store = EmbeddedStore(sys.argv[1])
with store.writing() as master:
    master.add(Quad(NamedNode("http://example.org/s"), NamedNode("http://example.org/p"), Literal("orphan"),
                    NamedNode("http://example.org/g")))
    Path(sys.argv[2]).write_text("written")
    time.sleep(3600)
"""


TEST_GRAPH = NamedNode("http://example.org/g")


def _quad(value: str) -> Quad:
    return Quad(NamedNode("http://example.org/s"), NamedNode("http://example.org/p"), Literal(value), TEST_GRAPH)


def test_a_writer_killed_inside_a_write_publishes_nothing_and_the_next_write_does_not_carry_its_changes(
        references, old_store, tmp_path):
    """A merge killed after writing but before publishing: nothing is published, and the next write starts from
    the published graph — the half-done write does not reappear with it."""
    marker = tmp_path / "written"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(old_store), str(marker)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    store = EmbeddedStore(old_store)
    assert published(old_store) == references[OLD]
    with store.writing() as master:
        master.add(_quad("next"))
    values = {q.object.value for q in store.reader().quads_for_pattern(None, None, None, TEST_GRAPH)}
    assert values == {"next"}


def test_a_write_that_raises_publishes_nothing_and_leaves_nothing_for_the_next_write(old_store, references):
    """An exception inside ``writing()`` (validation refused the data): the next write does not carry its quads."""
    store = EmbeddedStore(old_store)
    with pytest.raises(RuntimeError), store.writing() as master:
        master.add(_quad("refused"))
        raise RuntimeError("validation failed")
    assert published(old_store) == references[OLD]
    with store.writing() as master:
        master.add(_quad("accepted"))
    values = {q.object.value for q in store.reader().quads_for_pattern(None, None, None, TEST_GRAPH)}
    assert values == {"accepted"}
    assert len(list(old_store.glob("db-*"))) == 1, "one master directory at rest"


if __name__ == "__main__":
    main()
