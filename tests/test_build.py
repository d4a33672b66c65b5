"""The generator: every page in every language, relative links, and a build that is
deterministic, atomic and clean (issue 3); one page table and caches that never leak (issue 15)."""
from __future__ import annotations

import hashlib
import html
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import msgspec
import pytest

from conftest import BASE_URL, LANGS, ROOT, SITE, StaticServer, build_site, lang_prefix
from sitegen.errors import ContentError
from sitegen.pages import PAGE_KINDS, site_pages
from sitegen.text import activity_label

PAGES = site_pages(SITE)
SESSION_START = __import__("time").time()
KEYS = [page.key for page in PAGES if page.kind.in_sitemap]  # the folders of the site (404.html aside)
FIRST = SITE.languages[0].code


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
    return site / next(p for p in PAGES if p.key == key).output_path(LANGS[code])


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


@pytest.mark.parametrize("code", LANGS)
def test_agency_pages_hold_every_activity_with_its_anchor_and_number(built_site, code):
    lang = LANGS[code]
    for agency in SITE.agencies:
        text = html.unescape(page_file(built_site, code, f"agencies/{agency.slug}/").read_text("utf-8"))
        for act in agency.activities:
            assert f'id="activity-{act.number}"' in text
            assert act.title[code] in text and html.unescape(str(act.html[code]))[:40] in text
        numbers = re.findall(r'class="activity__number">([^<]+)<', text)
        assert numbers == [activity_label(a.number, lang.numerals) for a in agency.activities]


@pytest.mark.parametrize("code", LANGS)
def test_home_lists_every_agency_with_its_count(built_site, code):
    text = html.unescape(page_file(built_site, code, "").read_text("utf-8"))
    strings = {key: texts[code] for key, texts in msgspec.structs.asdict(SITE.config.strings).items()}
    for agency in SITE.agencies:
        count = len(agency.activities)
        shown = strings["activity_count_one"] if count == 1 else strings["activity_count"].replace("{n}", str(count))
        item = re.search(rf'href="agencies/{agency.slug}/">(.*?)</a>', text, re.S)
        assert item and agency.name[code] in item[1] and shown in item[1], agency.slug


def test_base_url_adds_canonical_and_alternates(built_site_with_base):
    for code, lang in LANGS.items():
        page = parse(page_file(built_site_with_base, code, "activities/"))
        assert page.find("link", rel="canonical")[0]["href"] == BASE_URL + lang_prefix(code) + "activities/"
        alternates = {a["hreflang"]: a["href"] for a in page.find("link", rel="alternate")}
        assert alternates == {other.html_lang: BASE_URL + lang_prefix(other.code) + "activities/"
                              for other in SITE.languages}


def test_sitemap_lists_every_page_with_hreflang_alternates(built_site_with_base):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.parse(built_site_with_base / "sitemap.xml").getroot()
    urls = root.findall("s:url", ns)
    assert len(urls) == len(KEYS) * len(LANGS)
    for url in urls:
        assert url.find("s:loc", ns).text.startswith(BASE_URL)
        assert {link.get("hreflang") for link in url.findall("x:link", ns)} == {lang.html_lang for lang in LANGS.values()}
    robots = (built_site_with_base / "robots.txt").read_text()
    assert f"Sitemap: {BASE_URL}sitemap.xml" in robots


def test_without_a_base_url_there_is_no_sitemap_and_robots_names_none(built_site):
    assert not (built_site / "sitemap.xml").exists()
    assert "Sitemap:" not in (built_site / "robots.txt").read_text()


def test_assets_carry_a_content_hash(built_site):
    names = [p.name for p in (built_site / "assets").rglob("*") if p.suffix in (".css", ".js")]
    assert names and all(re.search(r"\.[0-9a-f]{10}\.(css|js)$", n) for n in names)


def test_two_builds_are_byte_identical(tmp_path):
    build_site(ROOT / "content", tmp_path / "a")
    build_site(ROOT / "content", tmp_path / "b", cache=tmp_path / "cache")
    build_site(ROOT / "content", tmp_path / "c", cache=tmp_path / "cache")  # from a warm cache
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b") == tree_digest(tmp_path / "c")


def test_a_failed_build_leaves_the_previous_site_untouched(tmp_path, content_copy):
    out = tmp_path / "site"
    build_site(content_copy, out)
    before = tree_digest(out)
    path = content_copy / "agencies" / "05-commerce.yaml"
    path.write_text(path.read_text("utf-8").replace("number: 28", "number: 28x"), "utf-8")
    with pytest.raises(ContentError):
        build_site(content_copy, out)
    assert tree_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")], "no staging folder left"


def test_a_rebuild_removes_stale_files(tmp_path):
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    (out / "stale.html").write_text("old")
    build_site(ROOT / "content", out)
    assert not (out / "stale.html").exists()


def run_cli(*args, cwd=ROOT):
    """build.py as a person runs it, but never with the developer's .cache/."""
    if not any(a in ("--cache", "--no-cache") for a in args):
        args = (*args, "--no-cache")
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_cli_prints_one_summary_line(tmp_path):
    result = run_cli("--out", str(tmp_path / "site"))
    assert result.returncode == 0, result.stderr
    per_language = ", ".join(rf"\d+ {re.escape(code)}" for code in LANGS)
    assert re.match(rf"built \d+ pages \({per_language}\), \d+ files in \d+ ms\n", result.stdout)


def test_check_validates_only(tmp_path):
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 0
    assert f"{len(SITE.agencies)} agencies, {len(SITE.activities)} activities" in result.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["--base-url", "example.org"], ["--content", "/nonexistent"],
                                  ["--port", "eighty"], ["--out", "."], ["--out", "content"],
                                  ["--out", "templates/partials"], ["--out", "README.md"]])
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("files", [["thesis.txt"], ["index.html", "thesis.docx"]], ids=["any", "with-index"])
def test_a_folder_that_is_not_a_built_site_is_never_replaced(tmp_path, files):
    """Only a folder with the manifest a build leaves is ours: a GitHub Pages docs/ or a
    public_html/ with an index.html is not."""
    keep = tmp_path / "documents"
    keep.mkdir()
    for name in files:
        (keep / name).write_text("precious")
    result = run_cli("--out", str(keep))
    assert result.returncode == 2 and "was not written by build.py" in result.stderr, result.stderr
    assert all((keep / name).read_text() == "precious" for name in files)
    assert sorted(p.name for p in keep.iterdir()) == sorted(files)


def test_a_built_site_is_replaced_and_carries_its_manifest(tmp_path):
    from sitegen.write import MANIFEST

    out = tmp_path / "site"
    assert run_cli("--out", str(out)).returncode == 0
    assert (out / MANIFEST).is_file()
    assert run_cli("--out", str(out)).returncode == 0, "a folder it wrote itself is replaced"


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
                if link.startswith("https://") and not link.startswith(BASE_URL):
                    continue  # a link to another site (the licence): followed by readers, never loaded
                assert target.startswith(server.url), f"{url} links outside the site: {link}"
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        assert len(seen) > len(KEYS) * 2, "the crawl reached every page"
    finally:
        server.close()


def test_the_parse_cache_sees_every_edit_and_survives_corruption(tmp_path, content_copy):
    """Keyed by the bytes of each file: an edit of the same size with the old time restored
    (cp -p, rsync -t, a coarse clock) is seen too."""
    import os

    out, cache = tmp_path / "site", tmp_path / "cache"
    build_site(content_copy, out, cache=cache)
    path = content_copy / "agencies" / "02-state-assets.yaml"
    stat = path.stat()
    text = path.read_text("utf-8")
    code = SITE.written_languages[-1].code
    english = next(a for a in SITE.agencies if a.number == 2).activities[0].title[code]
    edited = text.replace(english, english[::-1], 1)
    assert len(edited.encode()) == len(text.encode()) and edited != text
    path.write_text(edited, "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    build_site(content_copy, out, cache=cache)
    page = (out / lang_prefix(code) / "agencies" / "state-assets" / "index.html").read_text("utf-8")
    assert html.escape(english[::-1]) in page
    (cache / "parsed.msgpack").write_bytes(b"\x00garbage")
    build_site(content_copy, out, cache=cache)
    assert (cache / "parsed.msgpack").read_bytes() != b"\x00garbage", "rewritten after the corrupt one was ignored"


def test_the_tests_never_touch_the_developers_cache():
    """build_site and run_cli keep no cache, or one in a temporary folder; ROOT/.cache is untouched."""
    cache = ROOT / ".cache"
    assert not cache.exists() or all(p.stat().st_mtime < SESSION_START for p in cache.rglob("*")), \
        "a test wrote to the developer's .cache/"


def test_the_page_table_drives_navigation_and_reserved_paths(built_site):
    from sitegen.pages import navigation, reserved_paths

    for kind in PAGE_KINDS:
        assert (kind.folder in reserved_paths()) == bool(kind.folder)
    home = parse(page_file(built_site, FIRST, ""))
    nav_links = [a["href"] for t, a in home.tags if t == "a" and a.get("href") and not a.get("hreflang")]
    for place in ("header", "footer", "home"):
        for kind in navigation(place):
            assert (kind.key or "./") in nav_links, (place, kind.name)
