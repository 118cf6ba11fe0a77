"""The ontology and its SKOS schemes, so terms and concept labels are queryable and dereferenceable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import BlankNode, NamedNode, RdfFormat, parse

from amity import iris
from loaders.base import BuildContext, Source, Triple

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"

GRAPH = iris.graph("ontology")
SOURCE = Source(
    title="Amity city-diplomacy ontology (cdo) and SKOS concept schemes (cdv)",
    url=iris.BASE + "ontology",
    licence="https://creativecommons.org/licenses/by/4.0/",
    retrieved="2026-11-24",
    attribution="Amity developers",
    files=("ontology/",),
)


def ontology_files(directory: Path = ONTOLOGY_DIR) -> list[Path]:
    """Every Turtle file of the ontology, in a fixed order."""
    return sorted(directory.rglob("*.ttl"))


def triples(ctx: BuildContext) -> Iterator[Triple]:
    """Parse each file, replacing blank nodes by skolem IRIs numbered in order of appearance.

    pyoxigraph gives blank nodes fresh random ids on every parse; numbering them
    per file keeps two builds' quads identical.
    """
    for path in ontology_files():
        skolem: dict[str, NamedNode] = {}

        def fixed(term, stem=path.stem, skolem=skolem):
            if isinstance(term, BlankNode):
                if term.value not in skolem:
                    skolem[term.value] = NamedNode(f"{iris.BASE}.well-known/genid/{stem}-{len(skolem) + 1}")
                return skolem[term.value]
            return term

        for quad in parse(path=str(path), format=RdfFormat.TURTLE):
            yield fixed(quad.subject), quad.predicate, fixed(quad.object)
