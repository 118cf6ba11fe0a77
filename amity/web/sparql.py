"""The SPARQL 1.1 Protocol at ``/sparql``: queries by GET, form POST and direct POST.

Without a query, ``GET /sparql`` describes the service (SPARQL Service
Description) in the RDF format asked for, or shows the query page to a browser.
"""

from __future__ import annotations

import itertools

from flask import Blueprint, Response, redirect, request, stream_with_context, url_for

from amity import formats
from amity.problems import BadRequest, PayloadTooLarge, UnsupportedMediaType
from amity.web import amity
from amity.web.rdf import rdf_response
from amity.web.service_description import service_description

bp = Blueprint("sparql", __name__)

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"


def _single(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise BadRequest(f"the request carries {len(values)} '{name}' parameters; send exactly one")
    return values[0] if values else None


def _format_name(values: list[str]) -> str | None:
    """The ``format`` parameter; SPARQLWrapper sends one twice, by name and by media type (``tsv`` and
    ``text/tab-separated-values``), which is fine as long as both name the same format."""
    if len(values) > 1:
        named = {formats.by_name(value, formats.RESULTS + formats.GRAPHS) for value in values}
        if len(named) == 1:
            return values[0]
    return _single(values, "format")


def _refuse_cut_body() -> None:
    """werkzeug stops a body without Content-Length (chunked) at the limit without a word: refuse it instead."""
    if request.content_length is None and getattr(request.stream, "is_exhausted", False):
        raise PayloadTooLarge(f"the request body is over the limit of {request.max_content_length} bytes")


def _text_body() -> str:
    data = request.get_data(cache=True)
    _refuse_cut_body()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the request body is not UTF-8: {error}") from None


def _query_from_request() -> tuple[str | None, dict[str, list[str]]]:
    """The query text and the protocol parameters, wherever the client put them."""
    if request.method == "GET":
        params = request.args
        if "update" in params:
            raise BadRequest("SPARQL Update is not accepted at the query endpoint")
        return _single(params.getlist("query"), "query"), params.to_dict(flat=False)
    media_type = (request.mimetype or "").lower()
    if media_type == FORM:
        try:
            form = request.form
        except UnicodeDecodeError as error:
            raise BadRequest(f"the form is not UTF-8: {error}") from None
        _refuse_cut_body()
        if "update" in form:
            raise BadRequest("SPARQL Update is not accepted at the query endpoint")
        params = {**request.args.to_dict(flat=False), **form.to_dict(flat=False)}
        return _single(params.get("query", []), "query"), params
    if media_type == SPARQL_QUERY:
        return _text_body(), request.args.to_dict(flat=False)
    if media_type == SPARQL_UPDATE:
        raise BadRequest("SPARQL Update is not accepted at the query endpoint")
    raise UnsupportedMediaType(
        f"POST /sparql takes {FORM} or {SPARQL_QUERY}, not {request.mimetype or 'a body without a type'}"
    )


@bp.route("/sparql", methods=["GET", "POST"])
def query() -> Response:
    """Answer a query; without one, describe the service."""
    # MAX_CONTENT_LENGTH is sized for partner uploads; a query gets the (smaller) request limit.
    request.max_content_length = request.max_form_memory_size = amity().settings.max_request_bytes
    text, params = _query_from_request()
    if text is None:
        if request.method == "POST":
            raise BadRequest("the request has no 'query' parameter")
        if request.accept_mimetypes.best_match(["text/turtle", "text/html"]) == "text/html" \
                and not request.args.get("format"):
            return redirect(url_for("meta.index"))
        return rdf_response(service_description(), request.args.get("format"))
    service = amity()
    prepared = service.prepare(
        text,
        accept=request.headers.get("Accept"),
        format_name=_format_name(params.get("format", [])),
        default_graphs=params.get("default-graph-uri", []),
        named_graphs=params.get("named-graph-uri", []),
    )
    response = Response(_body(service.run(prepared)), content_type=prepared.format.content_type)
    response.headers["Vary"] = "Accept"
    if prepared.capped:
        response.headers["X-SPARQL-MaxRows"] = str(prepared.row_cap)
    if "download" in params:
        response.headers["Content-Disposition"] = (
            f'attachment; filename="results.{prepared.format.extensions[0]}"'
        )
    return response


#: Results up to this size are sent whole, with a Content-Length; larger ones stream in chunks.
WHOLE_BODY_BYTES = 1024 * 1024


def _body(chunks):
    """The whole answer when it is small (most are), else a stream that starts with what was read.

    A small answer sent whole goes out in one write with a Content-Length, instead of chunked
    pieces that wait on the client's delayed acknowledgements.
    """
    iterator = iter(chunks)
    head: list[bytes] = []
    size = 0
    for chunk in iterator:
        head.append(chunk)
        size += len(chunk)
        if size >= WHOLE_BODY_BYTES:
            return stream_with_context(itertools.chain(head, iterator))
    return b"".join(head)


def offered_formats() -> tuple[formats.Format, ...]:
    return formats.RESULTS + formats.GRAPHS
