"""The embedded on-disk store: one writer at a time, readers on immutable snapshots.

pyoxigraph allows one read-write handle per RocksDB directory, and a read-only
handle opened while another process writes is undefined behaviour. So the
store root holds:

* ``db-NNNNNN/`` — the master store, opened read-write only inside
  :meth:`EmbeddedStore.writing`, under an exclusive file lock;
* ``snap-NNNNNN/`` — a ``backup()`` of the master taken after every accepted
  write (hard links: milliseconds), never written again;
* ``CURRENT`` — a small JSON file naming the master and the newest snapshot,
  replaced atomically (write, fsync, rename).

Readers (web workers, query processes) open the snapshot that ``CURRENT``
names and switch when it changes. A crash at any point leaves ``CURRENT``
pointing at a complete old or complete new state, which is what the crash
tests check.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import threading
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import Store

from amity.problems import AmityError, ServiceUnavailable

log = logging.getLogger(__name__)

#: Snapshots kept besides the current one, so readers that are still finishing
#: a request on an older snapshot keep their files.
KEEP_SNAPSHOTS = 4


@dataclass(frozen=True)
class State:
    """What ``CURRENT`` says: the master directory and the readable snapshot."""

    db: str
    snapshot: str
    version: int

    def to_json(self) -> str:
        return json.dumps({"db": self.db, "snapshot": self.snapshot, "version": self.version})


class _WriteHandle:
    """Forwards to the master store until released, then lets go of it.

    RocksDB allows one read-write handle per directory even within a process,
    and a caller's ``as master`` variable outlives the ``with`` block, so the
    handle given out must not keep the store open after the write.
    """

    def __init__(self, store: Store) -> None:
        self.store: Store | None = store

    def __getattr__(self, name: str):
        if self.store is None:
            raise RuntimeError("this write handle was released when its `with` block ended")
        return getattr(self.store, name)

    def __len__(self) -> int:
        return len(self.store)  # type: ignore[arg-type]

    def release(self) -> None:
        self.store = None


class InsufficientStorage(AmityError):
    """507: a write needed more disk than was free. Nothing was published; the fix is freeing space.

    Kept apart from a 500 so that a full disk reads as what it is, to the partner and in the logs, and from a
    503 so that a client does not retry blindly.
    """

    status = 507
    title = "Insufficient storage"


def is_disk_full(error: BaseException) -> bool:
    """Whether an error is ENOSPC or EDQUOT, from the OS or from RocksDB.

    pyoxigraph raises RocksDB's I/O errors as ``OSError`` without an ``errno``
    (``IO error: No space left on device: While appending to file: …``), so the message is checked too.
    """
    if not isinstance(error, OSError):
        return False
    return error.errno in (errno.ENOSPC, errno.EDQUOT) or any(
        text in str(error) for text in ("No space left on device", "Disk quota exceeded"))


@contextmanager
def refused_when_disk_full(what: str) -> Iterator[None]:
    """Turn a full disk inside the block into :class:`InsufficientStorage` (507); other errors pass through.

    Logged as an error too: the client's 507 tells a partner to wait, the log tells the operator to act.
    """
    try:
        yield
    except OSError as error:
        if not is_disk_full(error):
            raise
        log.error("the disk is full: %s was refused (%s)", what, error)
        raise InsufficientStorage(
            f"the disk holding the store is full: {what} was refused and nothing was written; "
            "try again once an operator has freed space") from error


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock across the processes that share ``directory`` (``write.lock`` in it)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "write.lock", "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def default_root() -> Path:
    """``$AMITY_STORE``, else ``var/store`` in the working directory."""
    return Path(os.environ.get("AMITY_STORE", "var/store"))


class EmbeddedStore:
    """A store root on local disk. Cheap to create; handles open lazily."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._reader: Store | None = None
        self._reader_state: State | None = None
        self._reader_stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> str:
        """What ``--store`` / ``AMITY_STORE`` holds for this store (:mod:`amity.stores`)."""
        return str(self.root)

    # -- state ---------------------------------------------------------------------------------------

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def exists(self) -> bool:
        """True once a build has published a state here."""
        return self.current_file.is_file()

    def state(self) -> State:
        try:
            data = json.loads(self.current_file.read_text())
        except FileNotFoundError:
            raise ServiceUnavailable(f"no graph has been built in {self.root} yet: run `amity build`") from None
        return State(data["db"], data["snapshot"], int(data["version"]))

    def _write_state(self, state: State) -> None:
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w") as out:
            out.write(state.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.current_file)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    # -- reading -------------------------------------------------------------------------------------

    def reader(self) -> Store:
        """A read-only handle on the newest snapshot, reopened when a write published a new one.

        Checking costs one ``stat`` per call, so it is done on every request.
        """
        try:
            stat = self.current_file.stat()
        except FileNotFoundError:
            raise ServiceUnavailable(f"no graph has been built in {self.root} yet: run `amity build`") from None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if self._reader is None or stamp != self._reader_stamp:
                state = self.state()
                if self._reader is None or state != self._reader_state:
                    self._reader = Store.read_only(str(self.root / state.snapshot))
                    self._reader_state = state
                self._reader_stamp = stamp
            return self._reader

    def version(self) -> int:
        return self.state().version

    # -- writing -------------------------------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        """Exclusive across processes: two writers queue, one after the other."""
        return directory_lock(self.root)

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """A read-write copy of the published state; on a clean exit it becomes the new master and snapshot.

        Each pyoxigraph call (``update``, ``bulk_load``, ``extend``) is its own
        atomic transaction; callers that need several steps to land together
        stage them and finish with one call. The copy is a new directory (hard
        links: milliseconds), so if the block raises or the process dies, the
        copy is dropped and the next write starts from what readers see, never
        from half a write. A full disk anywhere in it is :class:`InsufficientStorage`.
        """
        with self.write_lock(), refused_when_disk_full("the write"):
            state = self.state()
            master_dir, version = self.next_master_dir()
            try:
                published = Store.read_only(str(self.root / state.snapshot))
                published.backup(str(master_dir))
                del published
                handle = _WriteHandle(Store(str(master_dir)))
            except BaseException:
                shutil.rmtree(master_dir, ignore_errors=True)
                raise
            try:
                yield handle  # type: ignore[misc]
                handle.flush()
                self.publish_new_master(handle.store, master_dir, version)
            except BaseException as error:
                handle.release()
                # pyoxigraph has no close(): the copy's RocksDB stays open while anything refers to it, and the
                # frames the error passed through may hold an iterator on it (history.write_version does). Those
                # frames are cleared so the copy is closed before its directory is removed; an instance left
                # open would write into the directory the next write creates under the same name.
                traceback.clear_frames(error.__traceback__)
                self._discard_unpublished(master_dir, version)
                raise
            finally:
                handle.release()

    def _discard_unpublished(self, master_dir: Path, version: int) -> None:
        """Remove what a failed write left: its master and a half-taken snapshot, unless ``CURRENT`` names them.

        On a full disk the space they hold is what the next write needs, so they go now rather than when the
        next write happens to reuse their names.
        """
        if self.exists() and self.state().version == version:
            return  # published after all (the failure came after CURRENT was replaced): readers use it
        shutil.rmtree(master_dir, ignore_errors=True)
        shutil.rmtree(self.root / f"snap-{version:06d}", ignore_errors=True)

    def next_master_dir(self) -> tuple[Path, int]:
        """Where a build writes its new master: a directory no reader knows yet.

        A leftover from a build that crashed is removed first.
        """
        version = (self.state().version + 1) if self.exists() else 1
        target = self.root / f"db-{version:06d}"
        if target.exists():
            shutil.rmtree(target)
        self.root.mkdir(parents=True, exist_ok=True)
        return target, version

    def publish_new_master(self, store: Store, master_dir: Path, version: int) -> State:
        """Make a freshly built master current (called by the build, under the write lock)."""
        previous = self.state() if self.exists() else None
        store.flush()
        state = self._publish(store, master_dir.name, version)
        if previous and previous.db != master_dir.name:
            shutil.rmtree(self.root / previous.db, ignore_errors=True)
        return state

    def _publish(self, store: Store, db_name: str, version: int) -> State:
        snapshot = f"snap-{version:06d}"
        snapshot_dir = self.root / snapshot
        if snapshot_dir.exists():
            shutil.rmtree(snapshot_dir)
        store.backup(str(snapshot_dir))
        state = State(db_name, snapshot, version)
        self._write_state(state)
        self._collect_old_snapshots(version)
        return state

    def _collect_old_snapshots(self, version: int) -> None:
        for path in self.root.glob("snap-*"):
            try:
                number = int(path.name.removeprefix("snap-"))
            except ValueError:
                continue
            if number < version - KEEP_SNAPSHOTS:
                shutil.rmtree(path, ignore_errors=True)


def clone(source: EmbeddedStore, target_root: str | os.PathLike[str]) -> EmbeddedStore:
    """A new store root holding the current state of ``source`` (hard-linked where possible).

    For tests and benchmarks that write: they get their own copy and leave the
    source untouched.
    """
    target = EmbeddedStore(target_root)
    target.root.mkdir(parents=True, exist_ok=True)
    state = source.state()
    snapshot = Store.read_only(str(source.root / state.snapshot))
    snapshot.backup(str(target.root / "db-000001"))
    snapshot.backup(str(target.root / "snap-000001"))
    del snapshot
    target._write_state(State("db-000001", "snap-000001", 1))
    return target
