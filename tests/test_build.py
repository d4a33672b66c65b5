"""The generator: every page in both languages, relative links, and a build that is
deterministic, atomic and clean (issue 3)."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

import build
from conftest import BASE_URL, ROOT, StaticServer
from sitegen.errors import ContentError
from sitegen.text import chinese_numeral
from sitegen.validate import load_site

SITE = load_site(ROOT / "content")
LANGS = {lang.code: lang for lang in SITE.languages}
KEYS = ["", "activities/", "print/", "data/"] + [f"agencies/{a.slug}/" for a in SITE.agencies]


class PageParser(HTMLParser):
    """Collects what the tests look at: attributes by tag, ids, and visible text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **wanted):
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in wanted.items())]


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text("utf-8"))
    return parser


def page_file(site: Path, code: str, key: str) -> Path:
    prefix = LANGS[code].path
    return site / prefix / key / "index.html" if prefix else site / key / "index.html"


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("code", LANGS)
@pytest.mark.parametrize("key", KEYS)
def test_every_page_has_the_basics(built_site, code, key):
    path = page_file(built_site, code, key)
    page = parse(path)
    html_tag = page.find("html")[0]
    assert html_tag["lang"] == LANGS[code].html_lang
    text = "".join(page.text)
    assert re.search(r"<title>[^<]+</title>", path.read_text("utf-8"))
    description = page.find("meta", name="description")
    assert description and description[0]["content"].strip()
    assert page.find("a", class_="skip-link", href="#main") and "main" in page.ids
    assert page.find("nav", class_="breadcrumbs")
    assert SITE.config.source[code] in text, "the footer cites the source document"
    assert not page.find("link", rel="canonical"), "canonical links only with a base URL"


@pytest.mark.parametrize("code", LANGS)
@pytest.mark.parametrize("key", KEYS)
def test_the_language_switch_leads_to_the_same_page(built_site, code, key):
    path = page_file(built_site, code, key)
    switch = [a for t, a in parse(path).tags if t == "a" and a.get("hreflang")]
    others = [lang for lang in SITE.languages if lang.code != code]
    assert [a["hreflang"] for a in switch] == [lang.html_lang for lang in others]
    for link, lang in zip(switch, others):
        target = (path.parent / link["href"]).resolve() / "index.html"
        assert target == page_file(built_site, lang.code, key).resolve()


def test_agency_pages_hold_every_activity_with_its_anchor_and_number(built_site):
    for agency in SITE.agencies:
        zh = page_file(built_site, "zh", f"agencies/{agency.slug}/")
        en = page_file(built_site, "en", f"agencies/{agency.slug}/")
        zh_text, en_text = zh.read_text("utf-8"), en.read_text("utf-8")
        for act in agency.activities:
            for html in (zh_text, en_text):
                assert f'id="activity-{act.number}"' in html
            assert act.text["zh"][:20] in zh_text and act.title["en"] in en_text.replace("&#39;", "'")
        numbers = re.findall(r'class="activity__number">([^<]+)<', zh_text)
        assert numbers == [f"（{chinese_numeral(a.number)}）" for a in agency.activities]


def test_home_lists_every_agency_with_its_count(built_site):
    text = page_file(built_site, "zh", "").read_text("utf-8")
    for agency in SITE.agencies:
        assert f"agencies/{agency.slug}/" in text and agency.name["zh"] in text
    assert "23项活动" in text
    english = page_file(built_site, "en", "").read_text("utf-8")
    assert "23 activities" in english and "1 activity<" in english


def test_base_url_adds_canonical_and_alternates(built_site_with_base):
    page = parse(page_file(built_site_with_base, "en", "activities/"))
    assert page.find("link", rel="canonical")[0]["href"] == BASE_URL + "en/activities/"
    alternates = {a["hreflang"]: a["href"] for a in page.find("link", rel="alternate")}
    assert alternates == {"zh-CN": BASE_URL + "activities/", "en": BASE_URL + "en/activities/"}


def test_sitemap_lists_every_page_with_hreflang_alternates(built_site_with_base):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.parse(built_site_with_base / "sitemap.xml").getroot()
    urls = root.findall("s:url", ns)
    assert len(urls) == len(KEYS) * len(LANGS)
    for url in urls:
        assert url.find("s:loc", ns).text.startswith(BASE_URL)
        assert {link.get("hreflang") for link in url.findall("x:link", ns)} == {"zh-CN", "en"}
    robots = (built_site_with_base / "robots.txt").read_text()
    assert f"Sitemap: {BASE_URL}sitemap.xml" in robots


def test_assets_carry_a_content_hash(built_site):
    names = [p.name for p in (built_site / "assets").rglob("*") if p.suffix in (".css", ".js")]
    assert names and all(re.search(r"\.[0-9a-f]{10}\.(css|js)$", n) for n in names)


def test_two_builds_are_byte_identical(tmp_path):
    build.build(ROOT / "content", tmp_path / "a", base_url="")
    build.build(ROOT / "content", tmp_path / "b", base_url="")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_a_failed_build_leaves_the_previous_site_untouched(tmp_path, content_copy):
    out = tmp_path / "site"
    build.build(content_copy, out, base_url="")
    before = tree_digest(out)
    path = content_copy / "agencies" / "05-commerce.yaml"
    path.write_text(path.read_text("utf-8").replace("number: 28", "number: 28x"), "utf-8")
    with pytest.raises(ContentError):
        build.build(content_copy, out, base_url="")
    assert tree_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")], "no staging folder left"


def test_a_rebuild_removes_stale_files(tmp_path):
    out = tmp_path / "site"
    build.build(ROOT / "content", out, base_url="")
    (out / "stale.html").write_text("old")
    build.build(ROOT / "content", out, base_url="")
    assert not (out / "stale.html").exists()


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_cli_prints_one_summary_line(tmp_path):
    result = run_cli("--out", str(tmp_path / "site"))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"built \d+ pages \(\d+ zh, \d+ en\), \d+ files in \d+ ms\n", result.stdout)


def test_check_validates_only(tmp_path):
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 0 and "26 agencies, 66 activities" in result.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["--base-url", "example.org"], ["--content", "/nonexistent"],
                                  ["--port", "eighty"], ["--out", "."], ["--out", "content"],
                                  ["--out", "templates/partials"], ["--out", "README.md"]])
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


def test_a_folder_that_is_not_a_built_site_is_never_replaced(tmp_path):
    keep = tmp_path / "documents"
    keep.mkdir()
    (keep / "thesis.txt").write_text("precious")
    result = run_cli("--out", str(keep))
    assert result.returncode == 2 and "not a built site" in result.stderr
    assert (keep / "thesis.txt").read_text() == "precious"


class LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and tag != "form":
                self.links.append(value)


def test_every_link_works_under_a_sub_path(built_site):
    """Host the site under /some/prefix/ and follow every link from the home pages."""
    server = StaticServer(built_site, prefix="/some/prefix/")
    try:
        start = [server.url, server.url + "en/"]
        seen, queue = set(start), list(start)
        while queue:
            url = queue.pop()
            try:
                with urllib.request.urlopen(url) as response:
                    body = response.read()
            except urllib.error.HTTPError as err:
                pytest.fail(f"{url} (linked from the site): HTTP {err.code}")
            if not (url.endswith("/") or url.endswith(".html")):
                continue
            collector = LinkCollector()
            collector.feed(body.decode("utf-8"))
            for link in collector.links:
                target = urllib.parse.urljoin(url, link).split("#")[0].split("?")[0]
                assert target.startswith(server.url), f"{url} links outside the site: {link}"
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        assert len(seen) > len(KEYS) * 2, "the crawl reached every page"
    finally:
        server.close()


def test_the_parse_cache_sees_every_edit_and_survives_corruption(tmp_path, content_copy):
    from sitegen.load import ParseCache

    out = tmp_path / "site"
    build.build(content_copy, out, base_url="")
    path = content_copy / "agencies" / "02-state-assets.yaml"
    path.write_text(path.read_text("utf-8").replace("Quality training for", "Cached? No: training for"), "utf-8")
    build.build(content_copy, out, base_url="")
    assert "Cached? No: training for" in (out / "en" / "agencies" / "state-assets" / "index.html").read_text("utf-8")
    assert str(path.resolve()) in ParseCache(build.CACHE / "content.msgpack").entries
    (build.CACHE / "content.msgpack").write_bytes(b"\x00garbage")
    build.build(content_copy, out, base_url="")
    assert ParseCache(build.CACHE / "content.msgpack").entries, "rewritten after the corrupt one was ignored"
