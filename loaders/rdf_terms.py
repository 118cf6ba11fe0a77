"""Literal builders with the lexical forms the shapes expect (plain decimals, typed strings).

>>> decimal(1e-05).value, decimal(36.197472222).value, wkt_point(-0.1278, 51.50735).value
('0.00001', '36.197472222', 'POINT(-0.1278 51.50735)')
"""

from __future__ import annotations

from decimal import Decimal

from pyoxigraph import Literal

from amity.ns import GEO, XSD


def decimal_text(value: float | int | str) -> str:
    """A number in plain decimal notation: ``repr`` keeps the source's digits, ``'f'`` drops any exponent."""
    text = format(Decimal(repr(value) if isinstance(value, float) else str(value)), "f")
    return text if "." in text else text + ".0"


def decimal(value: float | int | str) -> Literal:
    return Literal(decimal_text(value), datatype=XSD.decimal)


def integer(value: int) -> Literal:
    return Literal(str(int(value)), datatype=XSD.integer)


def string(value: str | int) -> Literal:
    return Literal(str(value), datatype=XSD.string)


def text(value: str, language: str) -> Literal:
    return Literal(value, language=language)


def year(value: int) -> Literal:
    return Literal(f"{value:04d}", datatype=XSD.gYear)


def date(iso: str) -> Literal:
    return Literal(iso, datatype=XSD.date)


def wkt_point(long: float, lat: float) -> Literal:
    """A GeoSPARQL point: longitude first, as WKT orders axes."""
    return Literal(f"POINT({decimal_text(long)} {decimal_text(lat)})", datatype=GEO.wktLiteral)
