"""Saved queries over HTTP: the catalogue, a page per query with its form, every result format, OpenAPI.

``GET /queries/NAME`` answers a browser with a page (form, table, pictures,
downloads) and a program with the data, by ``Accept``, ``?format=`` or an
extension (``/queries/NAME.csv``). Either way the answer comes from
:func:`amity.catalogue.run`, the call the command line makes too.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, json, render_template, request, url_for

from amity import catalogue, formats, openapi, results
from amity.problems import AmityError, BadParameter
from amity.web import amity, maps
from amity.web.pictures import pictures

bp = Blueprint("queries", __name__)
PAGE_SIZE = 100
GRAPH_PREVIEW = 200_000  # bytes of Turtle shown on the page of a CONSTRUCT query
LIST_FORMATS = (formats.HTML, formats.JSON)


def _split(name: str) -> tuple[str, str | None]:
    stem, dot, extension = name.rpartition(".")
    return (stem, extension) if dot else (name, None)


def _request_values() -> tuple[dict[str, str], int | None, int]:
    """The query's parameters and the page asked for; a parameter given twice is refused."""
    values: dict[str, str] = {}
    for key, items in request.args.lists():
        if len(items) > 1:
            raise BadParameter(f"parameter {key!r} is given {len(items)} times; give it once",
                               extra={"parameter": key})
        if key not in catalogue.RESERVED:
            values[key] = items[0]
    limit, offset = catalogue.page_bounds(request.args.get("limit"), request.args.get("offset"))
    return values, limit, offset


def _link(name: str, values: dict[str, str], **extra: object) -> str:
    query = {**{k: v for k, v in values.items() if v}, **{k: v for k, v in extra.items() if v is not None}}
    return url_for("queries.show", name=name) + (("?" + urlencode(query)) if query else "")


@bp.route("/queries")
@bp.route("/queries.<extension>")
def index(extension: str | None = None) -> Response:
    """The catalogue: a page for people, JSON for programs."""
    fmt = formats.by_name(extension or request.args.get("format", ""), LIST_FORMATS) \
        if extension or request.args.get("format") else formats.negotiate(request.headers.get("Accept"),
                                                                          LIST_FORMATS)
    saved = catalogue.load_catalogue()
    if fmt is formats.JSON:
        body = [{**q.to_dict(), "url": url_for("queries.show", name=q.name, _external=True)} for q in saved]
        response = Response(json.dumps(body, ensure_ascii=False, indent=1), content_type="application/json")
    else:
        tags = sorted({tag for q in saved for tag in q.tags})
        response = Response(render_template("queries.html", queries=saved, tags=tags),
                            content_type=formats.HTML.content_type)
    response.headers["Vary"] = "Accept"
    return response


@bp.route("/queries/<name>")
def show(name: str) -> Response:
    """One saved query: its page, or its answer in the format asked for."""
    stem, extension = _split(name)
    query = catalogue.get(stem)
    offered = (formats.HTML, *query.offered)
    wanted = extension or request.args.get("format")
    fmt = formats.by_name(wanted, offered) if wanted \
        else formats.negotiate(request.headers.get("Accept"), offered)
    if fmt is formats.HTML:
        return _page(query)
    values, limit, offset = _request_values()
    answer = catalogue.run(amity(), stem, values, fmt.name, limit=limit, offset=offset)
    # The chunks need no request context (they come from the executor), so they stream as they are.
    response = Response(answer.chunks, content_type=fmt.content_type)
    links = [f'<{_link(stem + "." + f.extensions[0], values)}>; rel="alternate"; type="{f.media_type}"'
             for f in query.offered if f is not fmt]
    if answer.has_more and limit is not None:
        links.insert(0, f'<{_link(name, values, limit=limit, offset=offset + limit)}>; rel="next"')
    if offset and limit is not None:
        links.insert(0, f'<{_link(name, values, limit=limit, offset=max(offset - limit, 0))}>; rel="prev"')
    response.headers["Link"] = ", ".join(links)
    response.headers["Vary"] = "Accept"
    if answer.prepared.capped:
        response.headers["X-SPARQL-MaxRows"] = str(answer.prepared.row_cap)
    if "download" in request.args:
        response.headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt.extensions[0]}"'
    return response


def _page(query: catalogue.SavedQuery) -> Response:
    """The form, and below it one page of the answer as a table with its pictures and downloads."""
    service = amity()
    store = service.store.reader()
    values = {k: v for k, v in request.args.items() if k not in catalogue.RESERVED}
    problem: dict | None = None
    table = None
    graph_text = None
    answer = None
    status = 200
    choices = {p.name: catalogue.allowed_values(store, p) for p in query.params}
    missing = [p.name for p in query.params if p.required and not (values.get(p.name) or p.default)]
    try:
        _, limit, offset = _request_values()
        if not missing and query.form in ("SELECT", "ASK"):
            answer = catalogue.run(service, query.name, values, "json", limit=limit or PAGE_SIZE,
                                   offset=offset)
            table = results.parse(b"".join(answer.chunks))
        elif not missing:  # CONSTRUCT or DESCRIBE: show the Turtle, offer every RDF format
            answer = catalogue.run(service, query.name, values, "turtle", limit=limit, offset=offset)
            body = b"".join(answer.chunks)
            graph_text = body[:GRAPH_PREVIEW].decode("utf-8", "replace")
            if len(body) > GRAPH_PREVIEW:
                graph_text += "\n# … cut here: download the whole graph below"
    except AmityError as error:
        if error.status >= 500:
            raise
        problem, status = error.to_dict(), error.status
    figures = []
    if table is not None:
        background = maps.backdrop(store, (str(service.store.root), service.store.version())) \
            if query.hint("map") else ""
        figures = pictures(query, table, background)
    shown = [c for c in table.columns if c not in {p.name for p in query.params}] if table else []
    pager = {}
    if answer is not None and answer.limit:
        if answer.has_more:
            pager["next"] = _link(query.name, values, limit=request.args.get("limit"),
                                  offset=answer.offset + answer.limit)
        if answer.offset:
            pager["prev"] = _link(query.name, values, limit=request.args.get("limit"),
                                  offset=max(answer.offset - answer.limit, 0) or None)
    downloads = [(f.name, _link(query.name + "." + f.extensions[0], values, download=1))
                 for f in query.offered]
    editor = url_for("meta.index") + "?" + urlencode({"query": query.text})
    html = render_template("saved_query.html", query=query, values=values, choices=choices, problem=problem,
                           table=table, graph_text=graph_text, columns=shown, figures=figures, pager=pager,
                           downloads=downloads, answer=answer, editor=editor)
    response = Response(html, status=status, content_type=formats.HTML.content_type)
    if "next" in pager:
        response.headers["Link"] = f'<{pager["next"]}>; rel="next"'
    response.headers["Vary"] = "Accept"
    return response


@bp.route("/openapi.json")
def openapi_document() -> Response:
    """OpenAPI 3 for every saved query: parameters with types, enums and examples; responses per format."""
    document = openapi.document(amity().store.reader(), catalogue.load_catalogue(),
                                server_url=request.host_url.rstrip("/"))
    return Response(json.dumps(document, ensure_ascii=False, indent=1), content_type="application/json")
