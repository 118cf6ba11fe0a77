"""A Flask app that answers every query with the same empty result, doing no work at all.

``benchmarks/endpoint.py`` serves it under gunicorn exactly as ``amity serve`` serves Amity, to measure the
fastest any Flask endpoint can answer over HTTP on this machine: the floor under every small-query figure.
"""

from __future__ import annotations

from flask import Flask, Response

EMPTY_RESULTS = b'{"head":{"vars":[]},"results":{"bindings":[]}}'

app = Flask(__name__)


@app.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    return Response(EMPTY_RESULTS, content_type="application/sparql-results+json")
