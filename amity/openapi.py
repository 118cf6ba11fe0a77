"""An OpenAPI 3 document with one operation per saved query, so any HTTP client generator can call them.

Built from the catalogue on each request (a maintainer's new ``.rq`` appears at
once); allowed values that come from a query are read from the store given.
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import Store

from amity import __version__, formats
from amity.catalogue import MAX_LIMIT, Parameter, SavedQuery
from amity.parameters import DATE, LANGUAGE, allowed_values, pick_allowed
from amity.problems import BadParameter

MAX_ENUM = 300
PROBLEM = {"$ref": "#/components/responses/Problem"}

_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "city": {"type": "string",
             "description": "our IRI, a Wikidata QID or IRI, a GeoNames id or IRI, or a name in any language "
                            "(add ', CC' with the ISO country code if needed)"},
    "country": {"type": "string",
                "description": "ISO 3166 alpha-2 or alpha-3 code, our IRI, a QID or a name"},
    "network": {"type": "string", "description": "our IRI or slug (c40), a Wikidata QID, or a name"},
    "iri": {"type": "string", "format": "uri"},
    "string": {"type": "string", "maxLength": 500},
    "language": {"type": "string", "pattern": LANGUAGE.pattern},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "date": {"type": "string", "pattern": DATE.pattern},
}


def _parameter(store: Store, parameter: Parameter) -> dict[str, Any]:
    schema = dict(_TYPE_SCHEMAS[parameter.type])
    description = parameter.description or parameter.type
    if "description" in schema:
        description += f" ({schema.pop('description')})"
    # Cities, countries and networks are resolved from names, so their known values are not an enum.
    enumerated = parameter.allowed or (parameter.allowed_query and parameter.type in ("iri", "string"))
    allowed = allowed_values(store, parameter) if enumerated else []
    if allowed and len(allowed) <= MAX_ENUM:
        schema = {"type": "string", "enum": [value for value, _ in allowed]}
        if parameter.allowed_query:
            description += " (also accepted: the last segment of the IRI, e.g. " \
                           f"{allowed[0][0].rsplit('/', 1)[-1]!r}, or its English label)"
    if parameter.default is not None:
        schema["default"] = _typed(parameter.type, _canonical(store, parameter, parameter.default))
    out: dict[str, Any] = {"name": parameter.name, "in": "query", "required": parameter.required,
                           "description": description, "schema": schema}
    example = parameter.example or parameter.default
    if example is not None:
        out["example"] = _typed(parameter.type, _canonical(store, parameter, example))
    return out


def _canonical(store: Store, parameter: Parameter, value: str) -> str:
    """A default or example given in short form (``trade``) as the allowed IRI it stands for."""
    if parameter.allowed_query and not parameter.allowed:
        try:
            return pick_allowed(store, parameter, value)
        except BadParameter:
            return value
    return value


def _typed(kind: str, value: str) -> Any:
    """A default or example as the JSON type its schema says."""
    try:
        if kind == "integer":
            return int(value)
        if kind == "decimal":
            return float(value)
    except ValueError:
        pass
    return value


def _operation(store: Store, query: SavedQuery) -> dict[str, Any]:
    paging = [
        {"name": "limit", "in": "query", "required": False,
         "description": "answer one page of this many rows; "
                        "a `Link: rel=\"next\"` header points to the next page",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
        {"name": "offset", "in": "query", "required": False, "description": "rows to skip before the page",
         "schema": {"type": "integer", "minimum": 0, "default": 0}},
    ] if query.form == "SELECT" else []
    offered = (formats.HTML, *query.offered)
    content = {fmt.media_type: {"schema": {"type": "string"} if fmt.media_type != formats.JSON.media_type
                                else {"$ref": "#/components/schemas/SparqlResults"}} for fmt in offered}
    return {
        "operationId": query.name.replace("-", "_"),
        "summary": query.title,
        "description": query.description + "\n\nThe same answer: `amity query " + query.name
        + "`; a file: `/queries/" + query.name
        + ".{" + ",".join(f.extensions[0] for f in query.offered) + "}`.",
        "tags": list(query.tags) or ["saved queries"],
        "parameters": [_parameter(store, p) for p in query.params] + paging,
        "responses": {
            "200": {"description": f"the answer ({query.form}), in the format asked for by Accept",
                    "content": content,
                    "headers": {"Link": {"description": "next/prev pages and the other formats",
                                         "schema": {"type": "string"}}}},
            "400": PROBLEM, "404": PROBLEM, "406": PROBLEM, "503": PROBLEM,
        },
    }


def document(store: Store, catalogue: tuple[SavedQuery, ...], *, server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 description of the saved-query API."""
    paths: dict[str, Any] = {
        "/queries": {"get": {
            "operationId": "list_saved_queries", "summary": "The catalogue of saved queries",
            "tags": ["catalogue"],
            "responses": {"200": {"description": "every saved query with its parameters",
                                  "content": {"application/json": {"schema": {"type": "array",
                                                                               "items": {"type": "object"}}},
                                              "text/html": {"schema": {"type": "string"}}}}},
        }},
    }
    for query in catalogue:
        paths[f"/queries/{query.name}"] = {"get": _operation(store, query)}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Amity saved queries", "version": __version__,
                 "description": "The standard questions of city-diplomacy research as parameterised SPARQL "
                                "queries over the Amity graph. Parameters are bound as RDF terms, never "
                                "pasted into the query text. The free SPARQL endpoint is at /sparql."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {
                "SparqlResults": {"type": "object", "description": "SPARQL 1.1 Query Results JSON",
                                  "properties": {"head": {"type": "object"}, "results": {"type": "object"},
                                                 "boolean": {"type": "boolean"}}},
                "Problem": {"type": "object", "description": "RFC 9457 problem details",
                            "required": ["title", "status", "detail"],
                            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                           "status": {"type": "integer"}, "detail": {"type": "string"},
                                           "parameter": {"type": "string"},
                                           "candidates": {"type": "array", "items": {"type": "object"}}}},
            },
            "responses": {"Problem": {"description": "what went wrong, and for a parameter which one",
                                      "content": {"application/problem+json": {
                                          "schema": {"$ref": "#/components/schemas/Problem"}}}}},
        },
    }
