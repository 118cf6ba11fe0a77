"""What every loader shares: the source description, the build context, row problems.

A loader is a module with three names:

* ``GRAPH``: the IRI of the named graph it fills (``amity.iris.graph(...)``);
* ``SOURCE``: a :class:`Source` saying where the data comes from and under which licence;
* ``triples(ctx)``: a generator of ``(subject, predicate, object)`` pyoxigraph terms.

The build wraps the triples into quads of ``GRAPH``, counts them and writes the
graph's PROV/VoID description from ``SOURCE``. Loaders never write to the store
themselves, so they can be tested on their own and run in any order the
``LOADERS`` tuple gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pyoxigraph import BlankNode, Literal, NamedNode

if TYPE_CHECKING:
    from loaders.places import PlaceIndex

Term = NamedNode | Literal
Triple = tuple[NamedNode, NamedNode, Term]

#: Folder of the bundled source data (copies of ``shared/data`` with their SOURCE.md).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Source:
    """Where a graph's data comes from: the facts the graph's description states."""

    title: str
    url: str
    licence: str
    retrieved: str  # ISO date the source was retrieved or compiled
    attribution: str
    files: tuple[str, ...] = ()  # paths relative to DATA_DIR, or package names


@dataclass(frozen=True)
class RowProblem:
    """A source row the loader could not use: reported, never silently dropped."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Unmatched:
    """An entity a loader could not reconcile onto the gazetteer, and why."""

    source: str
    key: str
    label: str
    reason: str


@dataclass
class BuildContext:
    """State shared by the loaders of one build."""

    data_dir: Path = DATA_DIR
    places: PlaceIndex | None = None
    problems: list[RowProblem] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    def problem(self, file: str | Path, line: int, message: str) -> None:
        name = Path(file).name if isinstance(file, Path) else file
        self.problems.append(RowProblem(str(name), line, message))

    def unmatched_entity(self, source: str, key: str, label: str, reason: str) -> None:
        self.unmatched.append(Unmatched(source, key, label, reason))


class Loader(Protocol):
    GRAPH: str
    SOURCE: Source

    def triples(self, ctx: BuildContext) -> Iterator[Triple]: ...


def no_blank_nodes(triple: Triple) -> Triple:
    """Refuse blank nodes: they would make two builds give different quads."""
    if any(isinstance(term, BlankNode) for term in triple):
        raise ValueError(f"loaders must not mint blank nodes: {triple}")
    return triple
