"""The home page (the query editor), the VoID description and the dumps."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, send_file, url_for

from amity import iris
from amity.dumps import dump
from amity.ns import PREFIXES
from amity.void import void_description
from amity.web import amity
from amity.web.rdf import rdf_response

bp = Blueprint("meta", __name__)


@bp.route("/")
def index() -> str:
    """The query page: an editor with our prefixes, examples, results as a table, downloads."""
    from amity.catalogue import load_catalogue

    examples = [{"name": q.name, "title": q.title, "text": q.example_text()} for q in load_catalogue()]
    return render_template("index.html", prefixes=PREFIXES, examples=examples,
                           initial=request.args.get("query", ""))


def _graph_dump_url(graph: str) -> str:
    return url_for("meta.graph_dump", name=graph[len(iris.GRAPH):], _external=True)


@bp.route("/.well-known/void")
def void() -> Response:
    service = amity()
    store = service.store
    triples = void_description(
        store.reader(), (str(store.root), store.version()),
        sparql_endpoint=url_for("sparql.query", _external=True),
        dump_url=url_for("meta.dataset_dump", _external=True),
        graph_dump_url=_graph_dump_url,
    )
    return rdf_response(triples, request.args.get("format"))


@bp.route("/dumps/amity.nq.gz")
def dataset_dump() -> Response:
    return _send(dump(amity().store), "amity.nq.gz")


@bp.route("/dumps/graph/<path:name>.nq.gz")
def graph_dump(name: str) -> Response:
    return _send(dump(amity().store, iris.GRAPH + name), name.replace("/", "-") + ".nq.gz")


def _send(path, download_name: str) -> Response:
    response = send_file(path, mimetype="application/gzip", as_attachment=True, download_name=download_name,
                         conditional=True)
    return response
