"""The SPARQL 1.1 Graph Store HTTP Protocol at ``/store`` (indirect identification), history and dry runs.

* ``GET``/``HEAD /store?graph=IRI`` — any graph, to anyone, in the format negotiated (404 if there is none).
* ``GET /store?default`` — the *default graph as queries see it*: the union of all named graphs (the store's
  own default graph is always empty, and returning it would tell a client nothing). Read-only: writes are 403.
* ``PUT`` (replace), ``POST`` (add), ``DELETE /store?graph=IRI`` — ``Authorization: Bearer TOKEN``, and only
  on the partner's own graphs; 201 when the graph is new, 200 with a JSON account otherwise.
* ``GET /store/history?graph=IRI`` lists the recorded versions (``&version=N`` gives one as gzipped N-Quads);
  ``POST /store/rollback?graph=IRI&to=N`` restores one (token), itself recorded as a new version.
* ``POST /validate[?graph=IRI][&operation=add]`` runs every check of a merge and writes nothing.

Refusals, in the order they are checked: 401 (no or bad token), 403 (not the partner's graph), 415 (media
type), 413 (size), 400 (syntax, with line and column), 422 (shapes, with the SHACL report: JSON, or Turtle
when ``Accept: text/turtle``). Each is raised before anything is written; the rest is :mod:`amity.merge`.
"""

from __future__ import annotations

import json
import tempfile

from flask import Blueprint, Response, request, send_file, url_for
from pyoxigraph import NamedNode

from amity import formats, history, merge
from amity.memory import release_free_memory
from amity.ns import PREFIXES
from amity.partners import Partner, Registry, bearer_token, check_writable, graph_key
from amity.problems import BadParameter, BadRequest, Forbidden, NotFound, ShapeViolation
from amity.web import amity
from amity.web.errors import handle_amity_error
from amity.web.rdf import choose

bp = Blueprint("graphs", __name__)


@bp.after_request
def _release_memory_after_writes(response: Response) -> Response:
    """Writes and dry runs validate with rdflib and pySHACL: hand back what they freed (5–9 ms a write; run
    from ``call_on_close`` instead, after the answer had gone, it freed a fraction as much)."""
    if request.method in ("PUT", "POST", "DELETE"):
        release_free_memory()
    return response

SPOOL_BYTES = 8 * 1024 * 1024


def _target() -> str | None:
    """The graph a request names: an IRI (``?graph=``), or None for ``?default``."""
    graphs = request.args.getlist("graph")
    default = "default" in request.args
    if default == bool(graphs) or len(graphs) > 1:
        raise BadRequest("name one graph: ?graph=IRI, or ?default for the default graph")
    if default:
        return None
    try:
        return NamedNode(graphs[0]).value
    except ValueError as error:
        raise BadParameter(f"?graph= must be an absolute IRI: {error}",
                           extra={"parameter": "graph"}) from None


def _partner(required: bool = True) -> Partner | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None and not required:
        return None
    return Registry(amity().store).authenticate(token)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=1), status=status,
                    content_type="application/json")


def _upload() -> merge.Upload:
    service = amity()
    fmt = merge.upload_format(request.content_type)
    return merge.receive(
        lambda: request.stream, fmt, limit=service.settings.max_upload_bytes, declared=request.content_length,
        directory=service.store.root / merge.UPLOADS_DIR,
    )


@bp.route("/store", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def graph_store() -> Response:
    graph = _target()
    if request.method in ("GET", "HEAD"):
        return _read(graph)
    partner = _partner()
    assert partner is not None
    if graph is None:
        raise Forbidden("the default graph is the union of every named graph and cannot be written: "
                        f"write a graph of your own, below <{partner.graph}>")
    check_writable(partner, graph)
    store = amity().store
    if request.method == "DELETE":
        return _json(merge.delete(store, partner, graph))
    with _upload() as upload:
        result = merge.merge(store, partner, graph, upload,
                             operation="replace" if request.method == "PUT" else "add")
    result["history"] = url_for("graphs.graph_history", graph=graph, _external=True)
    response = _json(result, 201 if result["created"] else 200)
    if result["created"]:
        response.headers["Location"] = url_for("graphs.graph_store", graph=graph, _external=True)
    return response


def _read(graph: str | None) -> Response:
    """A graph (or the union) serialised to a spooled file, then sent: never the graph as Python objects."""
    reader = amity().store.reader()
    fmt = choose(request.args.get("format"))
    listed = graph is None or reader.contains_named_graph(NamedNode(graph))
    if not listed and not history.emptied(reader, graph):
        raise NotFound(f"there is no graph <{graph}>")
    if request.method == "HEAD":
        response = Response(status=200, content_type=fmt.content_type)
    else:
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (send_file closes it)
        prefixes = PREFIXES if fmt is formats.TURTLE else None
        if graph is None:
            reader.query("CONSTRUCT WHERE { ?s ?p ?o }", use_default_graph_as_union=True).serialize(
                body, fmt.rdf)
        elif listed:
            reader.dump(body, fmt.rdf, from_graph=NamedNode(graph), prefixes=prefixes)
        body.seek(0)
        response = send_file(body, mimetype=fmt.content_type, conditional=False)
        response.headers["Content-Type"] = fmt.content_type  # send_file appends a second charset to text/*
    response.headers["Vary"] = "Accept"
    return response


@bp.route("/store/history")
def graph_history() -> Response:
    """The versions of a graph with their provenance; with ``&version=N``, that version's content."""
    graph = _target()
    if graph is None:
        raise BadRequest("the default graph has no history: give ?graph=IRI")
    store = amity().store
    versions = history.versions(store.reader(), graph)
    if not versions:
        raise NotFound(f"<{graph}> has no recorded versions: only partner graphs merged here have a history")
    wanted = request.args.get("version")
    if wanted is not None:
        if not wanted.isdigit() or int(wanted) not in {v.version for v in versions}:
            raise NotFound(f"<{graph}> has no version {wanted}")
        path = history.version_path(store.root, graph_key(graph), int(wanted))
        return send_file(path, mimetype="application/gzip", as_attachment=True,
                         download_name=path.name, conditional=True)
    listing = []
    for version in versions:
        item = version.as_json()
        item["content"] = url_for("graphs.graph_history", graph=graph, version=version.version,
                                  _external=True)
        listing.append(item)
    return _json({"graph": graph, "versions": listing})


@bp.route("/store/rollback", methods=["POST"])
def graph_rollback() -> Response:
    graph = _target()
    partner = _partner()
    assert partner is not None
    if graph is None:
        raise Forbidden("the default graph cannot be written")
    check_writable(partner, graph)
    to = request.args.get("to", "")
    if not to.isdigit():
        raise BadParameter("?to= must be the version number to restore", extra={"parameter": "to"})
    return _json(merge.rollback(amity().store, partner, graph, int(to)))


@bp.route("/validate", methods=["POST"])
def dry_run() -> Response:
    """Every check of a merge, nothing written; a token is optional (see :func:`amity.merge.dry_run`)."""
    partner = _partner(required=False)
    graph = request.args.get("graph")
    if graph is not None:
        graph = _target()
    operation = request.args.get("operation", "replace")
    if operation not in ("replace", "add"):
        raise BadParameter("?operation= is replace (PUT) or add (POST)", extra={"parameter": "operation"})
    if partner is not None and graph is not None:
        check_writable(partner, graph)
    with _upload() as upload:
        return _json(merge.dry_run(amity().store, upload, graph=graph, operation=operation, partner=partner))


@bp.errorhandler(ShapeViolation)
def shape_violation(error: ShapeViolation) -> Response:
    """The SHACL report as Turtle when the client prefers it; the problem document otherwise."""
    offered = ["application/problem+json", "application/json", "text/turtle"]
    best = request.accept_mimetypes.best_match(offered)
    report = getattr(error, "report", None)
    if best == "text/turtle" and report is not None:
        return Response(report.turtle(), status=error.status, content_type=formats.TURTLE.content_type)
    return handle_amity_error(error)
