"""The curated graph: every quote is in its article, and SPARQL over it answers the articles' questions.

The expected values below are read off the five articles (``shared/seeds``), not off the loader's output:
each test says which sentence it checks. Labels and concept names are used to find things, never the
loader's keys, so a re-keyed entity cannot make a test pass by accident.

The loader runs once for the module, on the real YAML, against an in-memory store (no build, no SHACL):
the whole module takes a few seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pyoxigraph import NamedNode, Quad, Store

from amity import iris
from amity.ns import PREFIXES
from loaders import curated
from loaders.base import BuildContext, no_blank_nodes

ROOT = Path(__file__).resolve().parent.parent
CURATED = ROOT / "data" / "curated"
#: The article texts: bundled under data/seeds if the build has them, else the shared folder next to the repo.
SEEDS = next((path for path in (ROOT / "data" / "seeds", ROOT.parent / "shared" / "seeds") if path.is_dir()),
             None)
ARTICLE_000, ARTICLE_001, ARTICLE_004 = (
    "000_f1ca53fb8555da5d.txt", "001_76dca03cc061995e.txt", "004_a22a3d687938a3c4.txt")
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")

needs_articles = pytest.mark.skipif(SEEDS is None, reason="the article texts (shared/seeds) are not at hand")


def normalised(text: str) -> str:
    """Whitespace collapsed and article 003's bracketed pinyin dropped: how a quote is matched."""
    return re.sub(r"\s+", " ", PINYIN.sub("", text)).strip()


def data_dir(tmp_path: Path, curated_dir: Path, seeds: Path | None) -> Path:
    """A data folder with the given curated files and article texts, as ``ctx.data_dir / ...`` expects."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "curated").symlink_to(curated_dir)
    if seeds is not None:
        (root / "seeds").symlink_to(seeds)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[BuildContext, list]:
    ctx = BuildContext(data_dir=data_dir(tmp_path_factory.mktemp("curated"), CURATED, SEEDS))
    return ctx, list(curated.triples(ctx))


@pytest.fixture(scope="module")
def store(run) -> Store:
    _ctx, triples = run
    store = Store()
    graph = NamedNode(curated.GRAPH)
    store.extend(Quad(s, p, o, graph) for s, p, o in triples)
    return store


def select(store: Store, query: str) -> list[dict[str, str]]:
    """Rows of a SELECT over the union of the graphs, each value as its lexical form."""
    prologue = "".join(f"PREFIX {prefix}: <{iri}>\n" for prefix, iri in PREFIXES.items())
    solutions = store.query(prologue + query, use_default_graph_as_union=True)
    names = [variable.value for variable in solutions.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in solutions]


def local(iri: str) -> str:
    return iri.rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------------------------
# The YAML and its citations
# ------------------------------------------------------------------------------------------------------------

def test_the_real_yaml_loads_without_problems(run):
    ctx, triples = run
    assert [str(problem) for problem in ctx.problems] == []
    assert len(triples) > 1000


def test_no_blank_nodes_and_the_same_triples_every_run(run, tmp_path):
    _ctx, triples = run
    for triple in triples:
        no_blank_nodes(triple)
    again = list(curated.triples(BuildContext(data_dir=data_dir(tmp_path, CURATED, SEEDS))))
    assert again == triples


def _quoted(value, source=None):
    """(source, quote) for every quote in a parsed YAML file, nested editions and ``also`` lists included."""
    if isinstance(value, dict):
        source = value.get("source") or value.get("file") or source
        quotes = value.get("quote")
        for quote in [quotes] if isinstance(quotes, str) else quotes or []:
            yield source, quote
        for name, item in value.items():
            if name != "quote":
                yield from _quoted(item, source)
    elif isinstance(value, list):
        for item in value:
            yield from _quoted(item, source)


@needs_articles
def test_every_quote_occurs_in_its_article():
    articles = {path.name: normalised(path.read_text(encoding="utf-8")) for path in SEEDS.glob("*.txt")}
    checked = 0
    for path in sorted(CURATED.glob("*.yaml")):
        for source, quote in _quoted(yaml.safe_load(path.read_text(encoding="utf-8"))):
            assert source in articles, f"{path.name}: unknown source {source!r}"
            assert normalised(quote) in articles[source], f"{path.name}: not in {source}: {quote}"
            checked += 1
    assert checked > 200


def test_every_curated_node_cites_its_article_with_a_quote(store):
    uncited = select(store, """
        SELECT ?node WHERE {
          ?node a ?class .
          FILTER(?class NOT IN (cdo:SourceDocument, prov:Derivation))
          FILTER NOT EXISTS {
            ?node prov:wasDerivedFrom ?source ; prov:qualifiedDerivation ?citation .
            ?citation a prov:Derivation ; prov:entity ?source ; cdo:quote ?quote .
            ?source a cdo:SourceDocument .
          }
        }""")
    assert uncited == []


def test_the_five_articles_are_source_documents(store):
    rows = select(store, """
        SELECT ?file ?issued ?language WHERE {
          ?doc a cdo:SourceDocument ; dcterms:identifier ?file ; dcterms:language ?language .
          OPTIONAL { ?doc dcterms:issued ?issued }
        }""")
    assert {row["file"] for row in rows} == {
        ARTICLE_000, ARTICLE_001, "002_a641c043728682c4.txt", "003_83f388a3a6206e82.txt", ARTICLE_004}
    issued = {row["file"]: row.get("issued") for row in rows}
    # Mastheads: 000 "2024-04-24 来源:中国社会科学网", 001 "2021年09月13日", 004 "2024-03-25";
    # 002 has no date.
    assert (issued[ARTICLE_000], issued[ARTICLE_001], issued[ARTICLE_004]) == (
        "2024-04-24", "2021-09-13", "2024-03-25")
    assert issued["002_a641c043728682c4.txt"] is None
    assert {row["language"] for row in rows} == {"zh"}


# ------------------------------------------------------------------------------------------------------------
# Article 004: Qingdao's SCO partner cities
# ------------------------------------------------------------------------------------------------------------

# "截至目前,青島市“朋友圈”已擴大到上合組織10個國家的13個城市": the 12 cities of the maritime and rail network
# lists ("構建包含俄羅斯圣彼得堡、巴基斯坦卡拉奇、柬埔寨西哈努克省、伊朗阿巴斯港、哈薩克斯坦阿克套港在內的…";
# "依托俄羅斯喀山、白俄羅斯奧爾沙、蒙古烏蘭巴托、塔吉克斯坦杜尚別、吉爾吉斯斯坦比什凱克、哈薩克斯坦阿拉木圖、
# 阿塞拜疆甘賈等城市…") and Perm ("依托圣彼得堡、彼爾姆、奧爾沙等友城渠道").
QINGDAO_SCO_PARTNERS = {
    "Saint Petersburg": "RU", "Karachi": "PK", "Preah Sihanouk": "KH", "Bandar Abbas": "IR", "Aktau": "KZ",
    "Kazan": "RU", "Orsha": "BY", "Ulaanbaatar": "MN", "Dushanbe": "TJ", "Bishkek": "KG", "Almaty": "KZ",
    "Ganja": "AZ", "Perm": "RU",
}
# "在烏茲別克斯坦、阿富汗、伊朗、蒙古、尼泊爾、土耳其、斯里蘭卡等7個國家尚未正式建立友城"
NO_FORMAL_FRIENDSHIP_CITY = {"UZ", "AF", "IR", "MN", "NP", "TR", "LK"}

SCO_COUNTRIES = """
    ?sco skos:prefLabel "Shanghai Cooperation Organisation"@en .
    ?membership a org:Membership ; org:organization ?sco ; org:member ?country ; org:role ?role .
"""


def test_qingdao_has_13_partner_cities_in_10_sco_countries(store):
    rows = select(store, f"""
        SELECT DISTINCT ?name ?country WHERE {{
          ?qingdao skos:prefLabel "Qingdao"@en .
          {{ ?twinning a cdo:Twinning ; cdo:party ?qingdao, ?city . }}
          UNION
          {{ ?network a cdo:Initiative ; cdo:initiatedBy ?qingdao ; cdo:participant ?city .
             ?city a cdo:City . }}
          FILTER(?city != ?qingdao)
          ?city skos:prefLabel ?name ; cdo:country ?country .
          FILTER(LANG(?name) = "en")
          {SCO_COUNTRIES}
        }}""")
    found = {row["name"]: local(row["country"]) for row in rows}
    assert found == QINGDAO_SCO_PARTNERS
    counts = select(store, f"""
        SELECT ?measure ?value WHERE {{
          ?qingdao skos:prefLabel "Qingdao"@en .
          ?sco skos:prefLabel "Shanghai Cooperation Organisation"@en .
          ?obs a cdo:Observation ; cdo:measure ?measure ; schema:value ?value ; schema:observationDate ?date ;
               schema:observationAbout ?qingdao, ?sco ; prov:wasDerivedFrom ?doc .
          ?doc dcterms:identifier "{ARTICLE_004}" .
          FILTER(?measure IN (<{iris.concept("measure", "partner-cities")}>,
                              <{iris.concept("measure", "partner-countries")}>))
          FILTER(STR(?date) != "2018")  # the other partner-cities figure: the 4 before the 2018 summit
        }}""")
    assert {local(row["measure"]): int(row["value"]) for row in counts} == {
        "partner-cities": 13, "partner-countries": 10}
    assert len(found) == 13 and len(set(found.values())) == 10


def test_qingdao_ties_keep_their_status(store):
    rows = select(store, """
        SELECT ?name ?status ?type ?country WHERE {
          ?qingdao skos:prefLabel "Qingdao"@en .
          ?twinning a cdo:Twinning ; cdo:party ?qingdao, ?city ; cdo:status ?status ; cdo:twinningType ?type .
          FILTER(?city != ?qingdao)
          ?city skos:prefLabel ?name ; cdo:country ?country . FILTER(LANG(?name) = "en")
        }""")
    status = {row["name"]: local(row["status"]) for row in rows}
    # "依托圣彼得堡、彼爾姆、奧爾沙等友城渠道": established friendship-city channels.
    assert {status.get(city) for city in ("Saint Petersburg", "Perm", "Orsha")} == {"formal"}
    # A partner in a country without a formal friendship city can only be an intent to twin.
    in_those_countries = {row["name"] for row in rows if local(row["country"]) in NO_FORMAL_FRIENDSHIP_CITY}
    assert in_those_countries == {"Bandar Abbas", "Ulaanbaatar"}
    assert {status[city] for city in in_those_countries} == {"intent"}
    # The article never says which ties are 友好城市 and which 友好合作关系城市: none is typed more precisely.
    assert {local(row["type"]) for row in rows} == {"sister-city"}


def test_sco_countries_where_qingdao_has_no_formal_friendship_city(store):
    rows = select(store, f"""
        SELECT DISTINCT ?country WHERE {{
          ?qingdao skos:prefLabel "Qingdao"@en .
          ?obs a cdo:Observation ; cdo:measure <{iris.VOCAB}measure/friendship-cities> ;
               schema:observationAbout ?qingdao ; cdo:country ?country ; schema:value 0 .
          {SCO_COUNTRIES}
        }}""")
    assert {local(row["country"]) for row in rows} == NO_FORMAL_FRIENDSHIP_CITY
    total = select(store, f"""
        SELECT ?value WHERE {{
          ?obs cdo:measure <{iris.VOCAB}measure/countries-without-friendship-city> ; schema:value ?value .
        }}""")
    assert [int(row["value"]) for row in total] == [len(NO_FORMAL_FRIENDSHIP_CITY)]


def test_no_formal_tie_contradicts_the_seven_countries(store):
    """Subtracting the countries of Qingdao's formal ties from the SCO countries leaves at least the seven."""
    rows = select(store, f"""
        SELECT DISTINCT ?country WHERE {{
          {SCO_COUNTRIES}
          FILTER(?country != <{iris.country("CN")}>)
          FILTER NOT EXISTS {{
            ?qingdao skos:prefLabel "Qingdao"@en .
            ?twinning cdo:party ?qingdao, ?city ; cdo:status <{iris.concept("twinning-status", "formal")}> .
            ?city cdo:country ?country .
          }}
        }}""")
    left = {local(row["country"]) for row in rows}
    assert left >= NO_FORMAL_FRIENDSHIP_CITY


def test_sco_members_observers_and_dialogue_partners(store):
    rows = select(store, f"SELECT ?country ?role WHERE {{ {SCO_COUNTRIES} }}")
    roles = {(local(row["country"]), local(row["role"])) for row in rows}
    # Article 002: "观察员国(如白俄罗斯、蒙古、伊朗)和对话伙伴国(如土耳其、阿塞拜疆、柬埔寨、尼泊尔、
    # 斯里兰卡等)".
    assert {("BY", "observer"), ("MN", "observer"), ("IR", "observer")} <= roles
    assert {(code, "dialogue-partner") for code in ("TR", "AZ", "KH", "NP", "LK")} <= roles
    assert {("CN", "member"), ("RU", "member"), ("KZ", "member"), ("UZ", "member"), ("IN", "member"),
            ("PK", "member")} <= roles


# ------------------------------------------------------------------------------------------------------------
# Article 001: Guangzhou
# ------------------------------------------------------------------------------------------------------------

def test_guangzhou_roles_in_city_networks(store):
    rows = select(store, """
        SELECT ?network ?role WHERE {
          ?guangzhou skos:prefLabel "Guangzhou"@en .
          ?membership a org:Membership ; org:member ?guangzhou ; org:organization ?org ; org:role ?role .
          { ?org skos:prefLabel ?network } UNION { ?org skos:altLabel ?network }
          FILTER(LANG(?network) = "zh")
        }""")
    roles = {(row["network"], local(row["role"])) for row in rows}
    # "连任世界城地组织世界理事会和执行局城市,成功竞选世界城地组织亚太区妇女委员会主席,
    # 当选世界大都市协会主席城市,争取世界大都市协会亚太区办公室落户。
    # 加入世界城市文化论坛、C40城市气候领导联盟等国际城市多边组织"
    assert {
        ("世界城地组织", "council-member"), ("世界城地组织", "executive-bureau-member"),
        ("世界城地组织亚太区妇女委员会", "president"),
        ("世界大都市协会", "president"), ("世界大都市协会", "regional-office-host"),
        ("世界城市文化论坛", "member"), ("C40城市气候领导联盟", "member"),
    } <= roles
    # "创设全球市长论坛": Guangzhou founded the Global Mayors Forum.
    founded = select(store, """
        SELECT ?forum WHERE {
          ?guangzhou skos:prefLabel "Guangzhou"@en .
          ?f a cdo:Forum ; schema:founder ?guangzhou ; skos:prefLabel ?forum . FILTER(LANG(?forum) = "zh")
        }""")
    assert {row["forum"] for row in founded} == {"全球市长论坛"}


def test_guangzhou_91_friendship_cities_in_61_countries_is_an_observation_of_article_001(store):
    rows = select(store, """
        SELECT ?measure ?value ?date ?quote WHERE {
          ?guangzhou skos:prefLabel "Guangzhou"@en .
          ?obs a cdo:Observation ; schema:observationAbout ?guangzhou ; cdo:measure ?measure ;
               schema:value ?value ; schema:observationDate ?date ;
               prov:wasDerivedFrom ?doc ; prov:qualifiedDerivation [ prov:entity ?doc ; cdo:quote ?quote ] .
          ?doc dcterms:identifier "001_76dca03cc061995e.txt" .
        }""")
    figures = {(local(row["measure"]), int(row["value"])) for row in rows}
    # "目前已与61个国家的91个城市建立了友好关系"; "外国驻穗总领事馆已达66家".
    assert {("friendship-cities", 91), ("friendship-city-countries", 61), ("consulates", 66)} <= figures
    for row in rows:
        assert row["date"] == "2021-09-13"  # dated by the article, a claim of that day
        if int(row["value"]) == 91:
            assert "91个城市" in row["quote"]


# ------------------------------------------------------------------------------------------------------------
# Article 000: alliances and ports
# ------------------------------------------------------------------------------------------------------------

def test_maritime_silk_road_heritage_alliance_was_founded_in_2018_by_guangzhou_ningbo_nanjing(store):
    # "由广州市、宁波市、南京市于2018年共同发起成立、现已吸纳34个联盟城市的
    # 海上丝绸之路保护和联合申报世界文化遗产城市联盟"
    alliance = '?alliance skos:prefLabel "海上丝绸之路保护和联合申报世界文化遗产城市联盟"@zh .'
    founders = select(store, f"""
        SELECT ?name WHERE {{ {alliance} ?alliance schema:founder ?city .
                              ?city skos:prefLabel ?name . FILTER(LANG(?name) = "en") }}""")
    assert {row["name"] for row in founders} == {"Guangzhou", "Ningbo", "Nanjing"}
    initiators = select(store, f"""
        SELECT ?name WHERE {{ {alliance}
          ?m org:organization ?alliance ; org:member ?city ; org:role <{iris.concept("role", "initiator")}> .
          ?city skos:prefLabel ?name . FILTER(LANG(?name) = "en") }}""")
    assert {row["name"] for row in initiators} == {"Guangzhou", "Ningbo", "Nanjing"}
    facts = select(store, f"""
        SELECT ?founded ?members WHERE {{ {alliance} ?alliance schema:foundingDate ?founded .
          ?obs schema:observationAbout ?alliance ; cdo:measure <{iris.concept("measure", "member-cities")}> ;
               schema:value ?members . }}""")
    assert [(row["founded"], int(row["members"])) for row in facts] == [("2018", 34)]


def test_ningbo_zhoushan_friendship_ports(store):
    # "宁波舟山港已与韩国釜山港、马来西亚巴生港、比利时安特卫普港、西班牙阿尔西拉斯港等30多个…
    # 港口建立了友好港、姊妹港关系"
    rows = select(store, f"""
        SELECT ?name ?status WHERE {{
          ?ningbo skos:prefLabel "宁波舟山港"@zh .
          ?twinning cdo:party ?ningbo, ?port ;
                    cdo:twinningType <{iris.concept("twinning-type", "friendship-port")}> ;
                    cdo:status ?status .
          FILTER(?port != ?ningbo)
          ?port a cdo:Port ; skos:prefLabel ?name . FILTER(LANG(?name) = "zh")
        }}""")
    assert {row["name"] for row in rows} == {"釜山港", "巴生港", "安特卫普港", "阿尔西拉斯港"}
    assert {local(row["status"]) for row in rows} == {"formal"}
    more_than = select(store, """
        SELECT ?n WHERE { ?ningbo skos:prefLabel "宁波舟山港"@zh .
                          ?obs schema:observationAbout ?ningbo ; schema:minValue ?n . }""")
    assert [int(row["n"]) for row in more_than] == [30]


def test_china_bri_sister_city_pairs(store):
    # "截至2023年第三届“一带一路”国际合作高峰论坛期间,我国与共建“一带一路”国家建立友好城市的数量已达到1577对,
    # 占中外友城总数比例达到53.5%"
    rows = select(store, f"""
        SELECT ?measure ?value ?date WHERE {{
          ?obs schema:observationAbout <{iris.country("CN")}> ; cdo:measure ?measure ; schema:value ?value ;
               schema:observationDate ?date .
        }}""")
    assert {(local(row["measure"]), row["value"], row["date"]) for row in rows} == {
        ("sister-city-pairs", "1577", "2023"), ("sister-city-pair-share", "53.5", "2023")}


def test_dates_keep_their_precision(store):
    rows = select(store, """
        SELECT ?date WHERE { ?hub skos:prefLabel ?name ; schema:startDate ?date .
                             FILTER(CONTAINS(STR(?name), "全球人道主义应急仓库和枢纽")) }""")
    # "2020年4月,由联合国世界粮食计划署设立的全球人道主义应急仓库和枢纽落户广州"
    assert rows == [{"date": "2020-04"}]
    kinds = {q.object.datatype.value.rsplit("#", 1)[-1]
             for q in store.quads_for_pattern(None, NamedNode("http://schema.org/startDate"), None)}
    assert "gYearMonth" in kinds and "gYear" in kinds


# ------------------------------------------------------------------------------------------------------------
# Bad entries are reported with file and line, and never stop the loader
# ------------------------------------------------------------------------------------------------------------

ARTICLE = "999_test.txt"
ARTICLE_TEXT = "青岛与彼尔姆结为友好城市。\n青岛与喀山签署结好意向书。"

SOURCES_YAML = f"""\
- file: {ARTICLE}
  title: {{zh: 测试文章}}
  publisher: {{zh: 测试}}
  date: 2024-03-25
  quote: 青岛与彼尔姆结为友好城市
"""
PLACES_YAML = f"""\
- key: qingdao
  kind: city
  qid: Q170322
  country: CN
  names: {{zh: 青岛, en: Qingdao}}
  source: {ARTICLE}
  quote: 青岛与彼尔姆结为友好城市
- key: perm
  kind: city
  names: {{zh: 彼尔姆, en: Perm}}
  source: {ARTICLE}
  quote: 青岛与彼尔姆结为友好城市
- key: kazan
  kind: city
  qid: Kazan
  country: RU
  names: {{zh: 喀山, en: Kazan}}
  source: {ARTICLE}
  quote: 喀山是一座城市
"""
TWINNINGS_YAML = f"""\
- parties: [qingdao, perm]
  type: friendship-city
  status: formal
  start_date: 2024-13
  source: {ARTICLE}
  quote: 青岛与彼尔姆结为友好城市
- parties: [qingdao, nowhere]
  type: friendship-city
  status: formal
  source: {ARTICLE}
  quote: 青岛与彼尔姆结为友好城市
- parties: [qingdao, kazan]
  type: best-friends
  status: formal
  soruce: {ARTICLE}
  quote: 青岛与喀山签署结好意向书
"""
OBSERVATIONS_YAML = f"""\
- key: friendship-cities
  measure: friendship-cities
  about: [qingdao]
  value: about ninety
  source: {ARTICLE}
  quote: 青岛与彼尔姆结为友好城市
"""
BROKEN_YAML = """\
- key: sco
  names: {zh: 上合组织, en: SCO
  kind: international-organization
"""


@pytest.fixture
def broken_run(tmp_path) -> tuple[BuildContext, list]:
    folder, seeds = tmp_path / "curated", tmp_path / "seeds"
    folder.mkdir()
    seeds.mkdir()
    (seeds / ARTICLE).write_text(ARTICLE_TEXT, encoding="utf-8")
    for name, text in (("sources", SOURCES_YAML), ("places", PLACES_YAML), ("twinnings", TWINNINGS_YAML),
                       ("observations", OBSERVATIONS_YAML), ("organisations", BROKEN_YAML)):
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    ctx = BuildContext(data_dir=tmp_path)
    return ctx, list(curated.triples(ctx))


def problem_at(ctx: BuildContext, file: str, line: int, words: str) -> bool:
    return any(p.file == file and p.line == line and words in p.message for p in ctx.problems)


def test_bad_entries_are_reported_with_file_and_line(broken_run):
    ctx, _triples = broken_run
    assert problem_at(ctx, "places.yaml", 8, "missing 'country'")        # perm has no country
    assert problem_at(ctx, "places.yaml", 15, "not a Wikidata QID")       # kazan: qid: Kazan
    assert problem_at(ctx, "places.yaml", 19, "quote not found")          # kazan's quote is not in it
    assert problem_at(ctx, "twinnings.yaml", 4, "not a date")             # start_date: 2024-13
    assert problem_at(ctx, "twinnings.yaml", 7, "unknown handle 'nowhere'")
    assert problem_at(ctx, "twinnings.yaml", 1, "unknown handle 'perm'")  # perm was rejected for its country
    assert problem_at(ctx, "twinnings.yaml", 13, "not a concept of cdv:twinning-type")  # best-friends
    assert problem_at(ctx, "twinnings.yaml", 15, "unknown field 'soruce'")
    assert problem_at(ctx, "twinnings.yaml", 12, "missing 'source'")
    assert problem_at(ctx, "observations.yaml", 4, "not a number")
    assert any(p.file == "organisations.yaml" and "not valid YAML" in p.message for p in ctx.problems)


def test_good_entries_survive_their_bad_neighbours(broken_run):
    _ctx, triples = broken_run
    subjects = {s.value for s, _p, _o in triples}
    assert iris.city("Q170322") in subjects              # qingdao is fine
    assert iris.source(ARTICLE) in subjects
    assert not any("twinning" in s for s in subjects)    # every twinning had a fatal fault
    for triple in triples:
        no_blank_nodes(triple)


def test_a_missing_folder_is_an_empty_graph(tmp_path):
    ctx = BuildContext(data_dir=tmp_path)
    assert list(curated.triples(ctx)) == [] and ctx.problems == []


# ------------------------------------------------------------------------------------------------------------
# Places come from the build's place index when there is one
# ------------------------------------------------------------------------------------------------------------

class _Place:
    def __init__(self, key: str, kind: str, country: str) -> None:
        self.key, self.kind, self.country = key, kind, country
        self.names: dict[str, str] = {}
        self.iri = iris.city(key) if kind == "city" else iris.port(key)


class _Index:
    """Stands in for loaders.places.PlaceIndex: only ``resolve_curated`` is used."""

    def __init__(self) -> None:
        self.places = {"qingdao": _Place("gn-1797929", "city", "CN"),
                       "perm": _Place("gn-511196", "city", "RU")}

    def resolve_curated(self, handle: str) -> _Place:
        return self.places[handle]


def test_place_keys_come_from_the_place_index(tmp_path):
    folder, seeds = tmp_path / "curated", tmp_path / "seeds"
    folder.mkdir()
    seeds.mkdir()
    (seeds / ARTICLE).write_text(ARTICLE_TEXT, encoding="utf-8")
    (folder / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    (folder / "places.yaml").write_text(PLACES_YAML.replace("  names: {zh: 彼尔姆", "  country: RU\n"
                                                                                    "  names: {zh: 彼尔姆"),
                                        encoding="utf-8")
    (folder / "twinnings.yaml").write_text(TWINNINGS_YAML.split("- parties: [qingdao, nowhere]")[0]
                                           .replace("start_date: 2024-13", "start_date: 2024-03"),
                                           encoding="utf-8")
    ctx = BuildContext(data_dir=tmp_path, places=_Index())
    subjects = {s.value for s, _p, _o in curated.triples(ctx)}
    assert iris.twinning("gn-1797929", "gn-511196") in subjects
    assert iris.city("Q170322") not in subjects  # the index's key wins over the registry's QID
