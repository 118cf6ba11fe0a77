"""Every saved query, run on the real default graph, answers what the articles and the data say.

One test per ``queries/*.rq`` (``test_every_saved_query_has_a_test`` keeps it
so), each checking real values: cities, roles, counts and quotes from the five
source articles and the bundled Wikidata, C40 and GeoNames layers. Then the
ways a parameter can be wrong, and the catalogue's own rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib
from pyoxigraph import Literal, NamedNode, Store, Variable

from amity import catalogue, iris, results
from amity.problems import BadParameter, NotAcceptable, NotFound

pytestmark = pytest.mark.both_stores

CITY = iris.ID + "city/"
ORG = iris.ID + "org/"
COUNTRY = iris.ID + "country/"
QINGDAO, GUANGZHOU, SAINT_PETERSBURG = CITY + "Q170322", CITY + "Q16572", CITY + "Q656"
A000, A001, A004 = (iris.ID + "source/" + stem for stem in
                    ("000_f1ca53fb8555da5d", "001_76dca03cc061995e", "004_a22a3d687938a3c4"))


def rows(store, name: str, **params: str) -> list[dict[str, str]]:
    """The answer as plain dicts of values (unbound columns left out)."""
    answer = catalogue.run(store, name, params, "json")
    table = results.parse(b"".join(answer.chunks))
    return [{k: cell.value for k, cell in row.items() if cell is not None} for row in table.rows]


def column(answer: list[dict[str, str]], name: str) -> set[str]:
    return {row[name] for row in answer if name in row}


TESTED: set[str] = set()


def covers(name: str):
    TESTED.add(name)
    return lambda test: test


# -- one test per saved query ----------------------------------------------------------------------------


@covers("twins-of-city")
def test_twins_of_qingdao_keep_formal_ties_and_intents_apart(served_store):
    answer = rows(served_store, "twins-of-city", city="Qingdao")
    curated = {row["partnerLabel"]: row for row in answer if row["graph"] == iris.graph("curated")}
    # Article 004: Saint Petersburg, Perm and Orsha are named as friendship-city channels (友城渠道) ...
    for partner in ("Saint Petersburg", "Perm", "Orsha"):
        assert curated[partner]["twinningStatus"] == "formal" and curated[partner]["article"] == A004
    # ... while Iran and Mongolia are among the countries with no formal partner yet: intents only.
    assert curated["Bandar Abbas"]["twinningStatus"] == "intent"
    assert curated["Ulaanbaatar"]["twinningStatus"] == "intent"
    assert all("lat" in row and "long" in row for row in answer if row["partner"] == SAINT_PETERSBURG)
    intents = rows(served_store, "twins-of-city", city="青岛", status="intent")
    assert column(intents, "partnerLabel") == {"Bandar Abbas", "Ulaanbaatar"}


def test_saint_petersburg_has_about_96_twins_in_the_wikidata_layer(served_store):
    answer = rows(served_store, "twins-of-city", city="Q656")
    wikidata = column([r for r in answer if r["graph"] == iris.graph("wikidata-twinnings")], "partner")
    assert 90 <= len(wikidata) <= 100


@covers("memberships-of-city")
def test_guangzhou_memberships_carry_the_roles_of_article_001(served_store):
    answer = rows(served_store, "memberships-of-city", city="广州")
    roles = {(row["organisation"].rsplit("/", 1)[-1], row.get("role")) for row in answer}
    assert {("metropolis", "president"), ("metropolis", "regional-office-host"), ("uclg", "council-member"),
            ("uclg", "executive-bureau-member"), ("wccf", "member"), ("c40", "member")} <= roles
    president = next(r for r in answer
                     if r["organisation"] == ORG + "metropolis" and r["role"] == "president")
    assert president["article"] == A001 and "世界大都市协会主席城市" in president["quote"]
    assert iris.graph("c40") in {r["graph"] for r in answer if r["organisation"] == ORG + "c40"}


@covers("members-of-network")
def test_network_members_by_country_and_by_role(served_store):
    chinese = rows(served_store, "members-of-network", network="c40", country="CN")
    assert {"Beijing", "Shanghai", "Guangzhou"} <= column(chinese, "memberLabel")
    assert column(chinese, "countryCode") == {"CN"}
    founders = rows(served_store, "members-of-network", network="maritime-silk-road-heritage-alliance",
                    role="initiator")
    assert column(founders, "memberLabel") == {"Guangzhou", "Ningbo", "Nanjing"}
    assert column(founders, "startDate") == {"2018"}


@covers("network-members-by-country")
def test_c40_members_counted_by_country(served_store):
    answer = rows(served_store, "network-members-by-country", network="c40")
    counts = {row["countryCode"]: int(row["members"]) for row in answer}
    assert counts["US"] >= 10 and counts["CN"] >= 10
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    sco = {row["countryCode"] for row in rows(served_store, "network-members-by-country", network="sco")}
    assert {"CN", "RU", "KZ", "IN", "PK", "MN", "IR"} <= sco  # member and observer countries count themselves


@covers("most-twinned-cities")
def test_saint_petersburg_tops_the_ranking_of_formal_twins(served_store):
    answer = rows(served_store, "most-twinned-cities")
    assert answer[0]["city"] == SAINT_PETERSBURG and int(answer[0]["twins"]) >= 90
    assert all(int(row["twins"]) >= 20 for row in answer)  # the default minimum
    chinese = rows(served_store, "most-twinned-cities", country="China", min_twins="40")
    assert {"Shanghai", "Beijing"} <= column(chinese, "cityLabel")
    assert column(chinese, "countryCode") == {"CN"} and all(int(r["twins"]) >= 40 for r in chinese)


@covers("twinnings-between-countries")
def test_china_russia_twinnings(served_store):
    answer = rows(served_store, "twinnings-between-countries", country_a="CN", country_b="Россия")
    pairs = {(row["cityALabel"], row["cityBLabel"]) for row in answer}
    assert {("Beijing", "Moscow"), ("Qingdao", "Saint Petersburg"), ("Qingdao", "Perm")} <= pairs
    assert column(answer, "country_a") == {COUNTRY + "CN"} and column(answer, "country_b") == {COUNTRY + "RU"}


@covers("countries-without-formal-partner")
def test_sco_countries_where_qingdao_has_no_formal_partner(served_store):
    answer = rows(served_store, "countries-without-formal-partner", city="Qingdao", network="sco")
    gaps = column(answer, "countryCode")
    # Article 004: "in Uzbekistan, Afghanistan, Iran, Mongolia, Nepal, Turkey and Sri Lanka, 7 countries, no
    # formal friendship city yet" — neither the curated nor the Wikidata layer knows one there.
    assert {"UZ", "AF", "IR", "MN", "NP", "TR", "LK"} <= gaps
    assert not gaps & {"RU", "BY", "KG", "TJ", "PK", "CN"}  # formal partners named in the article, and home
    iran = next(row for row in answer if row["countryCode"] == "IR")
    assert iran["intentPartnerLabel"] == "Bandar Abbas"


@covers("partners-in-network-countries")
def test_qingdao_circle_of_friends_in_sco_countries(served_store):
    answer = rows(served_store, "partners-in-network-countries", city="Qingdao", network="sco")
    named_in_004 = {"Saint Petersburg", "Perm", "Orsha", "Bishkek", "Dushanbe", "Karachi", "Bandar Abbas",
                    "Ulaanbaatar"}
    assert named_in_004 <= column(answer, "partnerLabel")
    assert {"RU", "BY", "KG", "TJ", "PK", "IR", "MN"} <= column(answer, "countryCode")
    assert "CN" not in column(answer, "countryCode")


@covers("friendship-ports")
def test_ningbo_zhoushan_friendship_ports(served_store):
    answer = rows(served_store, "friendship-ports", port="Ningbo-Zhoushan")
    assert {"Busan", "Port Klang", "Antwerp", "Algeciras"} <= column(answer, "partnerLabel")
    assert column(answer, "article") == {A000} and column(answer, "status") == {"formal"}
    every = rows(served_store, "friendship-ports")
    assert len(every) == len({row["twinning"] for row in every})  # each pair once without a port given


@covers("forum-editions")
def test_forums_with_their_editions_and_hosts(served_store):
    answer = rows(served_store, "forum-editions")
    coastal = next(row for row in answer if row.get("edition") == iris.forum("global-coastal-forum", "2023"))
    assert coastal["locationLabel"] == "Yancheng" and coastal["documents"] == "1"
    summit = next(row for row in answer if row.get("edition") == iris.forum("sco-summit", "2018"))
    assert summit["location"] == QINGDAO
    in_guangzhou = rows(served_store, "forum-editions", city="Guangzhou")
    assert iris.forum("global-mayors-forum") in column(in_guangzhou, "forum")
    assert column(in_guangzhou, "location") == {GUANGZHOU}


@covers("documents-adopted-at-forums")
def test_yancheng_consensus_adopted_at_the_2023_global_coastal_forum(served_store):
    answer = rows(served_store, "documents-adopted-at-forums", forum="global-coastal-forum")
    consensus = next(row for row in answer if row["document"] == iris.agreement("yancheng-consensus"))
    assert consensus["type"] == "consensus" and consensus["year"] == "2023" and consensus["article"] == A000
    assert rows(served_store, "documents-adopted-at-forums", forum="Park City Forum") == []


@covers("agreements-by-field")
def test_agreements_by_field_and_type(served_store):
    trade = column(rows(served_store, "agreements-by-field", field="trade"), "agreement")
    assert iris.agreement("global-ftz-partnership-initiative") in trade
    plans = rows(served_store, "agreements-by-field", type="plan")
    assert column(plans, "agreementType") == {"plan"}
    plan = iris.agreement("chengdu-chongqing-bri-innovation-zone-plan")
    chengdu = next(r for r in plans if r["agreement"] == plan)
    assert set(chengdu["signatories"].split("; ")) == {"Chengdu", "Chongqing"}


@covers("cluster-external-ties")
def test_beijing_tianjin_hebei_ties_reach_outside_the_cluster(served_store):
    answer = rows(served_store, "cluster-external-ties", cluster="beijing-tianjin-hebei")
    assert "Moscow" in column([r for r in answer if r["memberLabel"] == "Beijing"], "partnerLabel")
    assert not column(answer, "partnerLabel") & {"Beijing", "Tianjin", "Zhangjiakou"}
    with pytest.raises(BadParameter) as info:
        rows(served_store, "cluster-external-ties", cluster="atlantis")
    assert info.value.extra["parameter"] == "cluster" and iris.cluster("yangtze-river-delta") in \
        info.value.extra["allowed"]


@covers("consular-posts-in-city")
def test_guangzhou_hosts_66_consulates_general(served_store):
    answer = rows(served_store, "consular-posts-in-city", city="Guangzhou")
    figure = next(row for row in answer if row["kind"] == "headline figure")
    assert figure["count"] == "66" and figure["source"] == A001 and "66家" in figure["quote"]


@covers("ties-per-year")
def test_the_2018_heritage_alliance_shows_in_the_ties_of_2018(served_store):
    answer = {row["year"]: row for row in rows(served_store, "ties-per-year")}
    assert int(answer["2018"]["memberships"]) >= 3  # Guangzhou, Ningbo and Nanjing founded it in 2018
    assert all(int(r["total"]) == int(r["twinnings"]) + int(r["intents"]) + int(r["memberships"])
               for r in answer.values())


@covers("twinning-chain")
def test_shortest_chains_of_twinnings_are_real_and_shortest(served_store):
    store = served_store.reader()

    def twinned(a: str, b: str) -> bool:
        return bool(store.query("ASK { ?a <https://w3id.org/citydiplomacy/ontology#twinnedWith> ?b }",
                                substitutions={Variable("a"): NamedNode(a), Variable("b"): NamedNode(b)},
                                use_default_graph_as_union=True))

    direct = rows(served_store, "twinning-chain", **{"from": "Qingdao", "to": "Saint Petersburg"})
    assert direct == [{**direct[0], "hops": "1"}] and "via1" not in direct[0]
    for target in ("Lübeck, DE", "Berlin, DE"):
        chains = rows(served_store, "twinning-chain", **{"from": "Qingdao", "to": target})
        assert chains, target
        hops = {int(row["hops"]) for row in chains}
        assert len(hops) == 1 and 2 <= hops.pop() <= 4
        for row in chains:
            path = [row["from"]] + [row[v] for v in ("via1", "via2", "via3") if v in row] + [row["to"]]
            assert len(path) == int(row["hops"]) + 1
            assert all(twinned(a, b) for a, b in zip(path, path[1:], strict=False))
            assert not twinned(path[0], path[-1])


@covers("cities-near-point")
def test_cities_within_150_km_of_qingdao(served_store):
    answer = rows(served_store, "cities-near-point", lat="36.07", long="120.38", km="150")
    assert answer[0]["city"] == QINGDAO and float(answer[0]["distanceKm"]) < 5
    distances = [float(row["distanceKm"]) for row in answer]
    assert distances == sorted(distances) and distances[-1] <= 150
    assert "Shanghai" not in column(answer, "cityLabel")
    wider = rows(served_store, "cities-near-point", lat="36.07", long="120.38", km="600")
    shanghai = next(row for row in wider if row["cityLabel"] == "Shanghai")
    assert 500 < float(shanghai["distanceKm"]) < 600  # Qingdao–Shanghai is about 550 km


@covers("label-search")
def test_label_search_in_chinese_english_and_russian(served_store):
    assert rows(served_store, "label-search", text="青岛")[0]["thing"] == QINGDAO
    russian = rows(served_store, "label-search", text="Петербург", language="ru")
    assert SAINT_PETERSBURG in column(russian, "thing") and column(russian, "labelLanguage") == {"ru"}
    assert "City" in column(rows(served_store, "label-search", text="qingdao"), "class")


@covers("headline-figures")
def test_guangzhou_headline_figures_cite_article_001(served_store):
    answer = rows(served_store, "headline-figures", city="Guangzhou")
    values = {row["value"] for row in answer}
    assert {"91", "61", "66"} <= values
    ninety_one = next(row for row in answer if row["value"] == "91")
    assert ninety_one["article"] == A001 and "91个城市" in ninety_one["quote"]
    everything = rows(served_store, "headline-figures")
    assert len(everything) == len(column(everything, "observation"))  # once each without a city


@covers("founders-of-network")
def test_maritime_silk_road_heritage_alliance_founders(served_store):
    answer = rows(served_store, "founders-of-network", network="maritime-silk-road-heritage-alliance")
    assert column(answer, "founderLabel") == {"Guangzhou", "Ningbo", "Nanjing"}
    assert column(answer, "foundingDate") == {"2018"}


@covers("intents-to-twin")
def test_intents_are_not_formal_twins(served_store):
    answer = rows(served_store, "intents-to-twin", city="Qingdao")
    assert column(answer, "partnerLabel") == {"Bandar Abbas", "Ulaanbaatar"}
    assert column(answer, "article") == {A004}


@covers("initiatives-of-city")
def test_initiatives_of_guangzhou_and_tianjin(served_store):
    guangzhou = rows(served_store, "initiatives-of-city", city="Guangzhou")
    assert iris.initiative("guangzhou-award") in column(guangzhou, "initiative")
    tianjin = rows(served_store, "initiatives-of-city", city="Tianjin")
    assert iris.initiative("luban-workshop") in column(tianjin, "initiative")


@covers("facts-from-article")
def test_facts_from_article_004_quote_it(served_store):
    answer = rows(served_store, "facts-from-article", article=A004)
    assert column(answer, "article") == {A004}
    twinning = [row for row in answer if row["node"] == iris.twinning("Q170322", "Q656")]
    assert twinning and any("圣彼得堡" in row["quote"] for row in twinning)
    assert {"Twinning", "Observation", "City"} <= column(answer, "class")


@covers("partner-countries-of-city")
def test_partner_countries_add_up_to_the_formal_twins(served_store):
    answer = rows(served_store, "partner-countries-of-city", city="Guangzhou")
    formal = column(rows(served_store, "twins-of-city", city="Guangzhou", status="formal"), "partner")
    assert sum(int(row["twins"]) for row in answer) == len(formal)
    japan = next(row for row in answer if row["countryCode"] == "JP")
    assert "Fukuoka" in japan["cities"]


@covers("role-holders")
def test_guangzhou_is_a_president_city(served_store):
    answer = rows(served_store, "role-holders", role="president")
    assert (GUANGZHOU, ORG + "metropolis") in {(r["holder"], r["organisation"]) for r in answer}
    council = rows(served_store, "role-holders", role=iris.VOCAB + "role/council-member")
    assert GUANGZHOU in column(council, "holder")


@covers("city-profile-graph")
def test_city_profile_is_rdf_with_citations(served_store):
    answer = catalogue.run(served_store, "city-profile-graph", {"city": "Qingdao"}, "turtle")
    graph = rdflib.Graph().parse(data=b"".join(answer.chunks), format="turtle")
    twinning = rdflib.URIRef(iris.twinning("Q170322", "Q656"))
    cdo = rdflib.Namespace(iris.ONTOLOGY)
    assert (twinning, cdo.party, rdflib.URIRef(SAINT_PETERSBURG)) in graph
    quotes = [str(q) for q in graph.objects(None, cdo.quote)]
    assert any("圣彼得堡" in quote for quote in quotes)
    with pytest.raises(NotAcceptable):
        catalogue.run(served_store, "city-profile-graph", {}, "csv")


def test_every_saved_query_has_a_test():
    assert {q.name for q in catalogue.load_catalogue()} == TESTED
    assert len(TESTED) >= 20


# -- parameters ---------------------------------------------------------------------------------------------


def test_a_bad_integer_names_the_parameter(served_store):
    with pytest.raises(BadParameter) as info:
        rows(served_store, "most-twinned-cities", min_twins="many")
    assert info.value.extra == {"parameter": "min_twins", "expected": "an integer"}


def test_an_unknown_parameter_lists_the_known_ones(served_store):
    with pytest.raises(BadParameter) as info:
        rows(served_store, "twins-of-city", town="Qingdao")
    assert "town" in info.value.detail and info.value.extra["parameters"] == ["city", "status"]


def test_an_ambiguous_city_lists_candidates_that_resolve(served_store):
    with pytest.raises(BadParameter) as info:
        rows(served_store, "twins-of-city", city="Springfield")
    candidates = info.value.extra["candidates"]
    assert len(candidates) > 1 and all(c["iri"].startswith(CITY) for c in candidates)
    uses = [c["use"] for c in candidates]
    assert len(set(uses)) == len(uses)  # every suggestion names exactly one place
    assert rows(served_store, "twins-of-city", city=uses[0]) is not None


def test_an_unknown_city_and_a_bad_decimal_are_refused(served_store):
    with pytest.raises(BadParameter, match="no city is known as 'Xyzzyville'"):
        rows(served_store, "twins-of-city", city="Xyzzyville")
    with pytest.raises(BadParameter) as info:
        rows(served_store, "cities-near-point", lat="north")
    assert info.value.extra["parameter"] == "lat"


def test_a_value_outside_the_allowed_list_is_refused(served_store):
    with pytest.raises(BadParameter) as info:
        rows(served_store, "label-search", text="x", language="fr")
    assert info.value.extra["allowed"] == ["zh", "en", "ru"]


def test_a_city_is_found_by_every_kind_of_name(served_store):
    for form in ("Qingdao", "青岛", "Циндао", "Q170322", "wd:Q170322", "http://www.wikidata.org/entity/Q170322",
                 "1797929", "https://sws.geonames.org/1797929/", QINGDAO, "qingdao, cn"):
        answer = rows(served_store, "twins-of-city", city=form)
        assert column(answer, "city") == {QINGDAO}, form


@pytest.mark.parametrize("name", ["nope", "../queries/twins-of-city", "twins-of-city/../x", "Twins-Of-City",
                                  ""])
def test_unknown_or_crafted_names_are_not_found(served_store, name):
    with pytest.raises(NotFound):
        catalogue.run(served_store, name, {}, "json")


def test_paging_cuts_the_answer_into_pages(served_store):
    whole = rows(served_store, "twins-of-city", city="Q656")
    first = catalogue.run(served_store, "twins-of-city", {"city": "Q656"}, "json", limit=40)
    second = catalogue.run(served_store, "twins-of-city", {"city": "Q656"}, "json", limit=40, offset=40)
    last = catalogue.run(served_store, "twins-of-city", {"city": "Q656"}, "json", limit=40, offset=80)
    pages = [results.parse(b"".join(a.chunks)).rows for a in (first, second, last)]
    assert first.has_more and second.has_more and not last.has_more
    assert sum(len(p) for p in pages) == len(whole)
    with pytest.raises(BadParameter):
        catalogue.page_bounds("0", None)


# -- the catalogue's rules ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.rq"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_parameter_must_be_selected(tmp_path):
    path = write(tmp_path, "#+ title: t\n#+ description: d\n#+ params:\n#+   city: {type: city}\n"
                           "SELECT ?x WHERE { ?x ?p ?city }\n")
    with pytest.raises(ValueError, match=r"add \?city to the SELECT"):
        catalogue.parse_saved_query(path)


def test_bound_on_a_parameter_is_refused(tmp_path):
    path = write(tmp_path, "#+ title: t\n#+ description: d\n#+ params:\n#+   n: {type: integer}\n"
                           "SELECT ?x ?n WHERE { ?x ?p ?o FILTER(!BOUND(?n) || ?o > ?n) }\n")
    with pytest.raises(ValueError, match="COALESCE"):
        catalogue.parse_saved_query(path)


def test_reserved_names_and_bad_hints_are_refused(tmp_path):
    path = write(tmp_path, "#+ title: t\n#+ description: d\n#+ params:\n#+   limit: {type: integer}\n"
                           "SELECT ?limit WHERE {}\n")
    with pytest.raises(ValueError, match="reserved"):
        catalogue.parse_saved_query(path)
    path = write(tmp_path, "#+ title: t\n#+ description: d\n#+ map: {lat: y}\nSELECT * WHERE {}\n")
    with pytest.raises(ValueError, match="map hint"):
        catalogue.parse_saved_query(path)


def test_pyoxigraph_still_plans_bound_on_a_substituted_variable_as_unbound():
    """Why the catalogue refuses BOUND(?param): if this starts failing, pyoxigraph fixed it."""
    store = Store()
    query = "SELECT ?p (BOUND(?p) AS ?b) (COALESCE(?p, 0) AS ?c) WHERE {}"
    row = next(iter(store.query(query, substitutions={Variable("p"): Literal(1)})))
    assert row["b"].value == "false" and row["c"].value == "1"


def test_every_saved_query_is_documented_and_parameters_have_examples():
    for query in catalogue.load_catalogue():
        assert query.title and len(query.description) > 40, query.name
        assert re.match(r"^[a-z0-9-]+$", query.name)
        for parameter in query.params:
            assert parameter.description, (query.name, parameter.name)
            assert parameter.default or parameter.example or parameter.allowed_query or parameter.allowed, \
                (query.name, parameter.name)


def test_a_page_that_streams_does_not_wait_for_its_own_query_process(served_store, monkeypatch):
    """A page runs its query and a one-row probe for a next page; with one query process (a lane of one), the
    page's streamed answer must not hold that process while the probe waits for it."""
    from amity import executor
    from amity.service import Amity, Settings

    monkeypatch.setattr(executor, "QUEUE_SECONDS", 2.0)  # a regression fails in seconds, not half a minute
    service = Amity(Settings(query_workers=1, query_timeout=2.0, result_cache_bytes=0), store=served_store)
    try:
        answer = catalogue.run(service, "twins-of-city", {"city": "Q656"}, "json", limit=1000)
        table = results.parse(b"".join(answer.chunks))
        assert len(table.rows) > 90 and answer.has_more is False
    finally:
        service.close()


def test_a_city_in_full_width_letters_or_with_its_country_code_is_found(served_store):
    """Names not spelt as any label go through the normalised index."""
    qingdao = rows(served_store, "twins-of-city", city="Qingdao")
    assert qingdao and rows(served_store, "twins-of-city", city="ＱＩＮＧＤＡＯ") == qingdao
    assert rows(served_store, "twins-of-city", city="qingdao, cn") == qingdao


def test_a_web_process_keeps_at_most_two_name_indexes_of_a_kind():
    """One per published snapshot would grow with every partner write (an index of cities is tens of MiB)."""
    from amity import resolve

    handles = [Store() for _ in range(4)]  # four snapshots, as four partner writes would publish
    for handle in handles:
        resolve.candidates(handle, "city", "Ｎｏｗｈｅｒｅ")
    kept = [key for key in resolve._indexes if key[1] == "city"]
    assert kept == [(id(handles[2]), "city"), (id(handles[3]), "city")]
