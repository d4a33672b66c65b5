"""Issue 4: searching the activities, in real Chromium against the built site on 127.0.0.1.

Every expectation is derived from content/ (the YAML an editor writes), never from the built
output or from search.js, so a change to the content or a regression in the search fails here.

Chinese is expected to behave like Ctrl+F: a query finds every activity whose title, text or
agency name contains it, and (whitespace and punctuation aside) nothing else. English words match
by prefix and tolerate a typo."""
from __future__ import annotations

import functools
import gzip
import http.server
import re
import threading
import unicodedata
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
BUDGET = 60 * 1000  # bytes, compressed, for everything the first search downloads


# --- The content, as editors wrote it -------------------------------------------------------

def _yaml(path: Path):
    return yaml.safe_load(path.read_text("utf-8"))


SITE = _yaml(CONTENT / "site.yaml")
TOPICS = {t["id"]: t["label"] for t in _yaml(CONTENT / "topics.yaml")}
AGENCIES = sorted((_yaml(p) for p in (CONTENT / "agencies").glob("*.yaml")), key=lambda a: a["number"])
ACTIVITIES = [
    {"number": act["number"], "slug": agency["slug"], "agency": agency["name"], "agency_full": agency["full_name"],
     "title": act["title"], "text": act["text"], "topics": act["topics"]}
    for agency in AGENCIES for act in agency["activities"]
]
BY_NUMBER = {a["number"]: a for a in ACTIVITIES}
STRINGS = SITE["strings"]
PATHS = {lang["code"]: lang["path"] for lang in SITE["languages"]}


def normalize(string: str) -> str:
    """Lowercase, without whitespace, punctuation or symbols: what 'contains' ignores."""
    return "".join(c for c in string.lower() if not c.isspace() and unicodedata.category(c)[0] not in "PS")


def fields(activity, lang):
    """What search looks in: the title, the agency's name as the document gives it and its full
    name, and the text."""
    return activity["title"][lang], activity["agency"][lang], activity["agency_full"][lang], activity["text"][lang]


def literal_matches(query: str, lang: str) -> tuple[set[int], set[int]]:
    """(strict, loose) for a query of space-separated parts, each to be found as a substring:
    strict = every part occurs verbatim in the title, agency name or text (all must be found);
    loose = the same once whitespace and punctuation are ignored (nothing else may be found)."""
    parts = query.split()
    needles = [normalize(p) for p in parts]
    strict = {a["number"] for a in ACTIVITIES
              if all(any(p in f for f in fields(a, lang)) for p in parts)}
    loose = {a["number"] for a in ACTIVITIES
             if all(any(n in normalize(f) for f in fields(a, lang)) for n in needles)}
    return strict, loose


def heading_matches(activity, lang: str, needles: list[str]) -> int:
    """How many of the needles occur in the title or the agency name."""
    title, agency, full, _ = fields(activity, lang)
    return sum(1 for n in needles if n in normalize(title) or n in normalize(agency) or n in normalize(full))


WORD = re.compile(r"[^\W_]+")


def words_of(string: str) -> list[str]:
    return WORD.findall(string.lower())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def prefix_matches(words: list[str]) -> set[int]:
    """English activities in which every word starts some word of the title, agency name or text."""
    return {a["number"] for a in ACTIVITIES
            if all(any(t.startswith(w) for t in words_of(" ".join(fields(a, "en")))) for w in words)}


def word_matches(query: str) -> set[int]:
    """What an English query must find: activities in which every query word starts a word, or
    (for words of five letters or more) is a typo of one: about one edit per five letters, as
    MiniSearch counts them (round(0.2 × length))."""
    def matches(word: str, token: str) -> bool:
        return token.startswith(word) or (len(word) >= 5 and word.isalpha()
                                          and edit_distance(word, token) <= round(len(word) * 0.2))
    return {a["number"] for a in ACTIVITIES
            if all(any(matches(w, t) for t in words_of(" ".join(fields(a, "en")))) for w in words_of(query))}


def resembles(word: str, token: str) -> bool:
    """The loosest match an English word may make: a prefix, or a typo (about 1 edit per 5 letters)."""
    return token.startswith(word) or edit_distance(word, token) <= max(1, round(len(word) * 0.2))


def count_text(lang: str, n: int) -> str:
    if n == 0:
        return STRINGS["search_none"][lang]
    if n == 1:
        return STRINGS["activity_count_one"][lang]
    return STRINGS["activity_count"][lang].replace("{n}", str(n))


def chinese_numeral(n: int) -> str:  # （一） … （六十六）, as the document numbers activities
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")) + (digits[ones] if ones else "")


def label(lang: str, n: int) -> str:
    return f"（{chinese_numeral(n)}）" if lang == "zh" else f"{n}."


# --- The queries ----------------------------------------------------------------------------

# Chinese: each must be found verbatim somewhere; expectations are computed from the content.
ZH_QUERIES = [
    "电梯", "疫情", "质量", "特种设备", "高质量", "质检", "化妆品", "计量", "食品安全", "老字号",
    "鲁班奖", "双随机", "海关", "消费者", "农产品", "2020", "12318", "12301", "8890", "2019",
    "市市场监管委", "天津海关", "总工会", "市消协", "团市委", "市公安局", "人民银行",
    "国家税务总局天津税务局", "书包", "比较试验", "绿色食品", "征信", "医养结合", "青年文明号",
    "工匠", "反垄断", "知识产权", "标准化", "抽查", "检验检测", "净含量", "追溯", "珠宝", "利剑",
    "种业", "农机", "学前教育", "伪劣", "宣传周", "电", "检测", "质量 提升", "食品 抽查",
    "市场监督管理委员会", "天津市科学技术局", "共青团", "中华人民共和国", "天津市",  # full agency names
]
# Typed with punctuation, or across punctuation in the text: found once punctuation is ignored.
ZH_PUNCTUATED = ["“质检”", "双随机一公开", "12301，12318", "质量月。"]

# English: (query, the words it means, activities it must return). A typo means the corrected word.
EN_QUERIES = [
    ("customs", ["customs"], {56}),
    ("cosmetics", ["cosmetics"], {10}),
    ("cosmetic", ["cosmetic"], {10}),
    ("cosmetcs", ["cosmetics"], {10}),
    ("inspect", ["inspect"], {13, 19, 20, 31}),
    ("inspecton", ["inspection"], {19, 20}),
    ("elevator", ["elevator"], {9}),
    ("elevatr", ["elevator"], {9}),
    ("Elevator", ["elevator"], {9}),
    ("food safety", ["food", "safety"], {14}),
    ("metrology", ["metrology"], {5, 6, 39}),
    ("Luban", ["luban"], {30}),
    ("counterfeit", ["counterfeit"], {33, 48, 49}),
    ("counterfiet", ["counterfeit"], {33, 48, 49}),
    ("trade unions", ["trade", "unions"], {57, 58, 59}),
    ("antitrust", ["antitrust"], {15}),
    ("jewelry", ["jewelry"], {22}),
    ("traceability", ["traceability"], {66}),
    ("preschool", ["preschool"], {38}),
    ("random inspections", ["random", "inspections"], set()),
    ("youth league", ["youth", "league"], {60, 61}),
    ("consumer", ["consumer"], {18, 63, 64, 65}),
    ("tourism", ["tourism"], {40, 41}),
    ("credit", ["credit"], {17, 55}),
    ("seed", ["seed"], {36}),
]
EN_LITERAL = ["2020", "12318"]  # digits are matched as substrings on the English page too


def test_the_queries_mean_something():
    """Guards the lists above against drift in the content: every query must find something,
    the hand-picked activities must really match, and precision must be testable."""
    assert len(ZH_QUERIES) + len(ZH_PUNCTUATED) + len(EN_QUERIES) + len(EN_LITERAL) >= 60
    for query in ZH_QUERIES:
        strict, _ = literal_matches(query, "zh")
        assert strict, f"{query!r} occurs in no activity"
    for query in ZH_PUNCTUATED:
        strict, loose = literal_matches(query, "zh")
        assert loose and loose != strict, f"{query!r} does not test punctuation"
    for query, words, picked in EN_QUERIES:
        expected = prefix_matches(words)
        assert expected, f"{query!r} occurs in no activity"
        assert picked <= expected, f"{query!r}: {sorted(picked - expected)} do not contain {words}"
    # 质检 must not degrade to "质 and 检 somewhere": plenty of activities have both characters.
    both = {a["number"] for a in ACTIVITIES if all(c in "".join(fields(a, "zh")) for c in "质检")}
    assert len(both) > 2 * len(literal_matches("质检", "zh")[1])


# --- The browser side ----------------------------------------------------------------------

class _GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files gzipped when the browser accepts it, as a production host would."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        ctype = self.guess_type(str(path))
        textual = ctype.startswith("text/") or ctype.endswith(("json", "javascript", "svg+xml"))
        gzipped = textual and "gzip" in self.headers.get("Accept-Encoding", "")
        if gzipped:
            body = gzip.compress(body, 6)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def gzip_server(built_site):
    handler = functools.partial(_GzipHandler, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def activities_url(base: str, lang: str) -> str:
    return base + (PATHS[lang] + "/" if PATHS[lang] else "") + "activities/"


class Tab:
    """One page of the activities in one language, kept open for the module."""

    def __init__(self, page, url, lang):
        self.page, self.url, self.lang = page, url, lang
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self, query: str = ""):
        self.page.goto(self.url + query)
        self.page.wait_for_function("() => !document.getElementById('search-status').textContent.endsWith('…')")

    def _mark_stale(self):
        self.page.evaluate("""() => { const li = document.createElement('li');
            li.id = 'stale-marker'; document.getElementById('search-results').appendChild(li); }""")

    def _wait_fresh(self):
        self.page.wait_for_function("() => !document.getElementById('stale-marker')")

    def search(self, query: str) -> list[dict]:
        """Types the query into the box and submits it, as a reader would; returns the results."""
        self._mark_stale()
        self.page.fill("#q", query)
        self.page.press("#q", "Enter")
        self._wait_fresh()
        return self.results(hidden_ok=not query)

    def select(self, which: str, value: str) -> list[dict] | None:
        self._mark_stale()
        self.page.select_option("#" + which, value)
        self._wait_fresh()
        return self.results(hidden_ok=True)

    def results(self, hidden_ok: bool = False) -> list[dict] | None:
        """The results shown, or None when the list is hidden (no search: the full list shows)."""
        items = self.page.evaluate("""() => {
            const list = document.getElementById('search-results');
            if (list.hidden) return null;
            const marks = (node) => node ? [...node.querySelectorAll('mark')].map(m => m.textContent) : [];
            return [...list.children].map(li => {
              const link = li.querySelector('h2 a'), meta = li.querySelector('.result__meta'),
                    excerpt = li.querySelector('.result__excerpt');
              return {href: link.getAttribute('href'), absolute: link.href,
                      label: link.querySelector('.index-list__number').textContent,
                      title: link.textContent, meta: meta.textContent, excerpt: excerpt.textContent,
                      titleMarks: marks(link), metaMarks: marks(meta), excerptMarks: marks(excerpt)};
            });
        }""")
        if items is None:
            assert hidden_ok, "the results list is hidden"
            return None
        for item in items:
            match = re.search(r"#activity-(\d+)$", item["href"])
            assert match, item["href"]
            item["number"] = int(match.group(1))
        return items

    def status(self) -> str:
        return self.page.get_by_role("status").inner_text().strip()

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.page.url).query).items()}


@pytest.fixture(scope="module")
def tabs(browser, site_server):
    context = browser.new_context()
    opened = {}
    for lang in ("zh", "en"):
        tab = Tab(context.new_page(), activities_url(site_server.url, lang), lang)
        tab.open()
        opened[lang] = tab
    yield opened
    context.close()


def numbers(results) -> list[int]:
    return [r["number"] for r in results]


def no_errors(*tabs: Tab):
    for tab in tabs:
        assert tab.errors == [], f"console errors on the {tab.lang} page: {tab.errors}"


@pytest.fixture(scope="module")
def zh_results(tabs):
    """Every Chinese query typed and submitted once; the tests below examine the results."""
    tab = tabs["zh"]
    tab.open()
    out = {}
    for query in ZH_QUERIES + ZH_PUNCTUATED:
        out[query] = (tab.search(query), tab.status())
    return out


@pytest.fixture(scope="module")
def en_results(tabs):
    tab = tabs["en"]
    tab.open()
    out = {}
    for query, *_ in EN_QUERIES:
        out[query] = (tab.search(query), tab.status())
    for query in EN_LITERAL:
        out[query] = (tab.search(query), tab.status())
    return out


# 1. Recall and precision.

@pytest.mark.parametrize("query", ZH_QUERIES + ZH_PUNCTUATED)
def test_chinese_finds_every_activity_containing_the_query_and_nothing_else(zh_results, query):
    results, _ = zh_results[query]
    got = numbers(results)
    assert len(got) == len(set(got)), f"{query!r}: an activity is listed twice"
    strict, loose = literal_matches(query, "zh")
    missing = strict - set(got)
    assert not missing, f"{query!r} misses {sorted(missing)}, which contain it"
    extra = set(got) - loose
    assert not extra, f"{query!r} returns {sorted(extra)}, which do not contain it"
    if query in ZH_PUNCTUATED:
        assert set(got) == loose


def test_zhijian_is_precise(zh_results):
    got = set(numbers(zh_results["质检"][0]))
    assert got == literal_matches("质检", "zh")[0]
    assert len(got) < 5


@pytest.mark.parametrize("query,words,picked", EN_QUERIES, ids=[q for q, *_ in EN_QUERIES])
def test_english_prefix_and_typos(en_results, query, words, picked):
    got = numbers(en_results[query][0])
    assert len(got) == len(set(got))
    assert picked <= set(got), f"{query!r} misses {sorted(picked - set(got))}"
    expected = word_matches(query)
    assert expected <= set(got), f"{query!r} misses {sorted(expected - set(got))}, which match it"
    query_words = words_of(query)
    for n in got:  # nothing without at least a resemblance of every word
        tokens = words_of(" ".join(fields(BY_NUMBER[n], "en")))
        assert all(any(resembles(w, t) for t in tokens) for w in query_words), f"{query!r} returns {n}"


@pytest.mark.parametrize("query", EN_LITERAL)
def test_english_page_finds_numbers_as_substrings(en_results, query):
    strict, loose = literal_matches(query, "en")
    got = set(numbers(en_results[query][0]))
    assert strict and strict <= got <= loose


# 2. Ranking.

def test_title_and_agency_matches_rank_above_body_only_matches(zh_results, en_results):
    mixed = 0
    for query, (results, _) in zh_results.items():
        needles = [normalize(p) for p in query.split()]
        scores = [heading_matches(BY_NUMBER[n], "zh", needles) for n in numbers(results)]
        assert scores == sorted(scores, reverse=True), f"{query!r} ranks {numbers(results)}"
        mixed += len(set(scores)) > 1
    assert mixed >= 10, "too few queries have both heading and body matches to test the ranking"
    for query, words, _ in EN_QUERIES:
        if len(words) != 1 or words[0] != query.lower():
            continue  # typos and several words: not a clean test
        results = numbers(en_results[query][0])
        heading = [any(t.startswith(words[0]) for t in words_of(" ".join(fields(BY_NUMBER[n], "en")[:3])))
                   for n in results]
        assert heading == sorted(heading, reverse=True), f"{query!r} ranks {results}"
    # An agency's activities come before others whose text merely mentions the agency.
    results = numbers(zh_results["市市场监管委"][0])
    own = {a["number"] for a in ACTIVITIES if a["slug"] == "market-regulation"}
    assert set(results[: len(own)]) == own and len(results) > len(own)


# 3. What a result shows.

def _check_result(item, lang, needles):
    activity = BY_NUMBER[item["number"]]
    title, agency, full, text = fields(activity, lang)
    assert not urlsplit(item["href"]).netloc, "links are relative, so the site works under any path"
    assert item["absolute"].endswith(f"/{PATHS[lang] + '/' if PATHS[lang] else ''}agencies/{activity['slug']}/#activity-{activity['number']}")
    assert item["label"].strip() == label(lang, activity["number"])
    assert item["title"].replace(item["label"], "", 1).strip() == title
    assert item["meta"].startswith(agency)
    for topic in activity["topics"]:
        assert TOPICS[topic][lang] in item["meta"]
    excerpt = item["excerpt"].strip("…")
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert excerpt and squash(excerpt) in squash(text)
    if needles is None:
        return
    shown_agency = agency if agency == full or full not in item["meta"] else agency + " " + full
    for marks, field in ((item["titleMarks"], title), (item["metaMarks"], shown_agency), (item["excerptMarks"], text)):
        assert all(normalize(m) in needles for m in marks), f"{item['number']}: marked {marks}"
        if any(n in normalize(field) for n in needles):
            assert marks, f"activity {item['number']}: the match in {field[:20]}… is not marked"


def test_results_show_number_title_agency_topics_and_a_marked_excerpt(zh_results, en_results):
    for query, (results, _) in zh_results.items():
        for item in results:
            _check_result(item, "zh", {normalize(p) for p in query.split()})
    for query, (results, _) in en_results.items():
        for item in results:
            _check_result(item, "en", None)
            assert item["titleMarks"] + item["metaMarks"] + item["excerptMarks"], f"{query!r}: nothing marked"
            if query.isalpha():  # each mark is a whole word resembling the query
                for mark in item["titleMarks"] + item["excerptMarks"]:
                    assert resembles(query.lower(), mark.lower()), (query, mark)
    typo = next(r for r in en_results["cosmetcs"][0] if r["number"] == 10)
    assert "cosmetics" in [m.lower() for m in typo["titleMarks"]]  # the word found, not the typo


def test_a_result_links_to_the_activity_on_its_agency_page(tabs):
    tab = tabs["zh"]
    tab.open()
    results = tab.search("鲁班奖")
    target = results[0]
    tab.page.click(f"#search-results a[href='{target['href']}']")
    tab.page.wait_for_url(re.compile(r"/agencies/[a-z0-9-]+/#activity-\d+$"))
    assert tab.page.url == target["absolute"]
    anchor = tab.page.locator(f"#activity-{target['number']}")
    assert anchor.count() == 1 and anchor.is_visible()
    assert BY_NUMBER[target["number"]]["title"]["zh"] in anchor.inner_text()
    tab.page.go_back()  # and Back returns to the same search
    tab.page.wait_for_function("() => document.querySelectorAll('#search-results > li').length > 0")
    assert tab.page.input_value("#q") == "鲁班奖" and numbers(tab.results()) == numbers(results)
    no_errors(tab)


# 4. The count, announced.

def test_the_count_is_announced_in_a_status_region(tabs, zh_results, en_results):
    for lang, runs in (("zh", zh_results), ("en", en_results)):
        for query, (results, status) in runs.items():
            assert status == count_text(lang, len(results)), (query, status)
        region = tabs[lang].page.locator("#search-status")
        assert region.get_attribute("role") == "status"
        assert region.get_attribute("aria-live") == "polite"
    assert zh_results["质量"][1] == f"{len(zh_results['质量'][0])}项活动"
    tab = tabs["en"]
    tab.search("zzyzx")
    assert tab.results() == [] and tab.status() == STRINGS["search_none"]["en"]


# 5. Filters.

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_filters_by_agency_and_topic_with_or_without_a_query(tabs, lang):
    tab = tabs[lang]
    tab.open()
    status_of = lambda n: count_text(lang, n)  # noqa: E731
    agency = "agriculture-rural"
    by_agency = [a["number"] for a in ACTIVITIES if a["slug"] == agency]
    results = tab.select("agency", agency)  # an empty query: the agency's activities, in order
    assert numbers(results) == by_agency and tab.status() == status_of(len(by_agency))
    assert tab.params() == {"agency": agency}

    topic = "food-safety"
    both = [n for n in by_agency if topic in BY_NUMBER[n]["topics"]]
    results = tab.select("topic", topic)
    assert numbers(results) == both and tab.params() == {"agency": agency, "topic": topic}

    query = "质量" if lang == "zh" else "quality"
    matching = literal_matches(query, "zh")[1] if lang == "zh" else prefix_matches([query])
    results = tab.search(query)
    assert set(numbers(results)) == matching & set(both) and results
    assert tab.params() == {"q": query, "agency": agency, "topic": topic}
    assert tab.status() == status_of(len(results))

    tab.select("agency", "")
    with_topic = [a["number"] for a in ACTIVITIES if topic in a["topics"]]
    assert set(numbers(tab.results())) == matching & set(with_topic)
    tab.search("")  # only the topic
    assert numbers(tab.results()) == with_topic and tab.params() == {"topic": topic}

    results = tab.select("agency", "customs")  # none of the customs' activities is about food
    assert results == [] and tab.status() == STRINGS["search_none"][lang]
    tab.select("agency", "")
    tab.select("topic", "")  # nothing chosen: the full list again, and no search
    assert tab.page.locator("#search-results").is_hidden()
    assert tab.page.locator("#all-activities").is_visible()
    assert tab.status() == "" and tab.params() == {}
    no_errors(tab)


# 6. The address holds the search, and Back restores it.

def test_an_address_with_a_search_fills_the_form_and_back_restores_it(tabs):
    tab = tabs["zh"]
    page = tab.page
    first, agency, topic = "质量", "market-regulation", "inspection-certification"
    tab.open(f"?q={first}&agency={agency}&topic={topic}")
    expected_first = sorted(n for n in literal_matches(first, "zh")[1]
                            if BY_NUMBER[n]["slug"] == agency and topic in BY_NUMBER[n]["topics"])
    assert page.input_value("#q") == first
    assert page.input_value("#agency") == agency and page.input_value("#topic") == topic
    assert sorted(numbers(tab.results())) == expected_first and expected_first
    assert tab.status() == count_text("zh", len(expected_first))

    second = "检测"
    expected_second = sorted(n for n in literal_matches(second, "zh")[1]
                             if BY_NUMBER[n]["slug"] == agency and topic in BY_NUMBER[n]["topics"])
    page.click("#q")
    page.keyboard.press("Control+A")
    page.keyboard.type(second)  # as a reader types, keystroke by keystroke
    page.keyboard.press("Enter")
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=second)
    assert expected_second and expected_second != expected_first
    assert sorted(numbers(tab.results())) == expected_second
    assert tab.params() == {"q": second, "agency": agency, "topic": topic}

    page.go_back()
    page.wait_for_function("q => document.getElementById('q').value === q", arg=first)
    assert tab.params() == {"q": first, "agency": agency, "topic": topic}
    assert sorted(numbers(tab.results())) == expected_first
    assert tab.status() == count_text("zh", len(expected_first))

    page.go_forward()
    page.wait_for_function("q => document.getElementById('q').value === q", arg=second)
    assert sorted(numbers(tab.results())) == expected_second

    # Typing alone (no Enter) also leaves the earlier search one Back away.
    page.fill("#q", "电梯")
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === '电梯'")
    page.go_back()
    page.wait_for_function("q => document.getElementById('q').value === q", arg=second)
    assert sorted(numbers(tab.results())) == expected_second
    # A filter changed is another step back.
    tab.select("topic", "")
    page.go_back()
    page.wait_for_function("t => document.getElementById('topic').value === t", arg=topic)
    assert sorted(numbers(tab.results())) == expected_second
    no_errors(tab)


# 7. Without JavaScript.

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_without_javascript_the_page_lists_every_activity_by_agency(browser, site_server, lang):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(activities_url(site_server.url, lang))
        groups = page.locator("#all-activities .index-group").evaluate_all("""groups => groups.map(g => ({
            heading: g.querySelector('h2').textContent,
            items: [...g.querySelectorAll('.index-list__item a')].map(a => [a.getAttribute('href'), a.textContent])}))""")
        assert len(groups) == len(AGENCIES) == 26
        listed = []
        for group, agency in zip(groups, AGENCIES):
            assert agency["name"][lang] in group["heading"]
            assert len(group["items"]) == len(agency["activities"])
            for (href, text), activity in zip(group["items"], agency["activities"]):
                assert href.endswith(f"agencies/{agency['slug']}/#activity-{activity['number']}")
                assert activity["title"][lang] in text and label(lang, activity["number"]) in text
                listed.append(activity["number"])
        assert listed == [a["number"] for a in ACTIVITIES] and len(listed) == 66
        assert page.locator("#all-activities").is_visible()
        assert page.locator("#search-results").is_hidden()
        # no search box that cannot work: the form is hidden and the page says how to find text
        assert page.locator("form#search").is_hidden()
        assert page.locator(".no-search").is_visible()
        assert STRINGS["search_without_script"][lang] in page.locator(".no-search").inner_text()
        assert page.locator("form[role=search]:visible").count() == 0
    finally:
        context.close()


# 7b. Failing safe: older browsers, a script that does not load, data that does not come.

LOOKBEHIND_REFUSED = """(() => {
  const Original = window.RegExp;
  function Refusing(pattern, flags) {
    if (/\\(\\?<[=!]/.test(String(pattern && pattern.source !== undefined ? pattern.source : pattern))) {
      throw new SyntaxError("Invalid regular expression: invalid group specifier name");
    }
    return new Original(pattern, flags);
  }
  Refusing.prototype = Original.prototype;
  window.RegExp = Refusing;
})();"""


def test_search_works_in_a_browser_without_lookbehind(browser, site_server):
    """Safari before 16.4 (older iPhones, WeChat on them) has no lookbehind: the search must not need it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.add_init_script(LOOKBEHIND_REFUSED)
        page.goto(activities_url(site_server.url, "zh") + "?q=" + "电梯")
        page.wait_for_function("() => document.querySelectorAll('#search-results > li').length > 0")
        assert page.evaluate("() => { try { new RegExp('(?<=a)b'); return false } catch (e) { return true } }")
        assert page.locator("#search-results mark").count() > 0
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("broken", ["search-core", "data"])
def test_when_search_cannot_run_the_full_list_stays(browser, site_server, broken):
    """search-core.js missing (as in a browser that cannot parse it), or the data not arriving:
    the reader keeps the full list and is told how to find text, never an endless 'Loading…'."""
    context = browser.new_context()
    try:
        page = context.new_page()
        pattern = "**/js/search-core.*.js" if broken == "search-core" else "**/search-zh.*.json"
        page.route(pattern, lambda route: route.abort())
        page.goto(activities_url(site_server.url, "zh") + "?q=" + "电梯", wait_until="load")
        if broken == "search-core":
            page.wait_for_function("() => !document.documentElement.classList.contains('search-ok')")
            assert page.locator("form#search").is_hidden() and page.locator(".no-search").is_visible()
        else:
            page.wait_for_function("(t) => document.getElementById('search-status').textContent === t",
                                   arg=STRINGS["search_failed"]["zh"])
        assert page.locator("#all-activities").is_visible()
        assert page.locator("#search-results").is_hidden()
        assert STRINGS["search_loading"]["zh"] not in page.locator("#search-status").inner_text()
    finally:
        context.close()


# 8. Weight and privacy of the first search.

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_first_search_downloads_little_and_only_from_this_site(browser, gzip_server, lang):
    context = browser.new_context()
    try:
        page = context.new_page()
        finished: list = []
        page.on("requestfinished", lambda request: finished.append(request))
        requested: list[str] = []  # every request, even one that fails or is blocked
        page.on("request", lambda request: requested.append(request.url))
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(activities_url(gzip_server, lang), wait_until="networkidle")
        before = len(finished)
        loaded = [r.url for r in finished]
        assert not any("minisearch" in u or re.search(r"/search-[^/]*\.json", u) for u in loaded), \
            "search loaded before use"

        page.focus("#q")  # the first use: the library and the data are fetched now
        page.keyboard.type("质量" if lang == "zh" else "quality")
        page.wait_for_function("() => document.querySelectorAll('#search-results > li').length > 0")
        for _ in range(100):  # the events may trail the page a little
            # (The browser may fetch the favicon meanwhile: not the search's doing.)
            first_search = [r for r in finished[before:] if not urlsplit(r.url).path.endswith("favicon.svg")]
            urls = [r.url for r in first_search]
            if len(urls) >= 2:
                break
            page.wait_for_timeout(50)
        assert any("minisearch" in u for u in urls) and any(f"/search-{lang}." in u for u in urls), urls

        encoded = headers = raw = 0
        for request in first_search:
            response = request.response()
            sizes = request.sizes()
            assert response.headers.get("content-encoding") == "gzip", request.url
            encoded += sizes["responseBodySize"]
            headers += sizes["responseHeadersSize"]
            raw += len(response.body())
        print(f"\nfirst search ({lang}): {[urlsplit(u).path.rsplit('/', 1)[-1] for u in urls]}, {raw} bytes, "
              f"{encoded} gzipped + {headers} of headers")
        assert 0 < encoded + headers < BUDGET, f"{encoded + headers} bytes"

        host = urlsplit(gzip_server).netloc
        assert requested
        for url in requested:
            assert url.startswith("data:") or urlsplit(url).netloc == host, url
        assert errors == []
    finally:
        context.close()


def test_the_search_requests_nothing_from_another_host(tabs, zh_results, en_results):
    for tab in tabs.values():
        for url in tab.requests:
            assert url.startswith("data:") or urlsplit(url).netloc == urlsplit(tab.url).netloc, url
        assert any("minisearch" in u for u in tab.requests)


# 9. No console errors, in either language.

def test_no_console_errors_in_either_language(tabs, zh_results, en_results):
    assert zh_results and en_results
    for tab in tabs.values():
        tab.open("?q=" + ("质量" if tab.lang == "zh" else "quality"))
        assert tab.results()
    no_errors(*tabs.values())


# 10. An IME composition is not searched until it is committed.

def test_no_search_while_an_ime_composition_is_in_progress(tabs):
    tab = tabs["zh"]
    page = tab.page
    tab.open()
    tab.search("")
    page.focus("#q")
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Input.imeSetComposition", {"text": "zhi", "selectionStart": 3, "selectionEnd": 3})
        page.wait_for_timeout(250)
        assert page.input_value("#q") == "zhi"
        assert tab.params() == {} and page.locator("#search-results").is_hidden()
        cdp.send("Input.imeSetComposition", {"text": "zhij", "selectionStart": 4, "selectionEnd": 4})
        page.wait_for_timeout(250)
        assert tab.params() == {} and tab.status() == ""
        cdp.send("Input.insertText", {"text": "质检"})  # the reader picks the characters
        page.wait_for_function("() => new URLSearchParams(location.search).get('q') === '质检'")
        page.wait_for_function("() => document.querySelectorAll('#search-results > li').length > 0")
        assert set(numbers(tab.results())) == literal_matches("质检", "zh")[0]
    finally:
        cdp.detach()
    no_errors(tab)
