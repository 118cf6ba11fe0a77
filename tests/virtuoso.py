"""A real, throwaway Virtuoso for tests and benchmarks: install if missing, start, wait, stop.

Amity's remote store (``amity/remote.py``) speaks only the standard SPARQL protocols, and the
only honest test of that is a real server. Virtuoso is the one the design notes name and
Debian ships, so this module:

* installs Debian's ``virtuoso-opensource-7-bin`` when ``virtuoso-t`` is missing. Only the
  binaries: the full ``virtuoso-opensource`` package asks for a dba password (debconf) and its
  ``postinst`` starts a system daemon on ports 1111/8890 with a database in ``/var/lib`` — neither is
  wanted for a throwaway test server. (:func:`ensure_installed` can still install the full package,
  preseeding the password so nothing blocks, when ``AMITY_VIRTUOSO_PACKAGE`` names it.)
* starts ``virtuoso-t +foreground`` with its own ``virtuoso.ini`` in a temporary directory:
  loopback only, free ports for SQL (isql) and HTTP, ``DirsAllowed`` including the directory the
  bulk loader reads from, and buffers sized for a small shared machine (2 cores, 24 GB);
* waits until ``/sparql`` answers, then creates an ``amity`` SQL account with the
  ``SPARQL_UPDATE`` role — the writes of :class:`amity.remote.RemoteStore` go through the
  digest-authenticated ``/sparql-auth`` and ``/sparql-graph-crud-auth`` exactly as they would in
  production, instead of opening the anonymous ``/sparql`` for updates;
* stops it with SIGTERM (Virtuoso's quick shutdown, ~2 s) and removes the directory.

No systemd, no init scripts: the server is a child process of the caller, in its own session.
Run it by hand with ``scripts/virtuoso-up`` (or ``python tests/virtuoso.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from amity.remote import RemoteStore

#: Debian's package holding ``virtuoso-t`` and ``isql-vt`` (and nothing that starts a daemon).
PACKAGE = os.environ.get("AMITY_VIRTUOSO_PACKAGE", "virtuoso-opensource-7-bin")
SERVER_NAMES = ("virtuoso-t",)
ISQL_NAMES = ("isql-vt", "isql-v")  # Debian, other packagings (upstream calls it `isql`, like unixODBC)
START_TIMEOUT = 180.0

#: 8 KiB pages. 32 000 buffers ≈ 250 MB: plenty for test data sets of a few 100 k triples, small enough to run
#: next to the rest of the test suite. Production sizing is in docs/remote-store.md.
TEST_BUFFERS = 32_000


class VirtuosoUnavailable(RuntimeError):
    """Virtuoso is not installed and cannot be installed here (the tests skip with this reason)."""


def _which(names: tuple[str, ...], env: str) -> str | None:
    override = os.environ.get(env)
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def binaries() -> tuple[str, str] | None:
    """``(virtuoso-t, isql)`` paths if both are installed (``AMITY_VIRTUOSO_BIN``/``AMITY_ISQL_BIN`` override)."""
    server = _which(SERVER_NAMES, "AMITY_VIRTUOSO_BIN")
    isql = _which(ISQL_NAMES, "AMITY_ISQL_BIN")
    return (server, isql) if server and isql else None


def _preseed(package: str) -> None:
    """Answer the full package's dba-password question in advance, so a non-interactive install never waits."""
    if not package.startswith("virtuoso-opensource") or package.endswith("-bin") or not shutil.which(
            "debconf-set-selections"):
        return
    password = secrets.token_urlsafe(16)
    answers = "".join(f"virtuoso-opensource-7 virtuoso-opensource-7/{question} password {password}\n"
                      for question in ("dba-password", "dba-password-again"))
    subprocess.run(["debconf-set-selections"], input=answers, text=True, check=True)


def ensure_installed(package: str = PACKAGE) -> tuple[str, str]:
    """The paths of ``virtuoso-t`` and ``isql``, installing ``package`` with apt-get when they are missing.

    :raises VirtuosoUnavailable: with the reason, when they are missing and cannot be installed
        (not root, no apt-get, no network, no such package).
    """
    found = binaries()
    if found:
        return found
    if os.geteuid() != 0:
        raise VirtuosoUnavailable(f"virtuoso-t is not installed and installing {package} needs root")
    if not shutil.which("apt-get"):
        raise VirtuosoUnavailable(f"virtuoso-t is not installed and there is no apt-get to install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
    _preseed(package)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:  # a fresh container has no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
    found = binaries()
    if found is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise VirtuosoUnavailable(f"could not install {package}: " + " | ".join(tail))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_ini(directory: Path, *, sql_port: int, http_port: int, buffers: int = TEST_BUFFERS,
              max_query_seconds: int = 60, result_rows: int = 1_000_000, threads_per_query: int = 2,
              settings: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """A ``virtuoso.ini`` for a throwaway database that lives entirely in ``directory``.

    * both listeners on 127.0.0.1 only;
    * ``DirsAllowed`` = the directory and its ``load/`` folder, where :meth:`Virtuoso.bulk_load_dir` lets
      ``ld_dir`` read N-Triples files (the bulk loader refuses any other path);
    * ``MaxDirtyBuffers`` at 3/4 of ``NumberOfBuffers`` (OpenLink's ratio); ``ThreadsPerQuery`` 2 on a 2-core box;
    * ``ResultSetMaxRows`` well above Amity's own row cap (100 000), so Virtuoso never truncates an answer Amity
      would give in full — Virtuoso's truncation is silent (only an ``X-SPARQL-MaxRows`` header says so);
    * ``MaxSortedTopRows`` (``[Parameters]``) as high: Virtuoso refuses an ``ORDER BY`` with ``LIMIT`` + ``OFFSET``
      above it (``SR353``, default 10 000), and Amity adds ``LIMIT 100000`` (its row cap) to every query;
    * ``MaxQueryExecutionTime`` as the server-side ceiling; the ``timeout`` request parameter lowers it per query;
    * ``settings`` — ``{"Parameters": {"DefaultIsolation": 4}}`` — overrides or adds keys, for experiments.
    """
    load = directory / "load"
    load.mkdir(parents=True, exist_ok=True)
    (directory / "vsp").mkdir(exist_ok=True)
    ini = f"""\
[Database]
DatabaseFile       = {directory}/virtuoso.db
ErrorLogFile       = {directory}/virtuoso.log
LockFile           = {directory}/virtuoso.lck
TransactionFile    = {directory}/virtuoso.trx
xa_persistent_file = {directory}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {directory}/virtuoso-temp.db
TransactionFile    = {directory}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:{sql_port}
DisableUnixSocket    = 1
MaxClientConnections = 20
CheckpointInterval   = 60
CaseMode             = 2
DirsAllowed          = ., {directory}, {load}
NumberOfBuffers      = {buffers}
MaxDirtyBuffers      = {buffers * 3 // 4}
ThreadsPerQuery      = {threads_per_query}
AsyncQueueMaxThreads = 4
MaxQueryMem          = 1G
VectorSize           = 1000
MaxVectorSize        = 1000000
MaxSortedTopRows     = {result_rows}

[HTTPServer]
ServerPort           = 127.0.0.1:{http_port}
ServerRoot           = {directory}/vsp
MaxClientConnections = 20
ServerThreads        = 20
MaxKeepAlives        = 10
KeepAliveTimeout     = 10
EnabledDavVSP        = 0
EnabledGzipContent   = 0
Charset              = UTF-8

[SPARQL]
ResultSetMaxRows           = {result_rows}
MaxQueryExecutionTime      = {max_query_seconds}
MaxQueryCostEstimationTime = 0
DefaultQuery               = SELECT * WHERE {{ ?s ?p ?o }} LIMIT 10
"""
    path = directory / "virtuoso.ini"
    path.write_text(_override(ini, settings or {}))
    return path


def _override(ini: str, settings: Mapping[str, Mapping[str, object]]) -> str:
    """``ini`` with ``settings[section][key]`` replacing the key's line, or appended to the section."""
    lines = ini.splitlines()
    for section, keys in settings.items():
        for key, value in keys.items():
            header = lines.index(f"[{section}]") if f"[{section}]" in lines else None
            if header is None:
                lines += ["", f"[{section}]"]
                header = len(lines) - 1
            end = next((i for i in range(header + 1, len(lines)) if lines[i].startswith("[")), len(lines))
            line = f"{key} = {value}"
            for i in range(header + 1, end):
                if lines[i].split("=")[0].strip() == key:
                    lines[i] = line
                    break
            else:
                lines.insert(header + 1, line)
    return "\n".join(lines) + "\n"


@dataclass
class Virtuoso:
    """One running throwaway server. ``user``/``password`` is the SPARQL_UPDATE account Amity writes with."""

    directory: Path
    sql_port: int
    http_port: int
    process: subprocess.Popen
    isql_bin: str
    server_bin: str = "virtuoso-t"
    dba_password: str = "dba"
    user: str = "amity"
    password: str = ""
    startup_seconds: float = 0.0
    remove_on_stop: bool = True
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def query_url(self) -> str:
        """Anonymous, read-only: what the query workers use."""
        return self.base_url + "/sparql"

    @property
    def update_url(self) -> str:
        return self.base_url + "/sparql-auth"

    @property
    def gsp_url(self) -> str:
        return self.base_url + "/sparql-graph-crud-auth"

    @property
    def load_dir(self) -> Path:
        """The folder ``DirsAllowed`` lets the bulk loader read (same machine as the server only)."""
        return self.directory / "load"

    @property
    def log(self) -> Path:
        return self.directory / "virtuoso.log"

    def isql(self, sql: str, *, timeout: float = 600.0) -> str:
        """Run SQL statements (``;``-terminated) as dba; raises with Virtuoso's message if any statement failed."""
        result = subprocess.run(
            [self.isql_bin, f"127.0.0.1:{self.sql_port}", "dba", self.dba_password,
             "VERBOSE=OFF", "BANNER=OFF", "PROMPT=OFF", "ECHO=OFF", "ERRORS=STDOUT"],
            input=sql if sql.rstrip().endswith(";") else sql + ";", capture_output=True, text=True,
            timeout=timeout,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 or "*** Error" in output:
            raise RuntimeError(f"isql failed: {output.strip()[-2000:]}")
        return output

    def remote_store(self, **options) -> RemoteStore:
        """An :class:`amity.remote.RemoteStore` on this server, with the ``amity`` account for writes."""
        from amity.remote import RemoteStore, virtuoso_bulk_loader

        options.setdefault("bulk_loader", virtuoso_bulk_loader(self.isql, self.load_dir))
        return RemoteStore(self.query_url, update_url=self.update_url, gsp_url=self.gsp_url,
                           credentials=(self.user, self.password), **options)

    def environment(self) -> dict[str, str]:
        """Settings a shell can export to point Amity (or a benchmark) at this server."""
        return {
            "AMITY_STORE": f"sparql+{self.query_url}",
            "AMITY_STORE_UPDATE_URL": self.update_url,
            "AMITY_STORE_GSP_URL": self.gsp_url,
            "AMITY_STORE_USER": self.user,
            "AMITY_STORE_PASSWORD": self.password,
        }

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: the database stays for :meth:`restart` to recover."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def restart(self) -> float:
        """Start the server again on the same database, ports and accounts (after :meth:`kill` or a stop).

        Virtuoso replays its transaction log at start, so this shows what a crash leaves behind.
        Returns the seconds until ``/sparql`` answered.
        """
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        started = time.monotonic()
        self.process = _spawn(self.server_bin, self.directory)
        _wait_for_endpoint(self.process, self.query_url, self.log, started + START_TIMEOUT)
        self._stopped = False
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM (Virtuoso's quick shutdown), SIGKILL if it has not exited after 30 s; then remove the files."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if self.remove_on_stop:
            shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started the server dies (Linux ``prctl``).

    A test run killed from outside never runs its ``finally``; without this its Virtuoso would live on.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _spawn(server_bin: str, directory: Path) -> subprocess.Popen:
    """``virtuoso-t +foreground`` on ``directory/virtuoso.ini``, in its own session (so stop reaches it whole)."""
    with open(directory / "stdout.log", "a") as out:
        return subprocess.Popen([server_bin, "+foreground", "+configfile", str(directory / "virtuoso.ini")],
                                cwd=directory, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)


def _wait_for_endpoint(process: subprocess.Popen, url: str, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"virtuoso-t exited with {process.returncode}: {_tail(log)}")
        try:
            if requests.get(url, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Virtuoso did not answer on {url} within {START_TIMEOUT:g} s: {_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def start(directory: str | os.PathLike[str] | None = None, *, buffers: int = TEST_BUFFERS,
          max_query_seconds: int = 60, result_rows: int = 1_000_000, http_port: int | None = None,
          sql_port: int | None = None, settings: Mapping[str, Mapping[str, object]] | None = None) -> Virtuoso:
    """Start a server on a fresh database and return once ``/sparql`` answers and the ``amity`` account exists.

    ``directory`` must be empty or absent; by default a new temporary directory, removed by :meth:`Virtuoso.stop`.

    :raises VirtuosoUnavailable: if Virtuoso is not installed and cannot be.
    """
    server_bin, isql_bin = ensure_installed()
    started = time.monotonic()
    if directory is None:
        path = Path(tempfile.mkdtemp(prefix="amity-virtuoso-"))
        remove = True
    else:
        path = Path(directory).resolve()
        path.mkdir(parents=True, exist_ok=True)
        remove = False
    sql_port = sql_port or free_port()
    http_port = http_port or free_port()
    write_ini(path, sql_port=sql_port, http_port=http_port, buffers=buffers,
                max_query_seconds=max_query_seconds, result_rows=result_rows, settings=settings)
    process = _spawn(server_bin, path)
    server = Virtuoso(path, sql_port, http_port, process, isql_bin, server_bin, remove_on_stop=remove)
    try:
        _wait_for_endpoint(process, server.query_url, server.log, started + START_TIMEOUT)
        # A throwaway database still gets real passwords: the ports are loopback-only, but other
        # processes on the machine could reach them.
        dba_password = secrets.token_hex(12)
        server.password = secrets.token_hex(12)
        server.isql(f"DB.DBA.USER_CREATE ('{server.user}', '{server.password}');\n"
                    f"GRANT SPARQL_UPDATE TO \"{server.user}\";\n"
                    f"USER_SET_PASSWORD ('dba', '{dba_password}');")
        server.dba_password = dba_password
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - started
    return server


@contextmanager
def running(**options) -> Iterator[Virtuoso]:
    """``with running() as server:`` — a server for the length of the block."""
    server = start(**options)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    """``scripts/virtuoso-up [DIR]``: start a server, print how to reach it, run until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(prog="virtuoso-up", description=main.__doc__)
    parser.add_argument("directory", nargs="?", help="database directory (default: a temporary one, removed)")
    parser.add_argument("--http-port", type=int)
    parser.add_argument("--sql-port", type=int)
    parser.add_argument("--buffers", type=int, default=TEST_BUFFERS, help="NumberOfBuffers (8 KiB pages)")
    args = parser.parse_args(argv)
    try:
        server = start(args.directory, http_port=args.http_port, sql_port=args.sql_port, buffers=args.buffers)
    except VirtuosoUnavailable as error:
        print(f"virtuoso-up: {error}", file=sys.stderr)
        return 2
    print(f"Virtuoso up in {server.startup_seconds:.1f} s, database in {server.directory}")
    print(f"  SPARQL (read)  {server.query_url}")
    print(f"  SPARQL update  {server.update_url}   (digest auth {server.user} / {server.password})")
    print(f"  Graph Store    {server.gsp_url}")
    print(f"  isql           isql-vt 127.0.0.1:{server.sql_port} dba {server.dba_password}")
    for key, value in server.environment().items():
        print(f"export {key}='{value}'")
    sys.stdout.flush()
    stop = signal.Signals.SIGTERM

    def _stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(stop, _stop)
    try:
        while server.process.poll() is None:
            time.sleep(0.5)
        print(f"virtuoso-t exited with {server.process.returncode}: {_tail(server.log)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
