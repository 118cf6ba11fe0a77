"""SELECT answers as Python rows: for the HTML table, the pictures and the command line's text table.

The query workers send serialized bytes, so the pages read the same SPARQL
JSON a client would get instead of holding pyoxigraph objects.

>>> table = parse(b'{"head":{"vars":["a","n"]},'
...               b'"results":{"bindings":[{"a":{"type":"literal","value":"x"}}]}}')
>>> table.columns, table.rows[0]["a"].value, table.rows[0]["n"]
(['a', 'n'], 'x', None)
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

from amity import iris


@dataclass(frozen=True)
class Cell:
    """One bound value as SPARQL JSON describes it."""

    type: str  # uri | literal | bnode | triple
    value: str
    language: str | None = None
    datatype: str | None = None

    @property
    def is_iri(self) -> bool:
        return self.type == "uri"

    @property
    def local(self) -> str | None:
        """Where one of our IRIs is served on this host (``/id/city/Q…``); None otherwise."""
        if self.is_iri and self.value.startswith(iris.BASE):
            return "/" + self.value[len(iris.BASE):]
        return None

    @property
    def short(self) -> str:
        """Our IRIs without the base, others as they are: what a table cell shows."""
        if self.is_iri and self.value.startswith(iris.BASE):
            return self.value[len(iris.BASE):]
        return self.value

    def number(self) -> float | None:
        try:
            return float(self.value)
        except ValueError:
            return None


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Cell | None]] = field(default_factory=list)
    boolean: bool | None = None

    def column(self, name: str) -> list[Cell | None]:
        return [row.get(name) for row in self.rows]


def parse(body: bytes) -> Table:
    """SPARQL 1.1 JSON results (SELECT or ASK) as a :class:`Table`."""
    data = json.loads(body)
    if "boolean" in data:
        return Table([], [], bool(data["boolean"]))
    columns = list(data["head"].get("vars", []))
    rows = []
    for binding in data["results"]["bindings"]:
        row: dict[str, Cell | None] = {}
        for name in columns:
            term = binding.get(name)
            row[name] = None if term is None else Cell(term["type"], str(term["value"]), term.get("xml:lang"),
                                                       term.get("datatype"))
        rows.append(row)
    return Table(columns, rows)


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def text_table(table: Table, *, max_width: int = 60) -> str:
    """A plain-text table for the terminal (``amity query … --format table``).

    >>> body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"1"}}]}}'
    >>> print(text_table(parse(body)))
    x
    -
    1
    (1 row)
    """
    if table.boolean is not None:
        return "yes" if table.boolean else "no"

    def show(cell: Cell | None) -> str:
        if cell is None:
            return ""
        text = cell.short.replace("\n", " ")
        return text if _width(text) <= max_width else text[: max_width - 1] + "…"

    grid = [[show(row[c]) for c in table.columns] for row in table.rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in grid]) for i, c in enumerate(table.columns)]

    def line(cells: list[str]) -> str:
        padded = (cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    out = [line(table.columns), line(["-" * w for w in widths])] + [line(r) for r in grid]
    out.append(f"({len(grid)} row{'s' if len(grid) != 1 else ''})")
    return "\n".join(out)
