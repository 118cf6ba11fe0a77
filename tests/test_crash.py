"""Crash safety: a build or a partner merge killed at any point, or one that runs out of disk, leaves exactly the
old state or exactly the new one in service, and the next write and ``amity serve`` work on what is left.

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
checked the same way.

Partner merges are killed where partners see them: the real service, started
through this driver too (``python tests/test_crash.py serve …``, which installs
the merge's pause points before gunicorn forks its workers), takes a large
upload over HTTP and is SIGKILLed with its query workers at each step of the
merge or at random moments; then it is restarted on the same store. A full
disk while a merge commits must be a 507 that changes nothing, on a real small
filesystem and with ENOSPC injected at each step.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store

from amity import derive, history, iris
from amity.partners import REGISTRY_FILE, Registry, graph_key
from amity.store import EmbeddedStore, clone
from amity.testing import LiveServer, start_server, stop_server

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

    def paused_validation(*args, **kwargs):
        for i, result in enumerate(validate_groups(*args, **kwargs)):
            if i == 1:
                _pause(point)
            yield result

    validate_groups = amity.build.validate_groups
    if point == "validation":
        amity.build.validate_groups = paused_validation
    _install_publish_hooks(point)


def _pause_before(owner: object, name: str, when: str, point: str) -> None:
    """Replace ``owner.name`` by a wrapper that pauses first when the chosen ``point`` is ``when``."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if point == when:
            _pause(point)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _install_publish_hooks(point: str) -> None:
    """The steps of publishing a new state, which a build and a partner merge share: pauses and injected ENOSPC."""
    from amity.store import EmbeddedStore as Store_

    _pause_before(Store_, "publish_new_master", "before-snapshot", point)
    _pause_before(Store_, "_write_state", "after-snapshot", point)
    _pause_before(Store_, "_collect_old_snapshots", "after-current", point)
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


def _install_merge_hooks(point: str) -> None:
    """The steps of a partner merge (:mod:`amity.merge`), in the order it reaches them, then publishing.

    Installed in the gunicorn master before it forks, so the web worker that runs the merge has them.
    """
    import amity.history
    import amity.merge

    _pause_before(amity.merge, "validate", "validation", point)  # checks, before the write lock
    _pause_before(amity.merge, "rederive", "before-derive", point)  # the graph is replaced in the write copy
    _pause_before(amity.history, "write_version", "before-history", point)  # derived graph recomputed
    _pause_before(amity.history, "record", "before-record", point)  # history file written
    _install_publish_hooks(point)


def main() -> None:
    """``python tests/test_crash.py STORE`` — ``amity build --store STORE`` with the hooks of ``AMITY_CRASH_AT``;
    ``python tests/test_crash.py serve …`` — ``amity serve …`` with the merge hooks of ``AMITY_CRASH_AT``."""
    from amity.cli import main as amity

    if sys.argv[1] == "serve":
        _install_merge_hooks(os.environ.get("AMITY_CRASH_AT", ""))
        sys.argv = ["amity", *sys.argv[1:]]
        amity()
        return
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

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:  # gone between listing and looking: the usual case after a SIGKILL
            return False

    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if running(pid)]
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
def tmpfs(tmp_path) -> Iterator[Callable[[str], Path]]:
    """Mounts a tmpfs of a given size (``"8m"``) and unmounts it after the test (root only; skipped elsewhere)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mount_point = tmp_path / f"disk-{len(mounted)}"
        mount_point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip()}); "
                        "the injected ENOSPC tests remain")
        mounted.append(mount_point)
        return mount_point

    yield mount
    for mount_point in mounted:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def small_disk(tmpfs) -> Path:
    """An 8 MB tmpfs: the old graph takes 2 MB of it."""
    return tmpfs("8m")


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


# -- partner merges over HTTP, killed ------------------------------------------------------------------
#
# The real service (``amity serve`` under gunicorn) on a copy of the built default graph, a registered partner,
# and a 50 000-triple upload of valid partner data about real cities (``benchmarks/merge.py`` generates it):
# about 15 s of merging, most of it checks before the write lock, then the commit (replace the graph,
# recompute the derived graph, write the history file, record provenance, publish). The server is SIGKILLed,
# with its query workers, at each step or at random moments, restarted on the same store, and what it serves
# is compared with two references taken once: the store before the merge and after it.

MERGE_PARTNER = "crash-test"
MERGE_GRAPH = iris.partner_graph(MERGE_PARTNER)
MERGE_TRIPLES = 50_000
MERGE_SEED = 11
#: The merge's pause points in the order it reaches them; the old state must survive every one of them.
MERGE_OLD_POINTS = ("validation", "before-derive", "before-history", "before-record", "before-snapshot",
                    "after-snapshot", "after-current-tmp")
#: Start and end times of merges: the only thing two runs of the same merge are allowed to differ in.
DATETIME = re.compile(r'"[^"]*"\^\^<http://www\.w3\.org/2001/XMLSchema#dateTime>')
JSON_RESULTS = {"Accept": "application/sparql-results+json"}


@dataclass
class MergeCase:
    """A copy of the built store with a partner, a large upload for it, and the states before and after."""

    source: Path  # the store before the merge, partner registered; never written after the fixture
    token: str
    body: bytes
    states: dict[str, dict[str, Any]]  # OLD and NEW, as merge_state() reads them
    twins: dict[str, int]  # rows of a saved query about a city of the upload, before and after
    seconds: float  # how long the reference merge took over HTTP
    city: str  # a QID the upload names
    qids: list[str]
    networks: list[str]
    taken: set[tuple[str, ...]] = field(default_factory=set)  # nodes of the upload, for uploads added to it

    def fresh_store(self, path: Path) -> Path:
        """A private copy of the store before the merge, with the partner and its token."""
        clone(EmbeddedStore(self.source), path)
        shutil.copy2(self.source / REGISTRY_FILE, path / REGISTRY_FILE)
        return path

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "text/turtle", "Authorization": f"Bearer {self.token}"}


def _digest(lines: Iterator[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def merge_state(root: Path) -> dict[str, Any]:
    """What a merge may change, read from the snapshot ``CURRENT`` names (what every reader sees).

    Triples per named graph (the union's count is their sum), the partner, derived and provenance graphs as
    digests of their sorted triples (merge times masked), the versions the provenance record lists, and the
    content of each recorded version's history file.
    """
    reader = Store.read_only(str(root / EmbeddedStore(root).state().snapshot))
    counts = {row["g"].value: int(row["n"].value) for row in reader.query(
        "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}

    def graph(name: str) -> Iterator[str]:
        return (str(q.triple) for q in reader.quads_for_pattern(None, None, None, NamedNode(name)))

    versions = history.versions(reader, MERGE_GRAPH)
    key = graph_key(MERGE_GRAPH)
    return {
        "graphs": counts,
        "partner": _digest(graph(MERGE_GRAPH)),
        "derived": _digest(graph(derive.DERIVED_GRAPH)),
        "provenance": _digest(DATETIME.sub('"…"', line) for line in graph(history.PROVENANCE_GRAPH)),
        "versions": [(v.version, v.operation, v.triples, v.upload_sha256, v.upload_triples) for v in versions],
        "files": {v.version: _digest(str(q.triple) for q in history.read_version(root, key, v.version))
                  for v in versions},
    }


def store_directories(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("db-", "snap-")))


def start_merge_server(store: Path, log: Path, point: str = "", marker: Path | None = None) -> LiveServer:
    """``amity serve`` on ``store``; with a ``point``, through this file's driver, which pauses the merge there."""
    hooks: dict[str, Any] = {}
    if point:
        hooks = {"program": (str(Path(__file__)),),
                 "extra_env": {"AMITY_CRASH_AT": point, "AMITY_CRASH_MARKER": str(marker)}}
    return start_server(EmbeddedStore(store), log, workers=1, threads=2, query_workers=1, **hooks)


def put_upload(server: LiveServer, case: MergeCase, body: bytes | None = None, *,
               method: str = "PUT") -> requests.Response:
    return requests.request(method, server.url + "store", params={"graph": MERGE_GRAPH},
                            data=case.body if body is None else body, headers=case.headers(), timeout=600)


def upload_in_background(server: LiveServer, case: MergeCase) -> tuple[threading.Thread, dict[str, Any]]:
    """The upload from another thread: the test kills the server while it waits for the answer."""
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["response"] = put_upload(server, case)
        except requests.RequestException as error:
            outcome["error"] = error

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, outcome


def kill_server(server: LiveServer) -> None:
    """SIGKILL the server and every process it started at once (no clean-up runs), and check none is left."""
    pids = [server.process.pid, *children_of(server.process.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    assert wait_gone(pids[1:], 30) == [], "a process of the killed server is still running"


def kill_merge_at(server: LiveServer, case: MergeCase, point: str, marker: Path) -> None:
    """Send the upload, wait until the merge is paused at ``point``, kill the server: the client gets no answer."""
    thread, outcome = upload_in_background(server, case)
    deadline = time.monotonic() + 300
    while not marker.exists():
        if not thread.is_alive():
            pytest.fail(f"the merge ended before {point}: {outcome}")
        assert time.monotonic() < deadline, f"the merge never reached {point}"
        time.sleep(0.05)
    kill_server(server)
    thread.join(60)
    assert "error" in outcome, f"killed at {point}, yet the client was answered: {outcome}"


def answers_with(server: LiveServer, case: MergeCase, which: str) -> None:
    """The service answers queries on exactly the state ``which``: the union's size, the partner graph and its
    history over the Graph Store Protocol, and a saved query about a city of the upload."""
    state = case.states[which]
    response = requests.get(server.sparql_url(), params={"query": COUNT_QUADS}, headers=JSON_RESULTS,
                            timeout=120)
    assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == sum(state["graphs"].values())
    graph = requests.get(server.url + "store", params={"graph": MERGE_GRAPH},
                         headers={"Accept": "application/n-triples"}, timeout=120)
    listed = requests.get(server.url + "store/history", params={"graph": MERGE_GRAPH}, timeout=60)
    if MERGE_GRAPH in state["graphs"]:
        assert graph.status_code == 200 and len(graph.content.splitlines()) == state["graphs"][MERGE_GRAPH]
        assert [v["version"] for v in listed.json()["versions"]] == [v[0] for v in state["versions"]]
    else:
        assert graph.status_code == 404 and listed.status_code == 404
    assert twins_of(server, case.city) == case.twins[which]


def twins_of(server: LiveServer, city: str) -> int:
    response = requests.get(server.url + "queries/twins-of-city.json", params={"city": city}, timeout=120)
    assert response.status_code == 200, response.text[:500]
    return len(response.json()["results"]["bindings"])


@pytest.fixture(scope="module")
def merge_case(built_store, tmp_path_factory) -> MergeCase:
    """The upload, generated from real cities of the built store, and the reference states: before, and after
    merging it through the service as a partner would (the reference merge is timed for the random kills)."""
    from benchmarks.merge import partner_turtle, reference_sample

    root = tmp_path_factory.mktemp("merge-crash")
    source = clone(built_store, root / "old")
    token = Registry(source).add(MERGE_PARTNER)[1]
    qids, networks = reference_sample(source, MERGE_SEED)
    taken: set[tuple[str, ...]] = set()
    body = partner_turtle(MERGE_TRIPLES, qids, networks, MERGE_SEED, taken).encode()
    city = next(key[1] for key in sorted(taken) if key[0] == "t")
    case = MergeCase(source.root, token, body, {OLD: merge_state(source.root)}, {}, 0.0, city, qids, networks,
                     taken)
    store = case.fresh_store(root / "new")
    server = start_merge_server(store, root / "reference.log")
    try:
        case.twins[OLD] = twins_of(server, city)
        started = time.monotonic()
        response = put_upload(server, case)
        case.seconds = time.monotonic() - started
        assert response.status_code == 201, response.text[:2000]
        assert response.json()["triples"]["after"] >= MERGE_TRIPLES
        case.twins[NEW] = twins_of(server, city)
    finally:
        stop_server(server)
    case.states[NEW] = merge_state(store)
    assert case.twins[NEW] > case.twins[OLD], "the upload adds twins to the city the saved query asks about"
    assert store_directories(store) == ["db-000002", "snap-000001", "snap-000002"]
    return case


def test_a_merge_killed_at_any_step_before_it_is_published_leaves_the_old_state_and_the_next_merge_lands_whole(
        merge_case, tmp_path):
    """SIGKILL of the whole service at each step of a 50k-triple merge over HTTP: while checking, after the graph
    was replaced in the write copy, after the derived graph, after the history file, before the snapshot, after
    it, after ``CURRENT.tmp``. Each restart serves exactly the old state (queries, Graph Store, history), and the
    same upload sent once more lands exactly as the reference merge did, leaving no directory behind."""
    store = merge_case.fresh_store(tmp_path / "store")
    for point in MERGE_OLD_POINTS:
        marker = tmp_path / f"marker-{point}"
        server = start_merge_server(store, tmp_path / f"{point}.log", point, marker)
        try:
            answers_with(server, merge_case, OLD)  # after the previous kill, the service restarts on the old state
            kill_merge_at(server, merge_case, point, marker)
        finally:
            stop_server(server)
        assert merge_state(store) == merge_case.states[OLD], f"killed at {point}: not the old state"
    server = start_merge_server(store, tmp_path / "after.log")
    try:
        answers_with(server, merge_case, OLD)
        response = put_upload(server, merge_case)
        assert response.status_code == 201, response.text[:2000]
        assert response.json()["version"] == 1
        answers_with(server, merge_case, NEW)
    finally:
        stop_server(server)
    assert merge_state(store) == merge_case.states[NEW]
    assert store_directories(store) == ["db-000002", "snap-000001", "snap-000002"]


def test_a_merge_killed_once_published_keeps_the_new_state_and_the_next_merge_builds_on_it(merge_case, tmp_path):
    """SIGKILL right after ``CURRENT`` names the new snapshot (before old snapshots are collected and before the
    client is answered): the restarted service serves the merged state, and a further upload adds to it."""
    from benchmarks.merge import partner_turtle

    store = merge_case.fresh_store(tmp_path / "store")
    marker = tmp_path / "marker"
    server = start_merge_server(store, tmp_path / "killed.log", "after-current", marker)
    try:
        kill_merge_at(server, merge_case, "after-current", marker)
    finally:
        stop_server(server)
    assert merge_state(store) == merge_case.states[NEW]
    more = partner_turtle(1000, merge_case.qids, merge_case.networks, MERGE_SEED + 1, set(merge_case.taken))
    server = start_merge_server(store, tmp_path / "after.log")
    try:
        answers_with(server, merge_case, NEW)
        response = put_upload(server, merge_case, more.encode(), method="POST")
        assert response.status_code == 200, response.text[:2000]
        answer = response.json()
        assert answer["version"] == 2 and answer["triples"]["before"] == merge_case.states[NEW]["graphs"][MERGE_GRAPH]
    finally:
        stop_server(server)
    state = merge_state(store)
    assert state["graphs"][MERGE_GRAPH] == answer["triples"]["after"] > answer["triples"]["before"]
    assert [v[:2] for v in state["versions"]] == [(1, "replace"), (2, "add")]
    assert state["files"][1] == merge_case.states[NEW]["partner"] and state["files"][2] == state["partner"]


def test_a_merge_killed_at_random_moments_leaves_the_old_or_the_new_state(merge_case, tmp_path):
    """Kills at moments no hook chose, spread over a whole merge (from 15% of the reference merge's time to just
    after it): never a mixture, always a service that restarts, and the upload sent again lands."""
    seed = int(os.environ.get("AMITY_CRASH_SEED", time.time_ns() % 1_000_000))
    moments = sorted(random.Random(seed).uniform(0.15, 1.05) for _ in range(3))
    store = merge_case.fresh_store(tmp_path / "store")
    survivors = []
    for fraction in moments:
        server = start_merge_server(store, tmp_path / f"{fraction:.2f}.log")
        try:
            thread, _outcome = upload_in_background(server, merge_case)
            time.sleep(merge_case.seconds * fraction)
            kill_server(server)
            thread.join(60)
        finally:
            stop_server(server)
        state = merge_state(store)
        survivor = next((name for name in (OLD, NEW) if state == merge_case.states[name]), None)
        assert survivor, f"a mixture after a kill at {fraction:.0%} of the merge (AMITY_CRASH_SEED={seed})"
        survivors.append(survivor)
        if survivor == NEW:  # start again from the old state for the next moment
            shutil.rmtree(store)
            merge_case.fresh_store(store)
    server = start_merge_server(store, tmp_path / "after.log")
    try:
        answers_with(server, merge_case, OLD)
        assert put_upload(server, merge_case).status_code == 201
    finally:
        stop_server(server)
    assert merge_state(store) == merge_case.states[NEW], f"survivors {survivors} (AMITY_CRASH_SEED={seed})"


# -- partner merges on a full disk ---------------------------------------------------------------------


def fingerprint(root: Path) -> dict[str, str]:
    """``CURRENT`` and every file of the snapshot it names, byte for byte, and the store directories at rest."""
    state = EmbeddedStore(root).state()
    files = {"CURRENT": (root / "CURRENT").read_text(), "directories": " ".join(store_directories(root))}
    for path in sorted((root / state.snapshot).rglob("*")):
        files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def fill_disk(disk: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of a filesystem with one file; deleting the file is freeing space."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    with open(filler, "wb") as out:
        os.posix_fallocate(out.fileno(), 0, stat.f_bavail * stat.f_frsize - leave)
    return filler


def test_a_disk_that_fills_up_while_a_merge_commits_refuses_it_with_507_and_keeps_the_old_state(
        merge_case, tmpfs, tmp_path):
    """The store on a real filesystem with room for the upload (5 000 triples) but not for what committing it
    writes (the graph's indexes, the derived graph, the history file, the snapshot). The partner gets a 507
    problem document, the published state is byte for byte what it was, the service neither crashed nor
    restarted a worker and still answers queries, and once space is freed the same upload lands."""
    from benchmarks.merge import partner_turtle

    disk = tmpfs("400m")
    store = merge_case.fresh_store(disk / "store")  # another filesystem: a real copy, not hard links
    body = partner_turtle(5000, merge_case.qids, merge_case.networks, MERGE_SEED).encode()
    server = start_merge_server(store, tmp_path / "server.log")
    try:
        filler = fill_disk(disk, len(body) + 256 * 1024)
        before, workers = fingerprint(store), children_of(server.process.pid)
        response = put_upload(server, merge_case, body)
        assert response.status_code == 507, response.text[:2000]
        assert response.headers["Content-Type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 507 and problem["title"] == "Insufficient storage"
        assert "disk" in problem["detail"] and "the write was refused" in problem["detail"], "refused at the commit"
        assert fingerprint(store) == before
        assert server.process.poll() is None and children_of(server.process.pid) == workers, "no crash, no restart"
        answers_with(server, merge_case, OLD)
        filler.unlink()
        response = put_upload(server, merge_case, body)
        assert response.status_code == 201, response.text[:2000]
        assert response.json()["version"] == 1
    finally:
        stop_server(server)
    state = merge_state(store)
    assert state["graphs"][MERGE_GRAPH] == response.json()["triples"]["after"]
    assert store_directories(store) == ["db-000002", "snap-000001", "snap-000002"]


#: Where a full disk is injected into a merge, and how: the OS's ENOSPC, or pyoxigraph's OSError (no errno).
ROCKSDB_FULL = "IO error: No space left on device: While appending to file: {}/000042.sst: No space left on device"
FULL_DISK_AT = {
    "storing the upload": ("amity.merge.tempfile", "mkstemp"),
    "writing the graph": ("amity.store._WriteHandle", "bulk_extend"),
    "deriving": ("amity.merge", "rederive"),
    "writing the history file": ("amity.history", "write_version"),
    "recording provenance": ("amity.store._WriteHandle", "extend"),
    "replacing CURRENT": ("amity.store.EmbeddedStore", "_write_state"),
}


@pytest.mark.parametrize("step", FULL_DISK_AT)
def test_a_full_disk_at_any_step_of_a_merge_is_a_507_and_publishes_nothing(tmp_path, monkeypatch, step):
    """ENOSPC injected at each step of a merge through the web app (the reference store of ``test_merge``):
    the answer is a 507 problem document, not a 500; the published store is byte for byte what it was; no
    master, snapshot or upload is left behind; and the next upload lands."""
    from server import create_app
    from tests.test_merge import PARTNER, PARTNER_GRAPH, dump, expand, make_reference_store, twinning_turtle

    store = make_reference_store(tmp_path / "store")
    token = Registry(store).add(PARTNER)[1]
    app = create_app({"TESTING": True, "STORE_PATH": store.root, "QUERY_WORKERS": 0})
    client = app.test_client()

    def put(text: str):
        return client.put("/store", query_string={"graph": PARTNER_GRAPH}, data=expand(text).encode(),
                          headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {token}"})

    assert put(twinning_turtle("Q170322", "Q90")).status_code == 201
    before, directories = dump(store), store_directories(store.root)

    def full(*args: object, **kwargs: object) -> None:
        if step in ("writing the graph", "deriving", "recording provenance"):  # RocksDB: OSError, no errno
            raise OSError(ROCKSDB_FULL.format(store.root))
        raise OSError(errno.ENOSPC, "No space left on device")

    owner, name = FULL_DISK_AT[step]
    monkeypatch.setattr(f"{owner}.{name}", full, raising=False)
    response = put(twinning_turtle("Q956", "Q649"))
    assert response.status_code == 507, response.get_data(as_text=True)[:1000]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.get_json()["title"] == "Insufficient storage"
    assert dump(store) == before and store_directories(store.root) == directories
    assert list((store.root / "uploads").iterdir()) == []
    monkeypatch.undo()
    response = put(twinning_turtle("Q956", "Q649"))
    assert response.status_code == 200 and response.get_json()["version"] == 2
    app.extensions["amity"].close()


if __name__ == "__main__":
    main()
