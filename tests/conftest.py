"""Shared fixtures: the real default graph built once, the app in-process, and a live server.

* ``built_store`` runs the real ``amity build`` on the bundled data once per
  session; tests never write to it.
* ``app`` / ``client`` give Flask's test client on that store (queries run in
  this process: fast, no time limit).
* ``live_server`` is ``amity serve`` under gunicorn on a free port, for real
  clients (SPARQLWrapper, rdflib's SPARQLStore, requests, a browser), with a
  short query time limit so the timeout tests stay quick.
* ``writable_store`` is a private copy for tests that write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from amity.store import EmbeddedStore, clone
from amity.testing import LiveServer, start_server, stop_server

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


@pytest.fixture(scope="session")
def app(built_store):
    from server import create_app

    app = create_app({"TESTING": True, "STORE_PATH": built_store.root, "QUERY_WORKERS": 0})
    yield app
    app.extensions["amity"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def writable_store(built_store, tmp_path) -> EmbeddedStore:
    return clone(built_store, tmp_path / "store")


@pytest.fixture(scope="session")
def live_server(built_store, tmp_path_factory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("live") / "server.log"
    server = start_server(built_store, log, timeout=LIVE_QUERY_TIMEOUT)
    yield server
    stop_server(server)


def assert_problem(response, status: int) -> dict:
    """Every error is an RFC 9457 problem document with the status it is sent with."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
