"""Shared fixtures: the real default graph built once, the app in-process, and a live server.

* ``built_store`` runs the real ``amity build`` on the bundled data once per
  session; tests never write to it.
* ``app`` / ``client`` give Flask's test client on that store (queries run in
  this process: fast, no time limit).
* ``live_server`` is ``amity serve`` under gunicorn on a free port, for real
  clients (SPARQLWrapper, rdflib's SPARQLStore, requests, a browser), with a
  short query time limit so the timeout tests stay quick.
* ``writable_store`` is a private copy for tests that write.

The endpoint, saved-query and partner suites run on both stores: a module marked
``pytestmark = pytest.mark.both_stores`` has every test that uses ``store_kind`` (through
``served_store``, ``app``, ``client`` or ``live_server``) run once on the embedded store and once
on a throwaway Virtuoso (``tests/virtuoso.py`` installs Debian's package when it is missing). The
built default graph is loaded into Virtuoso once per session (``remote_built_store``); partner tests
get a second server they reset per test (``scratch_virtuoso``, ``tests/remote_stores.py``). Without
root to install Virtuoso the Virtuoso variants skip, unless ``AMITY_REQUIRE_VIRTUOSO=1`` (CI) makes
that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from amity.external import ExternalStore
from amity.store import EmbeddedStore, clone
from amity.testing import LiveServer, start_server, stop_server
from tests.remote_stores import STORE_KINDS, from_embedded

__all__ = ["LiveServer", "assert_problem", "start_server", "stop_server"]

LIVE_QUERY_TIMEOUT = 3.0


@pytest.fixture(scope="session")
def built_store(tmp_path_factory) -> EmbeddedStore:
    """The default graph, built from the bundled sources exactly as `amity build` does."""
    from amity.build import build

    prebuilt = os.environ.get("AMITY_TEST_STORE")
    if prebuilt:  # reuse a store built earlier with `amity build --store …` (local iteration only)
        return EmbeddedStore(prebuilt)
    store = EmbeddedStore(tmp_path_factory.mktemp("built") / "store")
    build(store, workers=2)
    return store


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "both_stores: run the tests that use store_kind on the embedded store "
                                       "and on Virtuoso")


def pytest_generate_tests(metafunc) -> None:
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def store_kind(request) -> str:
    """``embedded`` unless the module is marked ``both_stores`` (then each kind in turn)."""
    return getattr(request, "param", "embedded")


def _start_virtuoso():
    import virtuoso

    try:
        return virtuoso.start()
    except virtuoso.VirtuosoUnavailable as error:
        if os.environ.get("AMITY_REQUIRE_VIRTUOSO") == "1":
            raise
        pytest.skip(f"Virtuoso is not available: {error}")


@pytest.fixture(scope="session")
def virtuoso():
    """A throwaway Virtuoso holding the built default graph (never written by tests)."""
    server = _start_virtuoso()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scratch_virtuoso():
    """A second throwaway Virtuoso for tests that write; each resets it (tests/remote_stores.py)."""
    server = _start_virtuoso()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def remote_built_store(virtuoso, built_store, tmp_path_factory) -> ExternalStore:
    """The built default graph in Virtuoso, loaded once per session with the store's bulk path."""
    return from_embedded(virtuoso, built_store, tmp_path_factory.mktemp("remote-built") / "state")


@pytest.fixture(scope="session")
def served_store(store_kind, request) -> EmbeddedStore | ExternalStore:
    """The built default graph on the store under test."""
    return request.getfixturevalue("remote_built_store" if store_kind == "virtuoso" else "built_store")


@pytest.fixture(scope="session")
def app(served_store):
    from server import create_app

    app = create_app({"TESTING": True, "QUERY_WORKERS": 0}, store=served_store)
    yield app
    app.extensions["amity"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def writable_store(built_store, tmp_path) -> EmbeddedStore:
    return clone(built_store, tmp_path / "store")


@pytest.fixture(scope="session")
def live_server(served_store, tmp_path_factory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("live") / "server.log"
    server = start_server(served_store, log, timeout=LIVE_QUERY_TIMEOUT)
    yield server
    stop_server(server)


def assert_problem(response, status: int) -> dict:
    """Every error is an RFC 9457 problem document with the status it is sent with."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
