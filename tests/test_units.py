"""Fast, in-process tests of what editors, readers and hosts notice, written to kill the mutants that
the other fast tests let through (scripts/mutation.py). Each test says what a person would see go
wrong; none checks how the generator does it."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import LANGS, ROOT, SITE, build_site, record_renders
from sitegen.errors import ContentError
from test_bad_edits import VARIANTS, messages_for, tree_digest


# --- Numbering and dates, as the document and each language write them ---------------------------

def test_chinese_numerals_read_as_the_document_numbers():
    from sitegen.text import chinese_numeral

    expected = {1: "一", 9: "九", 10: "十", 12: "十二", 20: "二十", 105: "一百零五", 110: "一百一十",
                1000: "一千", 1001: "一千零一", 1010: "一千零一十", 2306: "二千三百零六", 9999: "九千九百九十九"}
    assert {n: chinese_numeral(n) for n in expected} == expected
    assert [chinese_numeral(n) for n in (-3, 0, 10000, 12345)] == ["-3", "0", "10000", "12345"]  # outside 1–9999: digits


def test_labels_and_ranges_of_activities_and_agencies():
    from sitegen.text import activity_label, activity_range, agency_label

    assert activity_label(3, "chinese") == "（三）" and activity_label(3, "arabic") == "3."
    assert activity_range(1, 5, "chinese") == "（一）–（五）"
    assert activity_range(2, 2, "chinese") == "（二）"
    chinese = "".join(["chin", "ese"])  # the setting as read from site.yaml, not a literal in the code
    assert activity_range(1, 2, chinese) == "（一）–（二）" and agency_label(1, chinese) == "一、"
    assert activity_range(1, 5, "arabic") == "1–5" and activity_range(7, 7, "arabic") == "7"
    assert agency_label(3, "chinese", "市发改委") == "三、市发改委"
    assert agency_label(3, "arabic", "Commerce") == "3. Commerce" and agency_label(3, "arabic") == "3."


def test_dates_are_written_as_each_language_declares():
    from datetime import date

    from sitegen.text import format_date

    day = date(2020, 9, 5)
    assert format_date(day, "%Y-%m-%d") == "2020-09-05"
    assert format_date(day, "%Y年%-m月%-d日") == "2020年9月5日"
    assert format_date(day, "%B %-d, %Y") == "September 5, 2020"
    assert format_date(date(2020, 12, 25), "%d %B") == "25 December"
    assert format_date(date(2021, 1, 31), "%B") == "January"
    assert format_date(day, "100% %m") == "100% 09"  # a lone % and other text stay as written
    for lang in SITE.languages:  # every language's own format puts the day and the year in
        written = format_date(date(2020, 9, 27), lang.date_format)
        assert "27" in written and "2020" in written, (lang.code, written)


# --- Messages: what an editor reads ---------------------------------------------------------------

def test_a_report_counts_its_errors_and_lists_them_in_file_order():
    from sitegen.errors import Problem

    one = ContentError([Problem("content/topics.yaml", "bad", 3, "[0].id")])
    assert one.report().splitlines() == ["1 content error (the site was not written):",
                                         "  content/topics.yaml:3: [0].id: bad"]
    problems = [Problem("content/site.yaml", "late", 9), Problem("content/b.yaml", "no line"),
                Problem("content/site.yaml", "early", 2, "title"), Problem("content/b.yaml", "first line", 1)]
    report = ContentError(problems).report().splitlines()
    assert report[0] == "4 content errors (the site was not written):"
    assert report[1:] == ["  content/b.yaml: no line", "  content/b.yaml:1: first line",
                          "  content/site.yaml:2: title: early", "  content/site.yaml:9: late"]


def test_paths_in_messages_are_as_the_editor_typed_them(tmp_path, monkeypatch):
    import os

    from sitegen.errors import display_path

    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b" / "c")
    assert display_path(str(tmp_path / "a" / "b" / "c" / "x.yaml")) == "x.yaml"
    assert display_path(str(tmp_path / "a" / "b" / "y.yaml")) == "../y.yaml"  # one level up: still short
    assert display_path(str(tmp_path / "z.yaml")) == str(tmp_path / "z.yaml")  # further: the full path
    name = os.fsdecode(b"caf\xe9.yaml")  # not UTF-8: shown, not fatal
    assert display_path(name) == "caf\ufffd.yaml"


def test_a_bug_says_what_and_where_in_one_line(monkeypatch):
    from sitegen.errors import internal_error
    from sitegen.text import format_date

    monkeypatch.chdir(ROOT)
    try:
        format_date(None, "%Y")
    except AttributeError as err:
        line = internal_error(err)
    assert line.startswith("internal error, a bug in the generator: AttributeError: ")
    assert "(at sitegen/text.py:" in line and line.endswith("Please report it with the command you ran.")
    assert "\n" not in line


def test_usage_messages_name_the_option():
    from sitegen.errors import UsageError, usage

    assert str(UsageError("cannot_listen", port=80, reason="Permission denied")) == (
        "cannot listen on 127.0.0.1:80: Permission denied; choose another port with --port")
    assert usage("port", port="x") == "--port must be a whole number from 0 to 65535 (0 picks a free one), got 'x'"


@pytest.mark.parametrize("url,words", [
    ("", None), ("https://example.org/quality/", None), ("http://example.org", None),
    ("https://example.org/" + "x" * 180, None),  # exactly 200 characters fit
    ("https://example.org/" + "x" * 181, "is 201 characters long"),
    ("https://exa mple.org/", "must not contain spaces"), ("https://example.org/\n", "must not contain spaces"),
    ("ftp://example.org/", "must start with http:// or https://"), ("https:///path", "name a host"),
    ("example.org/quality/", "must start with http://"),
    ("https://example.org/?a=1", "must not have a query or fragment"),
    ("https://example.org/#top", "must not have a query or fragment"),
])
def test_a_base_url_is_refused_with_its_reason(url, words):
    from sitegen.validate import base_url_problem

    problem = base_url_problem(url)
    if words is None:
        assert problem == ""
    else:
        assert words in problem
        assert repr(url) in problem or "characters long" in words  # the editor sees what was given


# --- Links, as a reader follows them from any page --------------------------------------------------

@pytest.mark.parametrize("here,target,link", [
    ("", "", "./"), ("", "en/", "en/"), ("", "index.html", "index.html"), ("en/", "", "../"),
    ("en/", "en/", "./"), ("en/", "en/data/", "data/"), ("en/agencies/water/", "en/agencies/health/", "../health/"),
    ("en/agencies/water/", "assets/css/site.1234.css", "../../../assets/css/site.1234.css"),
    ("zh-hant/print/", "en/print/", "../../en/print/"), ("agencies/water/", "agencies/water/", "./"),
    ("data/", "data/activities.csv", "activities.csv"), ("a/b/", "a/c/d.txt", "../c/d.txt"),
])
def test_relative_links_lead_where_they_say(here, target, link):
    import posixpath

    from sitegen.render import relative

    assert relative(here, target) == link
    assert posixpath.normpath(posixpath.join("/" + here, link)) == posixpath.normpath("/" + target)


def test_a_mistake_report_is_prefilled_for_mail_and_for_forms():
    from sitegen.render import corrections_link

    strings = {"report_subject": "Mistake in {label} {title}", "report_body": "Page: {address}\n"}
    mail = corrections_link("mailto:fix@example.org", strings, "3.", "A & B", "https://x.org/en/#activity-3")
    assert mail == ("mailto:fix@example.org?subject=Mistake%20in%203.%20A%20%26%20B"
                    "&body=Page%3A%20https%3A//x.org/en/%23activity-3%0A")
    form = corrections_link("https://forms.example.org/f?id=7", strings, "3.", "A", "/en/")
    assert form == "https://forms.example.org/f?id=7&subject=Mistake+in+3.+A&page=%2Fen%2F"
    assert corrections_link("https://forms.example.org/f", strings, "3.", "A", "/en/").startswith(
        "https://forms.example.org/f?subject=")
    assert corrections_link("", strings, "3.", "A", "/en/") == ""


def test_activity_counts_read_right_for_one_and_for_many():
    from sitegen.render import _counter

    count = _counter({"activity_count_one": "one activity", "activity_count": "{n} activities"})
    assert [count(1), count(0), count(2), count(11)] == ["one activity", "0 activities", "2 activities",
                                                         "11 activities"]


# --- Files for hosts, crawlers and spreadsheets ---------------------------------------------------

def test_robots_names_the_sitemap_only_when_there_is_one():
    from sitegen.outputs import crawler_files, robots

    assert robots("") == b"User-agent: *\nAllow: /\n"
    assert robots("https://x.org/sitemap.xml") == b"User-agent: *\nAllow: /\nSitemap: https://x.org/sitemap.xml\n"
    without = crawler_files(SITE, [], "")
    assert "sitemap.xml" not in without and b"Sitemap" not in without["robots.txt"]
    with_base = crawler_files(SITE, [], "https://x.org/q/")
    assert b"Sitemap: https://x.org/q/sitemap.xml\n" in with_base["robots.txt"] and "sitemap.xml" in with_base


def test_the_sitemap_lists_each_page_once_per_language_with_escaped_addresses():
    from sitegen.outputs import sitemap
    from sitegen.pages import site_pages

    pages = site_pages(SITE)
    xml = sitemap(SITE, pages, "https://x.org/a&b/").decode("utf-8")
    listed = [page for page in pages if page.kind.in_sitemap]
    assert xml.count("<url>") == len(listed) * len(SITE.languages)
    assert xml.count("<xhtml:link") == len(listed) * len(SITE.languages) ** 2
    assert "404.html" not in xml and "a&amp;b" in xml and "a&b" not in xml
    for lang in SITE.languages:
        assert f'hreflang="{lang.html_lang}"' in xml
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n') and xml.endswith("</urlset>\n")


def test_host_headers_forbid_framing_cache_assets_and_type_the_csv():
    from sitegen.outputs import host_headers

    text = host_headers(SITE).decode("utf-8")
    assert text.startswith("/*\n  Content-Security-Policy: default-src 'self';")
    assert "frame-ancestors 'none'\n" in text and "X-Content-Type-Options: nosniff" in text
    for folder in ("css/*", "js/*", "vendor/*", "search-*"):
        assert f"/assets/{folder}\n  Cache-Control: public, max-age=31536000, immutable\n" in text
    assert text.endswith("/data/*.csv\n  Content-Type: text/csv; charset=utf-8\n")


def test_the_security_policy_allows_images_only_from_the_hosts_site_yaml_names(tmp_path):
    import copy

    from sitegen.outputs import content_security_policy

    assert "img-src 'self';" in content_security_policy(SITE)
    site = copy.copy(SITE)
    site.config = msgspec_replace(SITE.config, allowed_image_hosts=["img.example.org", "cdn.example.net"])
    assert "img-src 'self' https://img.example.org https://cdn.example.net;" in content_security_policy(site)


def msgspec_replace(struct, **changes):
    import msgspec

    return msgspec.structs.replace(struct, **changes)


def test_css_made_from_site_yaml_cannot_break_out_of_its_string():
    from sitegen.outputs import _css_fonts, _css_ident, _css_string

    assert _css_string('Plain title, (1)') == '"Plain title, (1)"'
    assert _css_string('a"b\\c\n<') == '"a\\22 b\\5c c\\a \\3c "'
    assert _css_string("质量") == '"\\8d28 \\91cf "'
    assert _css_fonts('system-ui, "PingFang SC", \'Noto Sans\', sans-serif, ') == (
        'system-ui, "PingFang SC", "Noto Sans", sans-serif')
    assert _css_ident("zh-Hant") == "zh-Hant" and _css_ident("0.02em") == "0.02em"
    assert _css_ident("1em; } body { x") == "normal"


def test_print_and_language_stylesheets_carry_each_languages_title_and_fonts():
    from sitegen.outputs import _css_fonts, _css_string, languages_css, print_css

    css = languages_css(SITE).decode("ascii")
    for lang in SITE.languages:
        fonts = SITE.fonts(lang)
        assert f":lang({lang.html_lang}) {{ --font-body: {_css_fonts(fonts.screen)}; " \
               f"--font-print: {_css_fonts(fonts.print)}; letter-spacing: {fonts.letter_spacing}; }}" in css
        running = print_css(SITE, lang).decode("ascii")
        assert f"content: {_css_string(SITE.config.title[lang.code])};" in running
        assert f"/* Printed pages ({lang.code})" in running


def test_search_data_holds_every_activity_as_plain_text():
    import json

    from sitegen.outputs import plain_text, search_data
    from sitegen.text import activity_label

    assert plain_text("<p>A &amp; B <em>c</em></p>\n") == "A & B c"
    for lang in SITE.languages:
        data = json.loads(search_data(SITE, lang, {"電": "电"}))
        assert data["fold"] == {"電": "电"}
        assert [a["slug"] for a in data["agencies"]] == [a.slug for a in SITE.agencies]
        assert data["topics"] == {t.id: t.label[lang.code] for t in SITE.topics}
        assert len(data["activities"]) == len(SITE.activities)
        for entry, activity in zip(data["activities"], SITE.activities):
            assert entry["number"] == activity.number
            assert entry["label"] == activity_label(activity.number, lang.numerals)
            assert data["agencies"][entry["agency"]]["slug"] == activity.agency.slug
            assert entry["title"] == activity.title[lang.code]
            assert "<" not in entry["text"] and entry["text"]


def test_the_web_manifest_opens_its_language_and_finds_its_icons():
    import json
    import posixpath

    from sitegen.outputs import web_manifest
    from sitegen.pages import url_path

    assets = {"icons/icon-192.png": "assets/icons/icon-192.png", "icons/icon-512.png": "assets/icons/icon-512.png"}
    for lang in SITE.languages:
        data = json.loads(web_manifest(SITE, lang, assets))
        assert data["name"] == SITE.config.title[lang.code] and data["lang"] == lang.html_lang
        assert data["start_url"] == "./"
        for icon, size in zip(data["icons"], ("192x192", "512x512")):
            assert icon["sizes"] == size
            where = posixpath.normpath(posixpath.join("/" + url_path("", lang), icon["src"]))
            assert where == f"/assets/icons/icon-{size.split('x')[0]}.png"


@pytest.mark.parametrize("text,cell", [("=1+1", "'=1+1"), ("+86 22", "'+86 22"), ("-x", "'-x"), ("@sum", "'@sum"),
                                       ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("1", "1"), (7, "7")])
def test_a_csv_cell_never_runs_as_a_formula(text, cell):
    from sitegen.opendata import _cell

    assert _cell(text) == cell


def test_the_csv_opens_in_a_spreadsheet_with_a_column_per_language():
    import csv
    import io

    from sitegen.opendata import activities_csv

    data = activities_csv(SITE)
    assert data.startswith("\ufeff".encode("utf-8"))
    text = data.decode("utf-8")[1:]
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    for code in LANGS:
        assert f"title_{code}" in header and f"agency_name_{code}" in header
    assert len(rows) == 1 + len(SITE.activities)
    first = dict(zip(header, rows[1]))
    activity = SITE.activities[0]
    assert first["number"] == str(activity.number) and first["agency_slug"] == activity.agency.slug
    assert first["topics"] == ";".join(t.id for t in activity.topics)


def test_the_data_package_describes_the_files_for_portals():
    import json

    from sitegen.opendata import _both, datapackage

    package = json.loads(datapackage(SITE, ""))
    assert "homepage" not in package
    assert json.loads(datapackage(SITE, "https://x.org/q/"))["homepage"] == "https://x.org/q/data/"
    fields = package["resources"][0]["schema"]["fields"]
    by_name = {f["name"]: f for f in fields}
    assert by_name["topics"]["type"] == "list" and by_name["topics"]["delimiter"] == ";"
    for code in LANGS:
        assert by_name[f"title_{code}"]["constraints"]["required"] is True
        assert by_name[f"title_{code}"]["title"].endswith(f" ({LANGS[code].label})")
    assert by_name["number"]["constraints"] == {"required": True, "unique": True, "minimum": 1}
    assert "constraints" not in by_name["topics"]
    assert _both({code: "same" for code in LANGS}, SITE) == "same"
    written = [lang.code for lang in SITE.written_languages]
    assert _both({code: code for code in LANGS}, SITE) == " / ".join(written)


def test_the_dataset_block_cannot_be_closed_by_a_text():
    import json

    from sitegen.opendata import dataset_jsonld

    lang = SITE.languages[0]
    block = str(dataset_jsonld(SITE, lang, "", ""))
    assert "<" not in block and "url" not in json.loads(block)
    data = json.loads(str(dataset_jsonld(SITE, lang, "https://x.org/", "https://x.org/data/")))
    assert data["url"] == "https://x.org/data/"
    assert data["distribution"][0]["contentUrl"] == "https://x.org/data/activities.csv"
    relative = json.loads(block)["distribution"][1]["contentUrl"]
    assert relative == "data/activities.json"


# --- Pages and their addresses ----------------------------------------------------------------------

def test_each_agency_page_names_its_neighbours_and_the_ends_have_one():
    from sitegen.pages import site_pages

    pages = [page for page in site_pages(SITE) if page.kind.per_agency]
    assert [page.context["agency"] for page in pages] == SITE.agencies
    assert pages[0].context["previous"] is None and pages[-1].context["next"] is None
    for i, page in enumerate(pages):
        if i:
            assert (page.context["previous"].slug, page.context["previous"].name) == (
                SITE.agencies[i - 1].slug, SITE.agencies[i - 1].name)
        if i + 1 < len(pages):
            assert (page.context["next"].slug, page.context["next"].name) == (
                SITE.agencies[i + 1].slug, SITE.agencies[i + 1].name)
        assert page.key == f"agencies/{SITE.agencies[i].slug}/"
        assert page.agencies == (SITE.agencies[i],)  # its neighbours only by name (Page.shows)


def test_pages_are_written_where_their_addresses_lead():
    from sitegen.pages import KINDS, Page, reserved_paths

    root, other = SITE.languages[0], next(lang for lang in SITE.languages if lang.path)
    home, missing = Page(KINDS["home"], ""), Page(KINDS["not_found"], "404.html")
    assert home.output_path(root) == "index.html" and home.output_path(other) == f"{other.path}/index.html"
    assert missing.output_path(root) == "404.html" and missing.output_path(other) == f"{other.path}/404.html"
    assert Page(KINDS["data"], "data/").output_path(other) == f"{other.path}/data/index.html"
    assert reserved_paths() == {"agencies", "activities", "print", "data", "changelog", "assets"}


# --- Reading content files ---------------------------------------------------------------------------

def test_a_field_path_reads_as_editors_write_it():
    from sitegen.load import format_field

    assert format_field(("activities", 0, "title", "en")) == "activities[0].title.en"
    assert format_field((2, "id")) == "[2].id"
    assert format_field(("strings", "home")) == "strings.home"
    assert format_field(()) == ""


def test_a_fields_line_is_found_or_its_nearest_parents(tmp_path):
    from sitegen.load import line_of

    path = tmp_path / "a.yaml"
    path.write_text("number: 1\nactivities:\n  - title:\n      zh: 一\n      en: One\n  - title: {zh: 二}\n", "utf-8")
    assert line_of(path, ("number",)) == 1
    assert line_of(path, ("activities",)) == 2
    assert line_of(path, ("activities", 0, "title", "en")) == 5
    assert line_of(path, ("activities", 1, "title")) == 6
    assert line_of(path, ("activities", 1, "title", "en")) == 6  # missing: its parent's line
    assert line_of(path, ("activities", 5, "title")) == 2  # no such item: the list's line
    assert line_of(path, ("slug",)) == 1
    assert line_of(path, ("activities", "title")) == 2  # a name where a position belongs: the list's line
    assert line_of(tmp_path / "missing.yaml", ("x",)) is None


def test_unreadable_files_are_named_with_the_reason(tmp_path):
    from sitegen.load import MAX_FILE_BYTES, ContentFileError, decode, read_bytes

    def problem_of(call):
        with pytest.raises(ContentFileError) as caught:
            call()
        return caught.value.problem

    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    found = problem_of(lambda: read_bytes(big))
    assert found.name == "too_large" and f"is {MAX_FILE_BYTES + 1:,} bytes" in found.message
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"x" * MAX_FILE_BYTES)
    assert len(read_bytes(exact)) == MAX_FILE_BYTES
    assert problem_of(lambda: read_bytes(tmp_path)).name == "is_directory"
    assert problem_of(lambda: read_bytes(tmp_path / "nothing.yaml")).name == "file_missing"
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\n")
    outside = tmp_path / "inside" / "link.yaml"
    outside.parent.mkdir()
    outside.symlink_to(small)
    assert problem_of(lambda: read_bytes(outside, tmp_path / "inside")).name == "symlink_outside"
    assert len(read_bytes(outside, tmp_path)) > 0  # a link that stays inside is read
    binary = problem_of(lambda: decode(tmp_path / "b.yaml", b"a: 1\nb: 2\nc: \x00\n"))
    assert binary.name == "binary" and binary.line == 3
    latin = problem_of(lambda: decode(tmp_path / "l.yaml", b"a: 1\nb: caf\xe9\n"))
    assert latin.name == "not_utf8" and latin.line == 2 and "0xe9" in latin.message
    assert decode(tmp_path / "bom.yaml", b"\xef\xbb\xbfa: 1\n") == "a: 1\n"


def test_yaml_mistakes_say_where_and_hint_at_tabs(tmp_path):
    from sitegen.load import ContentFileError, parse_yaml

    def problem_of(text):
        with pytest.raises(ContentFileError) as caught:
            parse_yaml(tmp_path / "x.yaml", text)
        return caught.value.problem

    tab = problem_of("a:\n  b: 1\n\tc: 2\n")
    assert tab.line == 3 and "(this line contains a tab; indent with spaces)" in tab.message
    bracket = problem_of("a: 1\nb: [1, 2\nc: 3\n")
    assert "which started on line 2" in bracket.message and "tab" not in bracket.message
    assert problem_of("# only a comment\n").name == "empty_file"
    twice = problem_of("a: 1\nb: 2\na: 3\n")
    assert twice.name == "duplicate_key" and twice.line == 3 and "'a'" in twice.message
    alias = problem_of("a: &x 1\nb: *x\n")
    assert alias.name == "aliases" and alias.line == 1  # the anchor: the node the alias repeats
    assert problem_of("? [a, b]\n: 1\n").name == "complex_key"
    assert parse_yaml(tmp_path / "d.yaml", "day: 2020-09-01\n") == {"day": "2020-09-01"}  # dates stay text


# --- What builds keep: never stale, and never a half-written file -----------------------------------

def test_a_store_keeps_what_the_latest_build_used_and_writes_only_on_change(tmp_path):
    from sitegen.cache import Store

    store = Store(tmp_path, "things")
    made = []
    assert store.get("a", lambda: made.append("a") or 1) == 1
    assert store.get("a", lambda: made.append("again") or 2) == 1 and made == ["a"]
    store.get("b", lambda: 2)
    store.save()
    assert (tmp_path / "things.msgpack").is_file()
    again = Store(tmp_path, "things")
    assert again.entries == {"a": 1, "b": 2}
    again.get("b", lambda: 0)
    again.save()  # "a" was not used: dropped
    assert Store(tmp_path, "things").entries == {"b": 2}
    stamp = (tmp_path / "things.msgpack").stat().st_mtime_ns
    unchanged = Store(tmp_path, "things")
    unchanged.get("b", lambda: 0)
    unchanged.save()
    assert (tmp_path / "things.msgpack").stat().st_mtime_ns == stamp, "nothing changed: nothing written"
    (tmp_path / "things.msgpack").write_bytes(b"\xc1 damaged")
    assert Store(tmp_path, "things").entries == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["things.msgpack"], "no temporary file left"


def test_a_new_library_version_starts_its_caches_afresh(tmp_path):
    from sitegen.cache import Cache

    old, new = Cache(tmp_path, {"md": "1", "cc": "1"}), Cache(tmp_path, {"md": "2", "cc": "1"})
    for cache in (old, new):
        assert cache.templates == tmp_path / "jinja"
    assert old.markdown.path != new.markdown.path and old.converted.path != new.converted.path
    assert old.parsed.path == new.parsed.path == tmp_path / "parsed.msgpack"  # parsed YAML does not depend on them
    assert old.markdown.path.name == "markdown-cc1-md1.msgpack"
    assert Cache(None).templates is None and Cache(None).pages.path is None


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path):
    from sitegen.cache import replace_file

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    replace_file(blocked / "store.msgpack", b"data")  # no exception
    replace_file(tmp_path / "new" / "store.msgpack", b"data")
    assert (tmp_path / "new" / "store.msgpack").read_bytes() == b"data"
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["store.msgpack"]


# --- Writing the site: whole or not at all, readable by the web server -------------------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_site(files: dict[str, bytes], out: Path) -> None:
    """A whole site written as a one-off build writes it: into a fresh folder, swapped in."""
    from sitegen.write import NewSite

    with NewSite(out) as site:
        site.add_all(files.items())
        site.commit()


def _write_changes(previous: dict[str, bytes], files: dict[str, bytes], out: Path) -> bool:
    """The site/ that held `previous` updated to hold `files`, as serve updates it; False, writing
    nothing, when `out` is not as `previous` left it."""
    from sitegen.write import ChangedFiles, fingerprint

    changes = ChangedFiles.of(out, {path: fingerprint(data) for path, data in previous.items()})
    if changes is None:
        return False
    changes.add_all(files.items())
    changes.commit()
    return True


def test_a_written_site_carries_a_manifest_of_every_file(tmp_path):
    import hashlib
    import json

    from sitegen.write import MANIFEST, manifest, written_by_us

    files = {"index.html": b"<p>home", "en/index.html": b"<p>en", "assets/css/a.css": b"a{}"}
    out = tmp_path / "site"
    _write_site(files, out)
    assert _tree(out) == {**files, MANIFEST: manifest(files)}
    listing = json.loads(manifest(files))
    assert listing["generator"] == "sitegen"
    assert listing["files"] == {path: hashlib.sha256(data).hexdigest()[:16] for path, data in files.items()}
    assert written_by_us(out)
    for text in (b"[]", b"{not json", b'{"generator": "other"}'):
        (out / MANIFEST).write_bytes(text)
        assert not written_by_us(out)
    assert not written_by_us(tmp_path / "nowhere")


def test_a_new_site_replaces_the_old_one_whole_and_leaves_nothing_beside_it(tmp_path):
    from sitegen.write import MANIFEST

    out = tmp_path / "site"
    _write_site({"old.html": b"old", "gone/page.html": b"x"}, out)
    (tmp_path / ".site.new-left-by-a-killed-build").mkdir()
    (tmp_path / ".site.old-left-by-a-killed-build").mkdir()
    (tmp_path / "neighbour.txt").write_text("mine")
    _write_site({"index.html": b"new"}, out)
    assert set(_tree(out)) == {"index.html", MANIFEST}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbour.txt", "site"]


def test_a_file_the_last_site_holds_unchanged_is_linked_to_not_written_again(tmp_path):
    """Creating a file costs a millisecond on some disks, linking one a hundredth of that: a file
    whose bytes are those the last site has at the same path is a hard link to it. Only a plain,
    world-readable file that still holds exactly those bytes is linked; never a symbolic link."""
    import os
    import stat

    from sitegen.write import MANIFEST

    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere.html"
    elsewhere.write_bytes(b"same")
    old = {"same.html": b"same", "changed.html": b"old", "edited.html": b"as built", "private.html": b"same",
           "link.html": b"same", "big.html": bytes(range(256)) * 9000}  # over two megabytes: compared in parts
    _write_site(old, out)
    before = {name: os.stat(out / name).st_ino for name in old}
    (out / "edited.html").write_bytes(b"by hand")  # changed in site/ since: its manifest entry is stale
    os.chmod(out / "private.html", 0o600)
    (out / "link.html").unlink()
    (out / "link.html").symlink_to(elsewhere)  # same bytes, but a link that leads out of the site
    new = {**old, "changed.html": b"new", "added.html": b"added"}
    _write_site(new, out)
    assert _tree(out) == {**new, MANIFEST: (out / MANIFEST).read_bytes()}
    linked = {name for name in new if os.lstat(out / name).st_ino == before.get(name)}
    assert linked == {"same.html", "big.html"}
    for name in new:
        status = os.lstat(out / name)
        assert stat.S_ISREG(status.st_mode) and stat.S_IMODE(status.st_mode) == 0o644, name
        assert status.st_nlink == 1, f"{name}: the old site is gone, so nothing else shares its file"


def test_rendering_processes_may_race_to_make_a_folder(tmp_path):
    """Forked rendering processes make the folders they need themselves (in parallel: mkdir is slow
    on some disks): a folder another process made first is no error."""
    from sitegen.write import NewSite

    out = tmp_path / "site"
    with NewSite(out) as site:
        (site.folder / "en" / "agencies").mkdir(parents=True)  # as another process would have
        site.add("en/agencies/index.html", b"list")
        site.add("en/index.html", b"home")
        site.commit()
    assert (out / "en" / "agencies" / "index.html").read_bytes() == b"list"


def test_without_an_atomic_exchange_the_site_is_still_swapped_whole(tmp_path, monkeypatch):
    import sitegen.write
    from sitegen.write import MANIFEST

    monkeypatch.setattr(sitegen.write, "_exchange", lambda a, b: False)  # a system without renameat2
    out = tmp_path / "site"
    _write_site({"a.html": b"1"}, out)
    _write_site({"b.html": b"2"}, out)
    assert set(_tree(out)) == {"b.html", MANIFEST}
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_two_folders_are_exchanged_in_one_step(tmp_path):
    from sitegen.write import _exchange

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "from-a").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "from-b").write_text("b")
    assert _exchange(tmp_path / "a", tmp_path / "b") is True  # Linux: renameat2(RENAME_EXCHANGE)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["from-b"]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from-a"]
    with pytest.raises(OSError):
        _exchange(tmp_path / "a", tmp_path / "missing")


def _modes(folder: Path) -> dict[str, int]:
    import stat

    return {p.relative_to(folder).as_posix() or ".": stat.S_IMODE(p.stat().st_mode)
            for p in [folder, *folder.rglob("*")]}


def _private_umask(action) -> None:
    import os

    old = os.umask(0o077)
    try:
        action()
    finally:
        os.umask(old)


def test_the_site_is_readable_by_a_web_server_whatever_the_umask(tmp_path):

    out = tmp_path / "site"
    _private_umask(lambda: _write_site({"index.html": b"1", "en/data/index.html": b"2"}, out))
    assert {name: oct(mode) for name, mode in _modes(out).items()} == {
        name: oct(0o755 if (out / name).is_dir() else 0o644) for name in _modes(out)}


def test_folders_serve_adds_are_readable_by_a_web_server_whatever_the_umask(tmp_path):

    out = tmp_path / "site"
    files = {"index.html": b"1"}
    _write_site(files, out)
    _private_umask(lambda: _write_changes(files, {**files, "en/new/page.html": b"3", "index.html": b"4"}, out))
    assert {name: oct(mode) for name, mode in _modes(out).items()} == {
        name: oct(0o755 if (out / name).is_dir() else 0o644) for name in _modes(out)}


def test_serve_rewrites_only_what_changed_and_removes_what_is_gone(tmp_path):
    from sitegen.write import MANIFEST, manifest

    out = tmp_path / "site"
    before = {"index.html": b"same", "en/a.html": b"old", "en/deep/er/b.html": b"gone", "keep/c.html": b"c"}
    _write_site(before, out)
    stamps = {name: (out / name).stat().st_mtime_ns for name in before}
    after = {"index.html": b"same", "en/a.html": b"new", "keep/c.html": b"c", "fresh/d.html": b"d"}
    assert _write_changes(before, after, out) is True
    assert _tree(out) == {**after, MANIFEST: manifest(after)}
    assert not (out / "en" / "deep").exists(), "folders left empty are removed"
    assert (out / "en").is_dir()
    for name in ("index.html", "keep/c.html"):
        assert (out / name).stat().st_mtime_ns == stamps[name], f"{name} did not change: not rewritten"
    assert not [p for p in out.rglob(".*") if p.name != MANIFEST], "no staged file left"


def test_serve_writes_nothing_over_a_folder_another_build_changed(tmp_path):
    from sitegen.write import MANIFEST

    out = tmp_path / "site"
    mine = {"index.html": b"mine"}
    _write_site({"index.html": b"theirs"}, out)  # another build wrote here since
    snapshot = _tree(out)
    assert _write_changes(mine, {"index.html": b"next"}, out) is False
    assert _tree(out) == snapshot
    (out / MANIFEST).unlink()
    assert _write_changes({"index.html": b"theirs"}, {"index.html": b"next"}, out) is False


def test_asset_names_change_with_their_bytes_and_editors_files_are_left_out(tmp_path):
    from sitegen.write import fingerprinted_assets

    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("a{}")
    (tmp_path / "css" / ".site.css.swp").write_text("swap")
    (tmp_path / "css" / "site.css~").write_text("backup")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("x()")
    (tmp_path / "icon.png").write_bytes(b"png")
    names, files = fingerprinted_assets(tmp_path)
    assert set(names) == {"css/site.css", "js/app.js", "icon.png"}
    assert names["icon.png"] == "assets/icon.png"
    assert re.fullmatch(r"assets/css/site\.[0-9a-f]{10}\.css", names["css/site.css"])
    assert re.fullmatch(r"assets/js/app\.[0-9a-f]{10}\.js", names["js/app.js"])
    assert files[names["css/site.css"]] == b"a{}" and set(files) == set(names.values())
    (tmp_path / "css" / "site.css").write_text("b{}")
    assert fingerprinted_assets(tmp_path)[0]["css/site.css"] != names["css/site.css"]
    assert fingerprinted_assets(tmp_path)[0]["js/app.js"] == names["js/app.js"]


def _garble_other_languages(value, keep: str) -> None:
    """Every text of the model's part `value` (a dict with an entry per language) made nonsense,
    but for the language `keep`."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(value):
        for f in fields(value):
            if f.repr:  # not Activity.agency, the way back up
                _garble_other_languages(getattr(value, f.name), keep)
    elif isinstance(value, dict) and keep in value:
        value.update({code: f"garbled {code}" for code in value if code != keep})
    elif isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:
            _garble_other_languages(item, keep)


def test_a_page_shows_no_other_language_s_texts_of_an_agency(tmp_path, monkeypatch):
    """A page is rendered again only when what its own language shows of its agencies changes
    (pages.in_language), so an edit to the English renders only English pages. That holds while no
    template shows another language's text of an agency or an activity: with every other
    language's texts garbled, each language's pages come out byte for byte as before. (A template
    that must show one declares it in Page.shows, and in_language learns it.) The search data's
    name is left out: it is an asset, whose name every reuse of a page checks, and the 繁體 search
    is made from the Chinese texts too."""
    from sitegen.pages import site_pages
    from sitegen.pipeline import Builder, Project
    from sitegen.write import InMemory

    builder = Builder(Project(out=tmp_path / "no-last-site"), keep=False)

    def pages(site) -> dict[str, bytes]:
        monkeypatch.setattr(builder, "model", lambda: site)
        writer = InMemory()
        builder.render(writer)
        return {path: re.sub(rb"(search-[\w-]+)\.\w+\.json", rb"\1.json", data)
                for path, data in writer.files.items() if path.endswith(".html")}

    before = pages(builder.model())
    for lang in SITE.languages:
        garbled = Builder(Project(), keep=False).model()
        _garble_other_languages(garbled.agencies, keep=lang.code)
        assert "garbled" in repr(garbled.agencies[0].name)
        paths = {page.output_path(lang) for page in site_pages(garbled)}
        after = pages(garbled)
        changed = sorted(path for path in paths if after[path] != before[path])
        assert changed == [], f"{lang.code} pages that show another language's texts: {changed}"


def test_the_search_data_is_named_by_what_it_is_made_from(content_copy, tmp_path):
    """Pages link the search data before it is made (it is made beside them), so its name comes
    from its inputs: the same content gives the same name and bytes, an edit gives a new name to
    the search data of the languages that show the edited text, and the activities page links
    the file that holds the edit. The 繁體 search is made from the Chinese texts too."""
    def search_files(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (out / "assets").glob("search-*.json")}

    def renamed(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
        return sorted(name.split(".")[0] for name in set(after) - set(before))

    build_site(content_copy, tmp_path / "one")
    build_site(content_copy, tmp_path / "two")
    assert search_files(tmp_path / "one") == search_files(tmp_path / "two")
    assert len(search_files(tmp_path / "one")) == len(SITE.languages)
    path = sorted((content_copy / "agencies").glob("*.yaml"))[3]
    path.write_text(re.sub(r'(\n      en: ")', r"\1Zanzibar ", path.read_text("utf-8"), count=1), "utf-8")
    build_site(content_copy, tmp_path / "three")
    before, after = search_files(tmp_path / "one"), search_files(tmp_path / "three")
    assert renamed(before, after) == ["search-en"]
    [english] = [name for name in after if name.startswith("search-en.")]
    assert b"Zanzibar" in after[english]
    assert f"assets/{english}" in (tmp_path / "three" / "en" / "activities" / "index.html").read_text("utf-8")
    path.write_text(re.sub(r'(\n      zh: ")', r"\1桑给巴尔", path.read_text("utf-8"), count=1), "utf-8")
    build_site(content_copy, tmp_path / "four")
    assert renamed(after, search_files(tmp_path / "four")) == ["search-zh", "search-zh-Hant"]
    build_site(content_copy, tmp_path / "five")
    assert tree_digest(tmp_path / "four") == tree_digest(tmp_path / "five")


# --- Derived languages and search across scripts -----------------------------------------------------

def _check_folding(site) -> None:
    """Whatever script a reader types, search compares the same characters: every character a
    derived text has in place of its source's folds to the same form, and that form is the one the
    written text uses."""
    from sitegen.derive import fold_tables, localized_texts

    folds = fold_tables(site)
    for lang in site.languages:
        if lang.derive is None:
            continue
        fold, source_fold = folds[lang.code], folds[lang.derive.source]
        assert fold and fold == source_fold, "both editions search the same way"
        written = set("".join(texts[lang.derive.source] for texts in localized_texts(site)))
        for texts in localized_texts(site):
            for simplified, traditional in zip(texts[lang.derive.source], texts[lang.code]):
                if simplified != traditional:  # the derived form finds the written one
                    assert fold.get(traditional, traditional) == fold.get(simplified, simplified), (
                        simplified, traditional)
                    assert fold.get(traditional, traditional) in written, (simplified, traditional)
        assert all(value != key for key, value in fold.items())
    for lang in site.languages:
        if lang.derive is None and not any(o.derive and o.derive.source == lang.code for o in site.languages):
            assert folds[lang.code] == {}, f"{lang.code} neither derives nor is derived from"


def test_search_folds_what_a_reader_types_in_either_script():
    _check_folding(SITE)


def test_search_finds_the_text_when_a_reader_types_another_regions_forms():
    """A Hong Kong reader types 衞 or 啓 where the Taiwan-standard edition has 衛 or 啟: both fold to
    the written 卫, 启."""
    import opencc

    from sitegen.derive import fold_tables, localized_texts

    for lang in SITE.languages:
        if lang.derive is None:
            continue
        fold = fold_tables(SITE)[lang.code]
        to_hk, from_hk = opencc.OpenCC("s2hk").convert, opencc.OpenCC("hk2s").convert
        convert = opencc.OpenCC(lang.derive.opencc).convert
        written = sorted(set("".join(texts[lang.derive.source] for texts in localized_texts(SITE))))
        regional = [(c, to_hk(c)) for c in written
                    if len(to_hk(c)) == 1 and to_hk(c) not in (c, convert(c)) and from_hk(to_hk(c)) == c]
        assert regional, "the content has characters whose Hong Kong form differs"
        for simplified, typed in regional:
            assert fold.get(typed, typed) == fold.get(simplified, simplified), (simplified, typed)


def test_search_folds_a_character_the_converters_change_one_way_only(content_copy):
    """谘 becomes 諮, but no converter back to Simplified gives 谘 again (they give 咨): only the
    site's own conversion knows the two belong together."""
    from sitegen.pipeline import Builder, Project

    derived = next(lang for lang in SITE.languages if lang.derive)
    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    text = agency.read_text("utf-8")
    marker = f"\n      {derived.derive.source}: "
    at = text.index(marker, text.index("    title:")) + len(marker)
    agency.write_text(text[:at] + "谘询" + text[at:], "utf-8")
    site = Builder(Project(content=content_copy)).model()
    assert "諮" in site.activities[0].title[derived.code]
    _check_folding(site)


def test_an_override_replaces_the_converters_term_in_place(content_copy, tmp_path):
    derived = next(lang for lang in SITE.languages if lang.derive)
    site_yaml = content_copy / "site.yaml"
    text = site_yaml.read_text("utf-8")
    # 质量月 occurs many times, at different positions; its conversion replaced by a marked one
    marked = "質量月" if "质量月" in text else None
    assert marked
    site_yaml.write_text(text.replace("      overrides:\n", "      overrides:\n        质量月: 品質月\n", 1), "utf-8")
    result = build_site(content_copy, tmp_path / "site")
    for texts in [result.site.config.title, *[a.title for a in result.site.activities]]:
        source = texts[derived.derive.source]
        if "质量月" in source:
            converted = texts[derived.code]
            assert "品質月" in converted and len(converted) == len(source)
            assert [i for i in range(len(source)) if source.startswith("质量月", i)] == \
                   [i for i in range(len(converted)) if converted.startswith("品質月", i)]


# --- Messages placed exactly --------------------------------------------------------------------------

def test_an_invisible_character_is_placed_at_its_position(content_copy):
    from sitegen.validate import load_site

    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    text = agency.read_text("utf-8")
    start = text.index("  en: ", text.index("full_name:")) + len("  en: ")
    end = text.index("\n", start)
    agency.write_text(text[:start] + '"ab\\acd"' + text[end:], "utf-8")  # YAML's escape for U+0007
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    [found] = caught.value.problems
    assert found.name == "control_character" and "U+0007 at position 3" in found.message


@pytest.mark.parametrize("old,new,close", [("      opencc: ", "      openc: ", "opencc"),
                                           ("    screen: ", "    scren: ", "screen")], ids=["derive", "fonts"])
def test_a_typo_in_a_nested_record_of_site_yaml_gets_a_hint(content_copy, old, new, close):
    from sitegen.validate import load_site

    site_yaml = content_copy / "site.yaml"
    site_yaml.write_text(site_yaml.read_text("utf-8").replace(old, new, 1), "utf-8")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert [p.name for p in caught.value.problems] == ["unknown_field_close"]
    assert f"did you mean '{close}'?" in caught.value.problems[0].message


@pytest.mark.parametrize("optional", ["kept", "left out"])
def test_one_typo_in_site_yaml_is_one_message(content_copy, optional):
    from sitegen.validate import load_site

    site_yaml = content_copy / "site.yaml"
    text = site_yaml.read_text("utf-8").replace("\nheld:", "\nhelt:", 1)
    if optional == "left out":  # the optional settings (base_url, corrections…) may be left out
        text = re.sub(r"(?m)^(base_url|corrections|allowed_image_hosts):.*\n", "", text)
    site_yaml.write_text(text, "utf-8")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert [p.name for p in caught.value.problems] == ["unknown_field_close"], caught.value.report()


def test_the_more_problems_line_comes_last_for_its_file(content_copy):
    from sitegen.validate import MAX_PROBLEMS_PER_FILE, load_site

    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    text = agency.read_text("utf-8")
    agency.write_text(text.replace("    title:", "    titel:") + "# padding\n" * 6000 + "".join(
        f"extra{n}: x\n" for n in range(MAX_PROBLEMS_PER_FILE + 5)), "utf-8")  # a long file: mistakes far down
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    mine = [p for p in caught.value.problems if p.path == str(agency.resolve())]
    assert len(mine) == MAX_PROBLEMS_PER_FILE + 1
    assert "more problems in this file" in mine[-1].message
    assert all("more problems" not in p.message for p in mine[:-1])


def test_the_more_problems_line_shows_no_made_up_line_number(content_copy):
    from sitegen.validate import MAX_PROBLEMS_PER_FILE, load_site

    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    agency.write_text(agency.read_text("utf-8") + "".join(f"extra{n}: x\n" for n in range(MAX_PROBLEMS_PER_FILE + 5)),
                      "utf-8")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert ":1000000000:" not in caught.value.report()


def test_a_rebuild_reports_its_own_duration(tmp_path):
    import time

    from sitegen.pipeline import Project
    from sitegen.serve import Watcher

    watcher = Watcher(Project(out=tmp_path / "site"))
    watcher.build()
    started = time.perf_counter()
    line = watcher.build()  # nothing changed: quick
    elapsed = (time.perf_counter() - started) * 1000
    reported = int(re.fullmatch(r"rebuilt in (\d+) ms", line)[1])
    assert reported <= elapsed + 1, (reported, elapsed)


# --- Numbering mistakes: one slip, one message ---------------------------------------------------------

def _problems(content: Path) -> list:
    from sitegen.validate import load_site

    with pytest.raises(ContentError) as caught:
        load_site(content)
    return caught.value.problems


def _renumber(content: Path, activity, new: int) -> None:
    path = content / "agencies" / Path(activity.agency.source_file).name
    text = path.read_text("utf-8")
    old = f"  - number: {activity.number}\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, f"  - number: {new}\n"), "utf-8")


def test_a_mistyped_activity_number_is_one_message_that_says_the_right_one(content_copy):
    activity = SITE.activities[len(SITE.activities) // 2]
    _renumber(content_copy, activity, activity.number + 100)
    [found] = _problems(content_copy)
    assert found.name == "activity_number_gap" and f"expected activity number {activity.number}:" in found.message
    assert found.field == f"activities[{activity.index}].number"


def test_a_mistyped_number_at_the_top_of_a_file_is_a_slip_not_a_cut(content_copy):
    """The first activity of a file numbered wrongly, and the numbers going on as if it were right:
    one slip in this file, not numbers missing between two files."""
    activity = next(a.activities[0] for a in SITE.agencies[1:])
    _renumber(content_copy, activity, activity.number + 100)
    [found] = _problems(content_copy)
    assert found.name == "activity_number_gap" and f"expected activity number {activity.number}:" in found.message
    assert found.path.endswith(Path(activity.agency.source_file).name)


def test_the_last_activity_numbered_like_another_is_one_message(content_copy):
    last, first = SITE.activities[-1], SITE.activities[0]
    _renumber(content_copy, last, first.number)
    [found] = _problems(content_copy)
    assert found.name == "activity_number_shared"
    assert f"activity number {first.number} is also used in {Path(first.agency.source_file).name}" in found.message


def test_activities_cut_off_at_the_end_of_a_file_are_named_with_both_files(content_copy):
    agency = next(a for a in SITE.agencies[:-1] if len(a.activities) >= 3)
    following = SITE.agencies[SITE.agencies.index(agency) + 1]
    lost = agency.activities[-2:]
    path = content_copy / "agencies" / Path(agency.source_file).name
    text = path.read_text("utf-8")
    path.write_text(text[: text.index(f"  - number: {lost[0].number}\n")], "utf-8")
    [found] = _problems(content_copy)
    assert found.name == "activity_numbers_missing"
    assert found.path.endswith(Path(following.source_file).name)
    assert f"activity numbers {lost[0].number}–{lost[1].number} are missing: numbers jump from " \
           f"{lost[0].number - 1} (the last in {Path(agency.source_file).name}) to {lost[1].number + 1}" in found.message


def test_a_topic_id_used_twice_is_one_message_not_one_per_activity(content_copy):
    text = (content_copy / "topics.yaml").read_text("utf-8")
    first, second = [t.id for t in SITE.topics[:2]]
    assert any(second in [t.id for t in a.topics] for a in SITE.activities)
    (content_copy / "topics.yaml").write_text(text.replace(f"- id: {second}\n", f"- id: {first}\n", 1), "utf-8")
    assert [p.name for p in _problems(content_copy)] == ["topic_twice"]


def test_an_unknown_key_in_a_topic_lists_the_keys_a_topic_has(content_copy):
    text = (content_copy / "topics.yaml").read_text("utf-8")
    first = SITE.topics[0].id
    (content_copy / "topics.yaml").write_text(text.replace(f"- id: {first}\n", f"- id: {first}\n  colour: red\n", 1),
                                              "utf-8")
    [found] = _problems(content_copy)
    assert (found.name, found.field) == ("unknown_field", "[0].colour")
    assert found.message == "unknown field; expected one of: id, label"


def test_a_site_title_without_a_languages_text_is_named(content_copy):
    last = SITE.written_languages[-1].code
    site_yaml = content_copy / "site.yaml"
    text = site_yaml.read_text("utf-8")
    start = text.index("\ntitle:")
    block_end = text.index("\n", text.index(f"  {last}: ", start))
    site_yaml.write_text(text[:text.index(f"\n  {last}: ", start)] + text[block_end:], "utf-8")
    [found] = _problems(content_copy)
    assert (found.name, found.field) == ("missing_language", "title")
    assert f"missing the '{last}' text" in found.message


# --- Bad edits, in process: the corpus of tests/test_bad_edits.py without a subprocess or a clock ----

@pytest.fixture(scope="module")
def good_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "site"
    build_site(ROOT / "content", out)
    return out, tree_digest(out)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_bad_edit_is_reported_at_its_place_and_changes_nothing(name, tmp_path, monkeypatch, good_site):
    site, digest = good_site
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    expect = VARIANTS[name](content)
    monkeypatch.chdir(tmp_path)  # messages name files as the editor typed them: content/…
    with pytest.raises(ContentError) as caught:
        build_site(Path("content"), site)
    report = caught.value.report()
    found = messages_for(report, expect.file)
    assert found, f"no message names content/{expect.file}\n{report}"

    def fits(line, rest: str) -> bool:
        if expect.line is not None and line != expect.line:
            return False
        if expect.field is not None and not rest.startswith(f"{expect.field}: "):
            return False
        return all(word.lower() in rest.lower() for word in expect.words)

    assert any(fits(line, rest) for line, rest in found), (expect, report)
    assert len(caught.value.problems) <= expect.max_messages, report
    assert tree_digest(site) == digest, "a failed build changed the site"


# --- serve, in process: what the editor's browser gets -----------------------------------------------

class _Served:
    def __init__(self, watcher, port: int):
        self.watcher, self.port = watcher, port

    def get(self, path: str, method: str = "GET", host: str | None = None):
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers={"Host": host or f"127.0.0.1:{self.port}"})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import threading

    from sitegen.pipeline import Project
    from sitegen.serve import Handler, Server, Watcher

    content = tmp_path_factory.mktemp("served") / "content"
    shutil.copytree(ROOT / "content", content)
    watcher = Watcher(Project(content=content, out=content.parent / "site"))
    first = watcher.build()
    assert re.fullmatch(r"rebuilt in \d+ ms", first), first
    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    hosts = frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))
    server.RequestHandlerClass = type("Bound", (Handler,), {"watcher": watcher, "allowed_hosts": hosts})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _Served(watcher, port)
    server.shutdown()
    server.server_close()


def test_serve_answers_pages_with_their_type_and_the_reload_script(served):
    status, headers, body = served.get("/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert int(headers["Content-Length"]) == len(body)
    assert body.count(b'<script src="/__reload.js"></script></body>') == 1
    on_disk = (served.watcher.out / "index.html").read_bytes()
    assert body == on_disk.replace(b"</body>", b'<script src="/__reload.js"></script></body>', 1)
    other = next(lang for lang in SITE.languages if lang.path)
    assert served.get(f"/{other.path}/data/")[0] == 200


def test_serve_shows_a_rebuilt_site_from_memory_and_tells_open_pages_before_it_is_written(served):
    """serve's later builds hold every file in memory: they are served, and the browser told to
    reload, while they are written to site/; a file not in memory comes from site/."""
    watcher, generation = served.watcher, served.watcher.generation
    watcher.show({"index.html": b"<html><body>from memory</body></html>", "agencies/x/index.html": b"<p>x</p>"})
    try:
        assert watcher.generation == generation + 1 and watcher.told
        status, headers, body = served.get("/")
        assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
        assert body == b'<html><body>from memory<script src="/__reload.js"></script></body></html>'
        assert served.get("/agencies/x")[0] == 301 and served.get("/agencies/x/")[2] == b"<p>x</p>"
        assert served.get("/robots.txt")[2] == (watcher.out / "robots.txt").read_bytes()
        assert served.get("/../../etc/passwd")[0] == 404
    finally:
        watcher.show(None)
    assert served.get("/")[2].startswith((watcher.out / "index.html").read_bytes()[:100])


def test_serve_lets_go_of_a_build_in_memory_once_it_is_written(served):
    """Shown from memory only until site/ holds it: serve does not keep a second copy of the site."""
    generation = served.watcher.generation
    assert re.fullmatch(r"rebuilt in \d+ ms", served.watcher.build())
    assert served.watcher.generation == generation + 1 and served.watcher.files is None
    assert served.get("/")[2].startswith((served.watcher.out / "index.html").read_bytes()[:100])


@pytest.mark.parametrize("pattern,content_type", [
    ("assets/css/*.css", "text/css; charset=utf-8"), ("assets/js/*.js", "text/javascript; charset=utf-8"),
    ("assets/icons/*.png", "image/png"), ("data/*.csv", "text/csv; charset=utf-8"),
    ("data/*.json", "application/json; charset=utf-8"), ("robots.txt", "text/plain; charset=utf-8"),
    ("manifest.webmanifest", "application/manifest+json; charset=utf-8"), ("assets/*.svg", "image/svg+xml; charset=utf-8"),
])
def test_serve_says_what_each_file_is(served, pattern, content_type):
    path = sorted(served.watcher.out.glob(pattern))[0]
    status, headers, body = served.get("/" + path.relative_to(served.watcher.out).as_posix())
    assert (status, headers["Content-Type"]) == (200, content_type)
    assert body == path.read_bytes()


def test_serve_head_is_get_without_the_body(served):
    for path in ("/", "/robots.txt", "/__reload.js", "/no-such-page/"):
        status, headers, body = served.get(path)
        answer = _raw(served.port, f"HEAD {path} HTTP/1.0\r\nHost: 127.0.0.1:{served.port}\r\n\r\n")
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert rest == b"", "nothing after the headers"
        assert head.startswith(f"HTTP/1.0 {status} ".encode())
        assert f"Content-Length: {len(body)}".encode() in head and headers["Content-Length"] == str(len(body))


def test_serve_redirects_a_folder_to_its_slash_and_lists_no_folder(served):
    other = next(lang for lang in SITE.languages if lang.path)
    status, headers, body = served.get(f"/{other.path}")
    assert (status, headers["Location"], headers["Content-Length"], body) == (301, f"/{other.path}/", "0", b"")
    status, _, body = served.get("/assets/")
    assert status == 404 and body == (served.watcher.out / "404.html").read_bytes()


@pytest.mark.parametrize("path", ["/no-such-page/", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/assets/..%5c..%5cx", "/%00", "/index.html/x"])
def test_serve_answers_the_sites_404_for_anything_else(served, path):
    status, headers, body = served.get(path)
    assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (served.watcher.out / "404.html").read_bytes()


def test_serve_answers_only_its_own_addresses(served):
    assert served.get("/", host=f"LOCALHOST:{served.port}")[0] == 200
    assert served.get("/", host=f"[::1]:{served.port}")[0] == 200
    for host in ("evil.example", f"evil.example:{served.port}", "127.0.0.1:1", f"127.0.0.1:{served.port}.evil"):
        status, headers, body = served.get("/", host=host)
        assert status == 403 and headers["Content-Type"] == "text/plain; charset=utf-8", host
        assert body == b"Only requests for this computer's own address are served.\n"


def _raw(port: int, request: str) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_serve_refuses_a_request_for_another_server_or_without_a_host(served):
    answer = _raw(served.port, f"GET http://127.0.0.1:{served.port}/ HTTP/1.0\r\nHost: 127.0.0.1:{served.port}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400 ") and answer.endswith(b"\r\n\r\nBad request.\n")
    assert _raw(served.port, "GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 403 ")


def test_serve_gives_its_own_script_and_style(served):
    from sitegen.serve import ERROR_CSS, RELOAD_SCRIPT

    assert served.get("/__reload.js")[::2] == (200, RELOAD_SCRIPT)
    assert served.get("/__reload.js")[1]["Content-Type"] == "text/javascript; charset=utf-8"
    assert served.get("/__error.css")[::2] == (200, ERROR_CSS)


def test_while_a_build_fails_pages_show_the_errors_and_other_files_are_served(served):
    served.watcher.error = ["content/x.yaml:3: <b>bad</b> & worse"]
    try:
        status, headers, body = served.get("/")
        assert status == 500 and headers["Content-Type"] == "text/html; charset=utf-8"
        text = body.decode("utf-8")
        assert "<h1>The site has 1 error</h1>" in text
        assert "<li><code>content/x.yaml:3: &lt;b&gt;bad&lt;/b&gt; &amp; worse</code></li>" in text
        assert "<script src='/__reload.js'></script>" in text and "/__error.css" in text
        assert served.get("/index.html")[0] == 500
        assert served.get("/robots.txt")[0] == 200
        served.watcher.error = ["one", "two"]
        assert "<h1>The site has 2 errors</h1>" in served.get("/")[2].decode("utf-8")
    finally:
        served.watcher.error = None
    assert served.get("/")[0] == 200


def test_an_open_page_is_told_to_reload_after_the_next_build(served):
    import http.client
    import threading
    import time

    answers = []

    def listen():
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        connection.request("GET", "/__events", headers={"Host": f"localhost:{served.port}"})
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Content-Type"), response.read()))
    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)
    assert not answers, "nothing to say before a build"
    assert re.fullmatch(r"rebuilt in \d+ ms", served.watcher.build())
    listener.join(timeout=30)
    assert answers == [(200, "text/event-stream; charset=utf-8", b"data: reload\n\n")]


def test_each_kind_of_failed_rebuild_is_one_clear_line(tmp_path, monkeypatch):
    from sitegen.pipeline import Builder, Project
    from sitegen.serve import Watcher

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    watcher = Watcher(Project(content=content, out=tmp_path / "site"))
    assert watcher.build().startswith("rebuilt in ")
    before = tree_digest(tmp_path / "site")
    (content / "topics.yaml").write_text("- id: Not A Slug\n", "utf-8")
    line = watcher.build()
    assert line.startswith("content error") or " content error" in line.splitlines()[0]
    assert line.endswith("The browser shows this error; site/ still holds the last good build.")
    assert watcher.error and all("topics.yaml" in e for e in watcher.error)
    assert tree_digest(tmp_path / "site") == before
    shutil.copy(ROOT / "content" / "topics.yaml", content / "topics.yaml")
    assert watcher.build().startswith("rebuilt in ") and watcher.error is None

    def broken(self, ready=None):
        raise KeyError("oops")
    monkeypatch.setattr(Builder, "build", broken)
    line = watcher.build()
    assert line.startswith("internal error, a bug in the generator: KeyError: 'oops'") and "\n" not in line
    assert watcher.error == [line]

    def unwritable(self, ready=None):
        raise PermissionError(13, "Permission denied", str(tmp_path / "site" / "index.html"))
    monkeypatch.setattr(Builder, "build", unwritable)
    line = watcher.build()
    assert line.startswith("cannot write ") and line.endswith("index.html: Permission denied")
    assert watcher.error == [line]


def test_serve_says_when_another_build_wrote_its_folder_and_rewrites_it(tmp_path):
    from sitegen.pipeline import Project
    from sitegen.serve import Watcher

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    out = tmp_path / "site"
    watcher = Watcher(Project(content=content, out=out))
    watcher.build()
    build_site(content, out, base_url="https://x.org/")  # build.py --base-url … while serve runs
    line = watcher.build()
    assert line.splitlines()[0] == f"{out} was changed by another build since this one wrote it; it is written anew"
    assert re.fullmatch(r"rebuilt in \d+ ms", line.splitlines()[1])
    assert tree_digest(out) == tree_digest(build_site(content, tmp_path / "clean") and tmp_path / "clean")
    assert re.fullmatch(r"rebuilt in \d+ ms", watcher.build()), "said once, not on every rebuild after"


class _Counting:
    """Stands in for serve's Watcher: counts the rebuilds that file events start."""

    def __init__(self):
        import threading

        self.builds = 0
        self.done = threading.Event()

    def build(self):
        self.builds += 1
        self.done.set()
        return "rebuilt"


def test_serve_rebuilds_on_a_save(tmp_path):
    from sitegen.serve import watch

    (tmp_path / "agencies").mkdir()
    watcher = _Counting()
    observer = watch(watcher, [tmp_path])
    try:
        (tmp_path / "agencies" / "01-x.yaml").write_text("saved")
        assert watcher.done.wait(10), "a save rebuilds"
    finally:
        observer.stop()


def test_serve_does_not_rebuild_for_editors_scratch_files(tmp_path):
    import time

    from sitegen.serve import watch

    watcher = _Counting()
    observer = watch(watcher, [tmp_path])
    try:
        time.sleep(0.3)
        for name in (".site.yaml.swp", "site.yaml~", "4913", "x.tmp", "x.part", "x.swx"):
            (tmp_path / name).write_text("scratch")
        time.sleep(1.0)
        assert watcher.builds == 0, "scratch files rebuild nothing"
    finally:
        observer.stop()


# --- Cache staleness: a new library, an edited stylesheet, a template --------------------------------

def test_caches_are_tagged_with_the_installed_converters_versions():
    from importlib.metadata import version

    from sitegen.derive import opencc_version
    from sitegen.render import markdown_version

    assert opencc_version() == version("opencc")  # a new OpenCC converts afresh
    assert markdown_version() == version("markdown-it-py")  # a new markdown-it-py renders afresh


def test_a_second_build_reuses_the_compiled_templates(tmp_path, monkeypatch):
    import jinja2

    cache = tmp_path / "cache"
    build_site(ROOT / "content", tmp_path / "one", cache=cache)
    assert any((cache / "jinja").iterdir()), "compiled templates are kept"
    compiled = []
    original = jinja2.Environment._compile
    monkeypatch.setattr(jinja2.Environment, "_compile",
                        lambda self, source, filename: compiled.append(filename) or original(self, source, filename))
    build_site(ROOT / "content", tmp_path / "two", cache=cache)
    assert compiled == [], "nothing compiled again"


def _stylesheet_edit(css: Path, before: bool) -> None:
    """Edit the stylesheet so that its new fingerprinted name sorts before (or after) the old one."""
    import hashlib

    text = css.read_text("utf-8")
    old = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    for n in range(1000):
        new_text = text + f"/* edit {n} */\n"
        new = hashlib.sha256(new_text.encode("utf-8")).hexdigest()[:10]
        if (new < old) == before:
            css.write_text(new_text, "utf-8")
            return
    raise AssertionError("no such edit")


@pytest.mark.parametrize("before", [True, False], ids=["new-name-sorts-first", "new-name-sorts-last"])
def test_after_a_stylesheet_edit_serve_links_the_new_stylesheet_from_every_page(tmp_path, before):
    from sitegen.pipeline import Builder, Project

    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    builder = Builder(Project(out=tmp_path / "site", assets=tmp_path / "assets"))
    first = builder.build().files
    _stylesheet_edit(tmp_path / "assets" / "css" / "site.css", before)
    files = builder.build().files
    old = next(name for name in first if re.fullmatch(r"assets/css/site\.\w+\.css", name))
    new = next(name for name in files if re.fullmatch(r"assets/css/site\.\w+\.css", name))
    assert old != new
    stale = [name for name in files if name.endswith(".html")
             and old.encode() in (tmp_path / "site" / name).read_bytes().replace(b"../", b"")]
    assert stale == []
    assert files == Builder(Project(out=tmp_path / "clean", assets=tmp_path / "assets")).render().files


def test_a_mistake_in_a_partial_names_the_partial_and_its_line(tmp_path):
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    footer = tmp_path / "templates" / "partials" / "footer.html"
    lines = footer.read_text("utf-8").splitlines(keepends=True)
    lines.insert(2, "{{ no_such_helper() }}\n")
    footer.write_text("".join(lines), "utf-8")
    from sitegen.pipeline import Project, build

    with pytest.raises(ContentError) as caught:
        build(Project(out=tmp_path / "site", templates=tmp_path / "templates"))
    [found] = caught.value.problems
    assert (Path(found.path).resolve(), found.line, found.name) == (footer.resolve(), 3, "template_error")
    assert "no_such_helper" in found.message and "while rendering /" in found.message


def test_the_footer_is_rendered_once_for_the_pages_that_share_it_and_reads_as_if_each_page_had_its_own(
        tmp_path, monkeypatch):
    """The footer and the settings dialog are shared by the pages that make the same links (the
    404 page links from the site's root, so it has its own), and the pages read byte for byte as
    if each page had rendered them itself."""
    import jinja2

    from sitegen.pipeline import Project, build

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    footer = tmp_path / "templates" / "partials" / "footer.html"
    footer.write_text(footer.read_text("utf-8").replace(
        "</footer>", '<img src="{{ asset(\'favicon.svg\') }}" alt=""></footer>'), "utf-8")
    rendered = []
    original = jinja2.Template.render
    monkeypatch.setattr(jinja2.Template, "render", lambda self, *a, **k: rendered.append(self.name) or original(
        self, *a, **k))
    shared = build(Project(out=tmp_path / "shared", templates=tmp_path / "templates", processes=1))
    pages = [path for path in shared.files if path.endswith(".html")]
    assert 0 < rendered.count("partials/footer.html") < len(pages) / 4
    base = tmp_path / "templates" / "base.html"
    text = base.read_text("utf-8")
    for name in ("footer", "settings"):
        assert f'{{{{ furniture("partials/{name}.html") -}}}}' in text
        text = text.replace(f'{{{{ furniture("partials/{name}.html") -}}}}', f'{{% include "partials/{name}.html" %}}')
    base.write_text(text, "utf-8")
    own = build(Project(out=tmp_path / "own", templates=tmp_path / "templates", processes=1))
    assert own.files == shared.files
    for path in pages:  # the shared footer's asset is linked from each page's own folder
        html = (tmp_path / "shared" / path).read_text("utf-8")
        assert html == (tmp_path / "own" / path).read_text("utf-8")
        assert re.search(r'<img src="(\.\./)*(/)?assets/favicon\.svg" alt=""></footer>', html), path


def test_a_shared_partial_that_needs_the_page_says_so(tmp_path):
    from sitegen.pipeline import Project, build

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    footer = tmp_path / "templates" / "partials" / "footer.html"
    footer.write_text(footer.read_text("utf-8").replace("</footer>", "{{ page.key }}</footer>"), "utf-8")
    with pytest.raises(ContentError) as caught:
        build(Project(out=tmp_path / "site", templates=tmp_path / "templates"))
    [found] = caught.value.problems
    assert Path(found.path).resolve() == footer.resolve() and found.name == "template_error"
    assert "'page' is undefined" in found.message


def test_a_missing_page_template_is_named(tmp_path):
    from sitegen.pipeline import Project, build

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "templates" / "changelog.html").unlink()
    with pytest.raises(ContentError) as caught:
        build(Project(out=tmp_path / "site", templates=tmp_path / "templates"))
    [found] = caught.value.problems
    assert Path(found.path) == tmp_path / "templates" / "changelog.html"
    assert "changelog.html" in found.message and found.message.startswith("while rendering /changelog/")


def test_a_template_can_link_a_mistake_report_to_the_activitys_address(tmp_path):
    from sitegen.pages import site_pages
    from sitegen.pipeline import Builder, Project
    from sitegen.render import Renderer

    site = Builder(Project()).model()
    site.config = msgspec_replace(site.config, corrections="mailto:fix@example.org")
    page = next(page for page in site_pages(site) if page.kind.per_agency)
    activity = page.context["agency"].activities[0]
    other = next(lang for lang in site.languages if lang.path)
    for base, address in (("", f"/{other.path}/agencies/{activity.agency.slug}/#activity-{activity.number}"),
                          ("https://x.org/q/", f"https://x.org/q/{other.path}/agencies/{activity.agency.slug}/"
                                               f"#activity-{activity.number}")):
        renderer = Renderer(lambda: Builder(Project()).env, site, {}, base, {})
        link = renderer.context(page, other)["report_link"](activity)
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(link).query)
        assert link.startswith("mailto:fix@example.org?")
        assert address in query["body"][0]
        assert activity.title[other.code] in query["subject"][0]


# --- Whole builds ---------------------------------------------------------------------------------------

def test_only_the_translations_say_which_text_is_authoritative(built_site):
    from conftest import lang_prefix

    original = SITE.languages[0]
    for lang in SITE.languages:
        home = (built_site / lang_prefix(lang.code) / "index.html").read_text("utf-8")
        notice = SITE.config.strings.translation_notice[lang.code]
        assert ("site-footer__translation" in home) == (lang is not original), lang.code
        assert (notice in home) == (lang is not original), lang.code


def test_a_language_may_not_take_a_folder_the_site_uses(content_copy):
    other = next(lang for lang in SITE.languages if lang.path)
    text = (content_copy / "site.yaml").read_text("utf-8")
    (content_copy / "site.yaml").write_text(text.replace(f"path: {other.path}\n", "path: print\n", 1), "utf-8")
    with pytest.raises(ContentError) as caught:
        build_site(content_copy, content_copy.parent / "out")
    assert [p.name for p in caught.value.problems] == ["language_path_reserved"]
    assert "language path 'print' is a folder the site already uses; avoid: activities, agencies, assets, " \
           "changelog, data, print" in caught.value.report()


def test_a_build_with_a_cache_parses_and_converts_nothing_the_second_time(tmp_path, monkeypatch):
    import sitegen.load
    import sitegen.render

    cache = tmp_path / "cache"
    first = build_site(ROOT / "content", tmp_path / "one", cache=cache)
    import sitegen.derive

    calls = []
    monkeypatch.setattr(sitegen.load, "parse_yaml", lambda *a: calls.append("parse"))
    monkeypatch.setattr(sitegen.render, "markdown_converter", lambda: calls.append("markdown"))
    monkeypatch.setattr(sitegen.derive.Converters, "__call__", lambda self, config: calls.append(config))
    second = build_site(ROOT / "content", tmp_path / "two", cache=cache)
    assert calls == [] and second.files == first.files


def test_a_second_build_of_the_same_content_rewrites_no_cache(tmp_path):
    """What the first build made and kept is what the second one uses: none of the stores shrinks
    and is written again (at 10,000 activities rewriting one costs seconds and 30 MB), and
    nothing a later build would need again is dropped (the character tables search folds by)."""
    cache = tmp_path / "cache"
    build_site(ROOT / "content", tmp_path / "one", cache=cache)
    first = {path.name: path.read_bytes() for path in cache.glob("*.msgpack") if path.name != "built.msgpack"}
    build_site(ROOT / "content", tmp_path / "two", cache=cache)
    assert {path.name: path.read_bytes() for path in cache.glob("*.msgpack") if path.name != "built.msgpack"} == first
    assert any(name.startswith("converted-") for name in first)


def test_qr_codes_are_made_once_per_address_and_kept_in_the_cache(tmp_path, monkeypatch):
    """With a base URL every page's bar has a QR code of its address. segno makes each once; a later
    build that renders every page again (into a new folder: nothing to take over) takes them from
    the cache, and a new address gets new codes."""
    import segno

    from sitegen.pages import addresses, site_pages

    made, original = [], segno.make
    monkeypatch.setattr(segno, "make", lambda content, **options: made.append(content) or original(content, **options))
    cache, base = tmp_path / "cache", "https://example.org/quality-month/"
    first = build_site(ROOT / "content", tmp_path / "one", base, cache)
    every_page = addresses(site_pages(SITE), SITE.languages, base)
    assert sorted(made) == sorted(every_page) and len(every_page) == 3 * (len(SITE.agencies) + 5)  # not the 404
    made.clear()
    assert build_site(ROOT / "content", tmp_path / "two", base, cache).files == first.files and made == []
    build_site(ROOT / "content", tmp_path / "three", "https://example.net/", cache)
    assert len(made) == len(every_page)


# --- Mutation survivors: what the fast tests did not yet notice (scripts/mutation.py) -----------------

def test_a_missing_top_level_field_is_reported_where_the_record_starts(content_copy):
    """Line 1 is the schema comment, so the record starts on line 2: a field missing from it is
    reported there (not on line 1, nor on the line of another field)."""
    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    lines = agency.read_text("utf-8").splitlines(keepends=True)
    assert lines[0].startswith("#") and lines[1].startswith("number:")
    agency.write_text("".join(line for line in lines if not line.startswith("slug:")), "utf-8")
    [found] = _problems(content_copy)
    assert (found.name, found.field, found.line) == ("required", "slug", 2), found


def _raise_through(frames: list[tuple[str, int]]) -> BaseException:
    """An exception raised in the last of these (file, line) frames, each called by the one
    before: a traceback through files of our own and a library's, without either existing."""
    namespace: dict = {}
    for depth, (filename, line) in enumerate(reversed(frames)):
        call = "raise ValueError('boom')" if depth == 0 else f"callee_{depth - 1}()"
        source = "\n" * (line - 1) + f"def callee_{depth}():\n    {call}\n"
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (a made-up traceback)
    try:
        namespace[f"callee_{len(frames) - 1}"]()
    except ValueError as err:
        return err
    raise AssertionError("nothing was raised")


def test_an_internal_error_names_the_innermost_line_of_the_generator():
    from sitegen.errors import internal_error

    ours = str(ROOT / "sitegen")
    err = _raise_through([(f"{ours}/pipeline.py", 10), (f"{ours}/render.py", 20),
                          ("/usr/lib/python3/dist-packages/somelibrary/core.py", 30)])
    message = internal_error(err)
    assert message.startswith("internal error, a bug in the generator: ValueError: boom (at ")
    assert "render.py:21)" in message, message  # the line that called into the library
    assert "somelibrary" not in message and "pipeline.py" not in message


@pytest.mark.parametrize("mistakes,more", [(20, 0), (21, 1), (25, 5)])
def test_a_file_lists_twenty_mistakes_then_says_how_many_more(content_copy, mistakes, more):
    """The report stays readable however broken a file is: twenty of its mistakes, then a count."""
    agency = sorted((content_copy / "agencies").glob("*.yaml"))[0]
    agency.write_text(agency.read_text("utf-8") + "".join(f"extra{n}: x\n" for n in range(mistakes)), "utf-8")
    mine = [p for p in _problems(content_copy) if p.path == str(agency.resolve())]
    listed = [p for p in mine if p.name != "held_back"]
    assert len(listed) == 20 and all(p.name == "unknown_field" for p in listed)
    said = {0: [], 1: ["… and 1 more problem in this file"], 5: ["… and 5 more problems in this file"]}[more]
    assert [p.message for p in mine[20:]] == said


def test_the_conversion_tables_hold_only_characters_changed_into_one_other():
    from sitegen.derive import _TO_SIMPLIFIED, Converters, _table

    converters = Converters()
    for config in _TO_SIMPLIFIED:
        table = _table(config, converters)
        assert len(table) > 2000, config
        assert all(len(key) == 1 and len(value) == 1 and value != key for key, value in table.items()), config


def test_serve_rebuilds_reuse_the_plain_text_of_unchanged_bodies():
    from sitegen.outputs import plain_text, search_data

    lang = SITE.languages[0]
    plain_text.cache_clear()
    search_data(SITE, lang, {})
    first = plain_text.cache_info()
    assert first.misses >= len(SITE.activities)
    search_data(SITE, lang, {})
    again = plain_text.cache_info()
    assert again.misses == first.misses and again.hits >= first.hits + len(SITE.activities)


def test_unwrap_reaches_the_item_type_through_any_nesting():
    """'Did you mean' hints look up the record type a field holds, however it is wrapped."""
    from typing import Annotated

    from sitegen.model import Derivation
    from sitegen.validate import _unwrap

    for kind in (Derivation, list[Derivation], Derivation | None, list[Derivation] | None,
                 Annotated[list[Derivation] | None, "meta"], Annotated[Derivation | None, "meta"]):
        assert _unwrap(kind) is Derivation, kind
    assert _unwrap(int | str) == int | str  # a real choice of types stays as it is


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_build(tmp_path):
    """Files named like the staging folders of a killed build (but not folders, so not ours) stay,
    and the build goes on."""

    out = tmp_path / "site"
    for name in (".site.new-1", ".site.old-1"):
        (tmp_path / name).write_text("not a folder")
    _write_site({"index.html": b"1"}, out)
    assert (out / "index.html").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.new-1", ".site.old-1", "site"]


def test_a_system_without_renameat2_swaps_the_site_by_two_renames(tmp_path, monkeypatch):
    """On a C library without renameat2 (macOS, older musl) the exchange says it cannot, and the
    site is still swapped whole."""
    import sitegen.write as write

    class LibcWithoutRenameat2:
        def __init__(self, *args, **kwargs):
            pass

    out = tmp_path / "site"
    _write_site({"index.html": b"1"}, out)
    monkeypatch.setattr(write.ctypes, "CDLL", LibcWithoutRenameat2)
    assert write._exchange(tmp_path / "a", tmp_path / "b") is False
    _write_site({"index.html": b"2"}, out)
    assert (out / "index.html").read_bytes() == b"2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_failure_in_the_rebuild_loop_is_one_line_and_the_watching_goes_on(tmp_path, capfd):
    import time

    from sitegen.serve import watch

    class FailsOnce(_Counting):
        def build(self):
            self.builds += 1
            if self.builds == 1:
                raise BrokenPipeError(32, "Broken pipe")
            self.done.set()
            return "rebuilt"

    watcher = FailsOnce()
    observer = watch(watcher, [tmp_path])
    try:
        time.sleep(0.3)  # the watch is in place
        (tmp_path / "site.yaml").write_text("one")
        for _ in range(100):  # the first save's rebuild has failed
            if watcher.builds:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        (tmp_path / "site.yaml").write_text("two")
        assert watcher.done.wait(10), "the watching went on after the failure"
    finally:
        observer.stop()
    err = capfd.readouterr().err
    assert "internal error, a bug in the generator: BrokenPipeError" in err and "Traceback" not in err


# --- One-off builds take unchanged pages from the site the last build wrote ------------------------

def test_a_build_renders_only_the_pages_whose_inputs_changed_and_writes_what_a_clean_build_writes(
        content_copy, tmp_path, monkeypatch):
    """An edit to an activity renders its agency's page and the pages that list every activity; an
    edit to the agency's name also its neighbours' pages and the home page, which show it. Only
    in the languages that show the edited text (the 繁體 is made from the Chinese). Nothing else."""
    from sitegen.pages import site_pages

    out, cache = tmp_path / "site", tmp_path / "cache"
    build_site(content_copy, out, cache=cache)
    rendered = record_renders(monkeypatch)
    build_site(content_copy, out, cache=cache)
    assert rendered == []
    path = sorted((content_copy / "agencies").glob("*.yaml"))[5]
    for edit, text, neighbours_too, languages in (
            (r"(\n      en: \")", "Edited ", False, {"en"}),  # an activity's title
            (r"(\n      zh: \")", "改", False, {"zh", "zh-Hant"}),
            (r"(\n  en: \")", "Edited ", True, {"en"})):  # the agency's name
        path.write_text(re.sub(edit, rf"\1{text}", path.read_text("utf-8"), count=1), "utf-8")
        rendered.clear()
        result = build_site(content_copy, out, cache=cache)
        i = next(i for i, a in enumerate(result.site.agencies) if a.source_file == str(path.resolve()))
        shown = {result.site.agencies[j].slug for j in ((i - 1, i, i + 1) if neighbours_too else (i,))}
        expected = {page.output_path(lang) for page in site_pages(result.site) for lang in result.site.languages
                    if lang.code in languages and (shown & {agency.slug for agency in page.agencies}
                                                   or (neighbours_too and page.key == ""))}
        assert sorted(rendered) == sorted(expected)
        build_site(content_copy, tmp_path / "clean")
        assert tree_digest(out) == tree_digest(tmp_path / "clean")


def test_an_added_activity_renders_the_home_page_again_which_counts_them(content_copy, tmp_path, monkeypatch):
    """The home page shows each agency's name and count, not its activities: a new activity (the
    67th, at the end of the last agency) changes a count, so the home page is rendered again."""
    out, cache = tmp_path / "site", tmp_path / "cache"
    build_site(content_copy, out, cache=cache)
    path = sorted((content_copy / "agencies").glob("*.yaml"))[-1]
    path.write_text(path.read_text("utf-8") + (
        "  - number: 67\n    topics: [food-safety]\n    title:\n      zh: \"新增活动\"\n      en: \"An added activity\"\n"
        "    text:\n      zh: \"新增活动的内容。\"\n      en: \"What the added activity does.\"\n"), "utf-8")
    rendered = record_renders(monkeypatch)
    result = build_site(content_copy, out, cache=cache)
    assert len(result.site.activities) == 67
    home = {f"{lang.path}/index.html" if lang.path else "index.html" for lang in result.site.languages}
    assert home <= set(rendered)
    build_site(content_copy, tmp_path / "clean")
    assert tree_digest(out) == tree_digest(tmp_path / "clean")


def test_a_page_changed_in_the_site_since_the_last_build_is_rendered_again(tmp_path, monkeypatch):
    out, cache = tmp_path / "site", tmp_path / "cache"
    build_site(ROOT / "content", out, cache=cache)
    before = tree_digest(out)
    page = out / "print" / "index.html"
    page.write_bytes(page.read_bytes().replace(b"<main", b"<main data-edited-by-hand", 1))
    rendered = record_renders(monkeypatch)
    build_site(ROOT / "content", out, cache=cache)
    assert rendered == ["print/index.html"] and tree_digest(out) == before


@pytest.mark.parametrize("change", ["template", "code", "base_url", "asset"])
def test_what_every_page_is_made_from_renders_every_page_again(tmp_path, monkeypatch, change):
    import sitegen.pipeline
    from sitegen.pages import site_pages
    from sitegen.pipeline import Project, build

    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    project = Project(out=tmp_path / "site", cache=tmp_path / "cache", templates=tmp_path / "templates",
                      assets=tmp_path / "assets")
    build(project)
    if change == "template":
        footer = tmp_path / "templates" / "partials" / "footer.html"
        footer.write_text(footer.read_text("utf-8").replace("</footer>", "<!-- edited --></footer>"), "utf-8")
    elif change == "code":
        monkeypatch.setattr(sitegen.pipeline, "code_version", lambda: "another version of the generator")
    elif change == "base_url":
        project.base_url = "https://example.org/quality/"
    else:
        script = tmp_path / "assets" / "js" / "site.js"
        script.write_text(script.read_text("utf-8") + "\n// edited\n", "utf-8")
    rendered = record_renders(monkeypatch)
    build(project)
    assert sorted(rendered) == sorted(page.output_path(lang) for page in site_pages(SITE) for lang in SITE.languages)
