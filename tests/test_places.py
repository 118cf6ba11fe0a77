"""The place index on the real bundled data: reconciliation, key rule, look-ups, unmatched report."""

from __future__ import annotations

import doctest
from collections import Counter

import pytest
from place_index_cache import build_problems, copy_data, insert_lines, real_index

from amity import iris
from loaders import place_matching, place_names, place_sources, places, rdf_terms
from loaders.base import BuildContext
from loaders.place_names import is_russian_spelling, is_simplified_chinese
from loaders.places import PlaceIndex

# Kansas City, Missouri and Kansas City, Kansas: two Wikidata cities 8 km apart with the same name.
KANSAS_CITY_MO, KANSAS_CITY_KS = "Q41819", "Q486472"


@pytest.fixture(scope="module")
def index() -> PlaceIndex:
    return real_index()


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> tuple[BuildContext, PlaceIndex, dict[str, int]]:
    """An index built on a copy of the data with broken rows and a curated pin that overrides a match."""
    data = copy_data(tmp_path_factory.mktemp("data"))
    nodes = data / "wikidata-twin-cities-bothness" / "nodes.tsv"
    insert_lines(nodes, 3,
                 "Q999999991\tNowhere\tnot-a-number\t10.0\tGermany\tDE\tEurope",  # line 4
                 "Q999999992\tShort row\t13.4",  # line 5
                 "Q999999993\tBad country\t13.4\t52.5\tAtlantis\t-99\tEurope")  # line 6
    registry = data / "curated" / "places.yaml"
    kansas_ks = real_index().by_qid(KANSAS_CITY_KS).geonames_id
    text = registry.read_text(encoding="utf-8").rstrip("\n") + "\n"
    start = len(text.splitlines())
    text += (f"- key: kansas-city-pinned\n  kind: city\n  qid: {KANSAS_CITY_MO}\n  geonames: {kansas_ks}\n"
             "  country: US\n  names: {zh: 堪萨斯城, en: Kansas City}\n"
             "- key: a-river\n  kind: river\n  country: CN\n  names: {zh: 长江, en: Yangtze}\n")
    registry.write_text(text, encoding="utf-8")
    lines = {"pin": start + 1, "river": start + 7}
    ctx = BuildContext(data_dir=data)
    return ctx, PlaceIndex.build(ctx), lines


def test_doctests_of_the_place_modules_pass():
    for module in (place_names, place_matching, place_sources, places, rdf_terms):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.parametrize(("qid", "geonames_id", "zh"),
                         [("Q656", 498817, "圣彼得堡"), ("Q16572", 1809858, "广州")])
def test_known_cities_reconcile_to_one_iri(index, qid, geonames_id, zh):
    place = index.by_qid(qid)
    assert place is index.by_geonames(geonames_id) is index.by_geonames(str(geonames_id))
    assert (place.key, place.geonames_id, place.iri) == (qid, geonames_id, iris.city(qid))
    assert place.names["zh"] == zh and place.in_gazetteer


def test_each_key_follows_the_rule(index):
    for place in index:
        if place.qid:
            expected = place.qid
        elif place.geonames_id is not None:
            expected = f"gn-{place.geonames_id}"
        else:
            expected = "x-" + iris.slug(place.names["en"])
        assert place.key == expected, place


def test_keys_of_each_kind(index):
    assert index.resolve_curated("jiaozhou").key == "gn-1806096"  # GeoNames id only
    assert index.resolve_curated("ningbo-zhoushan-port").iri == iris.port("x-ningbo-zhoushan")
    ekurhuleni = [p for p in index.by_name("Ekurhuleni", "ZA") if "c40" in p.sources]
    assert [p.key for p in ekurhuleni] == ["x-ekurhuleni"]
    assert index.by_geonames(2643743).key == "Q84"  # London: QID from the twin file and the registry


def test_no_iri_qid_or_geonames_id_is_used_twice(index):
    all_places = list(index)
    for value in ([p.iri for p in all_places], [p.qid for p in all_places if p.qid],
                  [p.geonames_id for p in all_places if p.geonames_id is not None]):
        duplicates = [v for v, n in Counter(value).items() if n > 1]
        assert not duplicates


def test_counts_are_plausible(index):
    stats = index.stats
    assert 34_000 <= stats["gazetteer places"] <= 40_000
    assert stats["twin cities"] == 5_470
    assert 5_350 <= stats["twin cities matched"] <= 5_470
    assert stats["twin cities matched by name"] >= 5_000
    assert len(index) == stats["places"]
    assert sum(p.population is not None and p.population >= 15_000 for p in index) >= 34_000


def test_iteration_is_sorted_and_stable(index):
    keys = [(p.kind, p.key) for p in index]
    assert keys == sorted(keys)


def test_border_towns_match_by_name_and_take_the_geonames_country(index):
    assert index.by_qid("Q4077").country == "DE"  # Görlitz; the twin file says PL (point in polygon)
    assert index.by_qid("Q34047").country == "CA"  # Brockville; the twin file says US


def test_namesakes_each_get_their_own_geonames_city(index):
    mo, ks = index.by_qid(KANSAS_CITY_MO), index.by_qid(KANSAS_CITY_KS)
    assert mo.geonames_id and ks.geonames_id and mo.geonames_id != ks.geonames_id


def test_a_metropolitan_duplicate_does_not_steal_the_city(index):
    assert index.by_geonames(2996944).qid == "Q456"  # Lyon, not Q16665897 Metropolis of Lyon
    assert index.by_qid("Q16665897").geonames_id is None


def test_qids_without_coordinates_match_by_name_in_their_country(index):
    melbourne = index.by_qid("Q3141")  # from the C40 list only
    assert melbourne.geonames_id is not None and melbourne.country == "AU"
    assert melbourne.population > 3_000_000


def test_unmatched_entries_have_reasons(index):
    assert 1 <= len(index.unmatched) <= 150
    assert all(u.reason and u.source and u.ref for u in index.unmatched)
    by_ref = {u.ref: u for u in index.unmatched}
    assert "no QID" in by_ref["Ekurhuleni"].reason and by_ref["Ekurhuleni"].source == "c40"
    assert "went to Q456" in by_ref["Q16665897"].reason
    assert index.by_qid("Q16665897").in_gazetteer  # kept as a Wikidata-only city


def test_labels_are_in_the_script_of_their_language(index):
    for place in index:
        if "zh" in place.names and "curated" not in place.sources:
            assert is_simplified_chinese(place.names["zh"]), place
        if "ru" in place.names and "curated" not in place.sources:
            assert is_russian_spelling(place.names["ru"]), place
    tokyo = index.by_qid("Q1490")
    assert (tokyo.names["zh"], tokyo.names["ru"], tokyo.alt_labels["zh-Hant"]) == ("东京", "Токио", "東京")


def test_curated_names_win(index):
    qingdao = index.resolve_curated("qingdao")
    assert qingdao.key == "Q170322" and qingdao.names["zh"] == "青岛"
    with pytest.raises(KeyError):
        index.resolve_curated("atlantis")


@pytest.mark.parametrize(("name", "country", "key"), [
    ("QINGDAO", None, "Q170322"), ("青岛", "CN", "Q170322"), ("Санкт-Петербург", "RU", "Q656"),
    ("Leningrad", None, "Q656"), ("montreal", "CA", "Q340"), ("廣州", None, "Q16572"),
])
def test_by_name_finds_any_language_and_alternate_names(index, name, country, key):
    assert index.by_name(name, country)[0].key == key


def test_by_name_filters_by_country_and_orders_by_population(index):
    found = index.by_name("Paris")
    assert found[0].country == "FR" and len(found) > 1
    assert all(p.country == "US" for p in index.by_name("Paris", "us"))
    assert index.by_name("no such city anywhere") == []


def test_bad_rows_are_reported_with_file_and_line(broken):
    ctx, _, lines = broken
    reported = {(p.file, p.line) for p in ctx.problems}
    assert {("nodes.tsv", 4), ("nodes.tsv", 5), ("nodes.tsv", 6)} <= reported
    assert ("places.yaml", lines["river"]) in reported
    assert any("kind must be city or port" in p.message for p in ctx.problems)


def test_a_curated_geonames_id_wins_over_matching(broken):
    _, pinned, _ = broken
    kansas_ks = real_index().by_qid(KANSAS_CITY_KS).geonames_id
    assert pinned.by_qid(KANSAS_CITY_MO).geonames_id == kansas_ks
    assert pinned.by_qid(KANSAS_CITY_KS).geonames_id != kansas_ks
    assert pinned.resolve_curated("kansas-city-pinned").key == KANSAS_CITY_MO


def test_building_twice_gives_the_same_index(index, broken):
    """The second build differs only where its registry pinned Kansas City; everything else is identical."""
    _, again, _ = broken
    touched = {ix.by_qid(q).geonames_id for ix in (index, again) for q in (KANSAS_CITY_MO, KANSAS_CITY_KS)}

    def summary(ix: PlaceIndex) -> list[tuple]:
        return [(p.iri, p.geonames_id, p.country, tuple(sorted(p.names.items())), tuple(p.alt_labels.items()))
                for p in ix if p.geonames_id not in touched and p.qid not in (KANSAS_CITY_MO, KANSAS_CITY_KS)]

    assert summary(index) == summary(again)


def test_the_bundled_twin_cities_have_no_row_problems():
    assert [p for p in build_problems() if p.file == "nodes.tsv"] == []
