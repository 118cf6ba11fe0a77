"""Dereferenceable IRIs: ``https://w3id.org/citydiplomacy/{path}`` is served at ``/{path}``.

People get an HTML page (labels in every language, every statement with its
graph, incoming links, a city's twins and memberships, a small map); programs
get Turtle, N-Triples, JSON-LD or RDF/XML by content negotiation, or by a
``.ttl``/``.nt``/``.jsonld``/``.rdf`` extension or ``?format=``.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from amity import formats, iris
from amity.describe import Description, compact, describe
from amity.problems import NotFound
from amity.web import amity
from amity.web.maps import place_map
from amity.web.rdf import rdf_response

bp = Blueprint("entities", __name__)

PAGE_FORMATS = (formats.HTML, *formats.GRAPHS)
_EXTENSIONS = {ext: fmt for fmt in formats.GRAPHS + (formats.HTML,) for ext in fmt.extensions}


def _split_extension(path: str) -> tuple[str, formats.Format | None]:
    stem, dot, extension = path.rpartition(".")
    if dot and extension in _EXTENSIONS and "/" not in extension:
        return stem, _EXTENSIONS[extension]
    return path, None


def _answer(iri: str, path_for_extension: str | None = None) -> Response:
    store = amity().store.reader()
    description = describe(store, iri)
    chosen: formats.Format | None = None
    if not description.found and path_for_extension is not None:
        stem, chosen = _split_extension(path_for_extension)
        if chosen is not None:
            iri = iri[: len(iri) - len(path_for_extension)] + stem
            description = describe(store, iri)
    if not description.found:
        raise NotFound(f"nothing is known about <{iri}>")
    if chosen is None:
        format_name = request.args.get("format")
        chosen = formats.by_name(format_name, PAGE_FORMATS) if format_name \
            else formats.negotiate(request.headers.get("Accept"), PAGE_FORMATS)
    if chosen is formats.HTML:
        response = Response(_page(description), content_type=formats.HTML.content_type)
    else:
        response = rdf_response(description.triples(), fmt=chosen)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(
        f'<{request.base_url}?format={fmt.name}>; rel="alternate"; type="{fmt.media_type}"'
        for fmt in formats.GRAPHS
    )
    return response


def _page(description: Description) -> str:
    return render_template(
        "entity.html", d=description, compact=compact, iris=iris,
        map_svg=place_map(description) if description.point or description.twins else None,
        local=local_path,
    )


def local_path(iri: str) -> str:
    """A safe link target: our IRIs on this host, other http(s) IRIs as they are, nothing else.

    Partners' data may carry ``javascript:`` or ``data:`` IRIs; those must never become clickable.
    """
    if iri.startswith(iris.BASE):
        return "/" + iri[len(iris.BASE):]
    if iri.startswith(("http://", "https://")):
        return iri
    return "#"


@bp.route("/id/<path:path>")
def thing(path: str) -> Response:
    return _answer(iris.ID + path, path)


@bp.route("/vocab/<path:path>")
def concept(path: str) -> Response:
    return _answer(iris.VOCAB + path, path)


@bp.route("/graph/<path:path>")
def graph(path: str) -> Response:
    return _answer(iris.GRAPH + path, path)


@bp.route("/ontology")
def ontology() -> Response:
    """The ontology document: every ``ontology#Term`` is documented here, under its own anchor."""
    from amity.ontology_doc import ontology_terms, ontology_triples

    store = amity().store.reader()
    format_name = request.args.get("format")
    chosen = formats.by_name(format_name, PAGE_FORMATS) if format_name \
        else formats.negotiate(request.headers.get("Accept"), PAGE_FORMATS)
    if chosen is formats.HTML:
        response = Response(render_template("ontology.html", terms=ontology_terms(store), local=local_path,
                                             compact=compact), content_type=formats.HTML.content_type)
    else:
        response = rdf_response(ontology_triples(store), fmt=chosen)
    response.headers["Vary"] = "Accept"
    return response
