"""Links and isolation (issue 6, part 3): every internal link, asset and #anchor in the built site
resolves; nothing is requested from another host; no page logs a console error."""
from __future__ import annotations

import json
import posixpath
import re
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import BASE_URL

# Attributes that hold an address, by tag ("*" for any tag). The data-* ones are read by
# assets/js/search.js and turned into requests or links.
URL_ATTRS = {
    "a": ("href",), "link": ("href",), "script": ("src",), "img": ("src",), "iframe": ("src",),
    "source": ("src",), "form": ("action",), "button": ("formaction",), "input": ("formaction",),
    "*": ("data-index", "data-library", "data-agencies"),
}
SEARCH_PARAMS = ("q", "agency", "topic")  # what the activities page reads from its query string


class Parsed(HTMLParser):
    """One HTML file: its tags with attributes and line numbers, ids, and select options."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict, int]] = []
        self.ids: list[str] = []
        self.options: dict[str, set[str]] = {}  # select name → option values
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        self.tags.append((tag, attrs, self.getpos()[0]))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "select":
            self._select = attrs.get("name", "")
            self.options.setdefault(self._select, set())
        elif tag == "option" and self._select is not None:
            self.options[self._select].add(attrs.get("value", ""))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    def urls(self):
        for tag, attrs, line in self.tags:
            for name in URL_ATTRS.get(tag, ()) + URL_ATTRS["*"]:
                if name in attrs:
                    yield tag, name, attrs[name], line


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def url_path(site: Path, file: Path) -> str:
    """The address path of a file inside the site, without a leading slash: '', 'en/data/', '404.html'."""
    rel = file.relative_to(site).as_posix()
    return rel[: -len("index.html")] if rel.endswith("index.html") else rel


class Site:
    """A built site, parsed once: resolves an address found in a page to a file and an anchor."""

    def __init__(self, root: Path, base_url: str = ""):
        self.root, self.base_url = root, base_url
        self._parsed: dict[Path, Parsed] = {}

    def parsed(self, file: Path) -> Parsed:
        if file not in self._parsed:
            parser = Parsed()
            parser.feed(file.read_text("utf-8"))
            parser.close()
            self._parsed[file] = parser
        return self._parsed[file]

    def target(self, page_path: str, url: str) -> tuple[str | None, urllib.parse.SplitResult, str | None]:
        """(path inside the site or None if external, the split address, an error or None)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme or parts.netloc:
            if self.base_url and url.startswith(self.base_url):
                return url[len(self.base_url):].split("#")[0].split("?")[0], parts, None
            if parts.scheme in ("http", "https", "mailto", "tel") or url.startswith("//"):
                return None, parts, None
            return None, parts, f"unexpected scheme {parts.scheme!r}"
        if parts.path.startswith("/"):
            # Only the 404 page links from the site's root: it is served at any depth. Its root is
            # the base URL's path, or / when the site's address is not known.
            root = urllib.parse.urlsplit(self.base_url).path or "/"
            if posixpath.basename(page_path) != "404.html":
                return None, parts, "root-relative address (breaks when the site is served under a sub-path)"
            if not parts.path.startswith(root):
                return None, parts, f"outside the site's root {root}"
            return urllib.parse.unquote(parts.path[len(root):]), parts, None
        if not parts.path:  # "#x" or "?q=…" on the same page
            return page_path, parts, None
        here_dir = page_path if page_path.endswith("/") else posixpath.dirname(page_path)
        joined = posixpath.normpath(posixpath.join(here_dir, urllib.parse.unquote(parts.path)))
        if joined == ".." or joined.startswith("../"):
            return None, parts, "leads above the site's root folder"
        if joined == ".":
            joined = ""
        if parts.path.endswith("/") and joined:
            joined += "/"
        return joined, parts, None

    def file_for(self, path: str) -> Path | None:
        """The file a static server sends for a path, or None."""
        candidate = self.root / path
        if path == "" or path.endswith("/"):
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None


def check_site(site: Site) -> tuple[list[str], int]:
    """Every broken address in the site's HTML and CSS, and how many addresses were checked."""
    problems: list[str] = []
    checked = 0
    for file in html_files(site.root):
        page_path = url_path(site.root, file)
        where = file.relative_to(site.root).as_posix()
        for tag, attr, url, line in site.parsed(file).urls():
            checked += 1
            path, parts, error = site.target(page_path, url)
            if error:
                problems.append(f"{where}:{line}: <{tag} {attr}={url!r}>: {error}")
                continue
            if path is None:
                continue  # an address on another site: allowed as a link, never requested (see below)
            if attr == "data-agencies":  # a folder prefix: search.js appends '<slug>/#activity-N'
                if not (site.root / path).is_dir():
                    problems.append(f"{where}:{line}: <{tag} {attr}={url!r}>: no folder {path}")
                continue
            target = site.file_for(path)
            if target is None:
                hint = " (a folder: end the link with /)" if (site.root / path).is_dir() else ""
                problems.append(f"{where}:{line}: <{tag} {attr}={url!r}>: {path or '/'} does not exist{hint}")
                continue
            if parts.fragment and target.suffix == ".html":
                fragment = urllib.parse.unquote(parts.fragment)
                if fragment not in site.parsed(target).ids:
                    problems.append(f"{where}:{line}: <{tag} {attr}={url!r}>: no id {fragment!r} in "
                                    f"{target.relative_to(site.root).as_posix()}")
            if parts.query and target.suffix == ".html":
                options = site.parsed(target).options
                for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
                    if name not in SEARCH_PARAMS:
                        problems.append(f"{where}:{line}: {url!r}: the target page reads no parameter {name!r}")
                    elif name in options and value not in options[name]:
                        problems.append(f"{where}:{line}: {url!r}: {name}={value!r} is not one of the "
                                        f"target page's choices")
    for css in sorted(site.root.rglob("*.css")):
        css_path = url_path(site.root, css)
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text("utf-8")):
            checked += 1
            if url.startswith("data:"):
                continue
            path, _, error = site.target(css_path, url)
            if error or path is None or site.file_for(path) is None:
                problems.append(f"{css.relative_to(site.root).as_posix()}: url({url}): "
                                f"{error or 'not a file of the site'}")
    return problems, checked


def test_every_internal_link_asset_and_anchor_resolves(built_site):
    problems, checked = check_site(Site(built_site))
    assert checked > 1000, f"only {checked} addresses found: is the parser reading the pages?"
    assert not problems, f"{len(problems)} broken of {checked} addresses:\n" + "\n".join(problems[:60])


def test_every_link_resolves_with_a_base_url_too(built_site_with_base):
    """Canonical and alternate links are absolute there; each must name a real page."""
    site = Site(built_site_with_base, BASE_URL)
    problems, checked = check_site(site)
    assert not problems, f"{len(problems)} broken of {checked} addresses:\n" + "\n".join(problems[:60])
    canonicals = [attrs["href"] for file in html_files(site.root)
                  for tag, attrs, _ in site.parsed(file).tags if tag == "link" and attrs.get("rel") == "canonical"]
    assert canonicals and all(href.startswith(BASE_URL) for href in canonicals)


def test_sitemap_addresses_are_pages_of_the_site(built_site_with_base):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    tree = ET.parse(built_site_with_base / "sitemap.xml")
    site = Site(built_site_with_base, BASE_URL)
    addresses = [e.text for e in tree.getroot().iterfind("s:url/s:loc", ns)]
    addresses += [e.get("href") for e in tree.getroot().iterfind("s:url/x:link", ns)]
    assert len(addresses) > 100
    missing = [a for a in addresses if not a.startswith(BASE_URL) or site.file_for(a[len(BASE_URL):]) is None]
    assert not missing, missing[:20]


def test_search_results_link_to_real_anchors(built_site):
    """search.js links a result to <data-agencies><slug>/#activity-<number>: each must exist."""
    site = Site(built_site)
    problems = []
    for index_file in sorted((built_site / "assets").glob("search-*.json")):
        data = json.loads(index_file.read_text("utf-8"))
        for activity in data["activities"]:
            slug = data["agencies"][activity["agency"]]["slug"]
            for prefix in ("", "en/"):
                target = site.file_for(f"{prefix}agencies/{slug}/")
                if target is None or f"activity-{activity['number']}" not in site.parsed(target).ids:
                    problems.append(f"{index_file.name}: activity {activity['number']} → {prefix}agencies/{slug}/")
        for topic in data["topics"]:
            if not topic in site.parsed(site.file_for("activities/")).options["topic"]:
                problems.append(f"{index_file.name}: topic {topic} is not a filter choice")
    assert not problems, problems[:20]


def test_the_checker_finds_broken_links(tmp_path):
    """The checker itself: a small site with one of each mistake must report each one."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<a href="../">up</a><a href="../missing/">x</a><a href="../#nope">y</a><a href="/abs">z</a>'
        '<a href="../../../etc/passwd">w</a><a href="../b">dir</a><p id="here"><a href="#here">ok</a>'
        '<a href="#gone">gone</a><a href="https://example.org/">ext</a>', "utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.html").write_text("<p>b</p>", "utf-8")
    (tmp_path / "index.html").write_text('<h1 id="top">root</h1>', "utf-8")
    problems, checked = check_site(Site(tmp_path))
    assert checked == 9
    joined = "\n".join(problems)
    for expected in ("missing/ does not exist", "no id 'nope'", "root-relative", "above the site's root",
                     "a folder: end the link with /", "no id 'gone'"):
        assert expected in joined
    assert len(problems) == 6, problems


# --- In Chromium: what a page really requests, and what it logs --------------------------------

def _watch(page, server_url: str) -> dict[str, list[str]]:
    """Record every request of the tab, each off-site one, and every failed response."""
    origin = urllib.parse.urlsplit(server_url)
    seen = {"requests": [], "offsite": [], "failed": []}

    def on_request(request):
        seen["requests"].append(request.url)
        parts = urllib.parse.urlsplit(request.url)
        if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc) and parts.scheme not in ("data", "blob"):
            seen["offsite"].append(f"{page.url} → {request.url}")

    def on_response(response):
        if response.status >= 400:
            seen["failed"].append(f"{page.url} → {response.url}: HTTP {response.status}")

    page.on("request", on_request)
    page.on("response", on_response)
    return seen


def _all_pages(site: Path) -> list[str]:
    return [url_path(site, f) for f in html_files(site)]


def test_no_page_requests_another_host_or_logs_an_error(built_site, site_server, page):
    seen = _watch(page, site_server.url)
    errors_by_page: dict[str, list[str]] = {}
    paths = _all_pages(built_site)
    for path in paths:
        before = len(page.console_errors)
        page.goto(site_server.url + path, wait_until="load")
        if len(page.console_errors) > before:
            errors_by_page[path or "/"] = page.console_errors[before:]
    assert len(paths) >= 62
    assert len(seen["requests"]) > len(paths) * 3, "every page loads its stylesheet and scripts"
    assert not seen["offsite"], seen["offsite"][:20]
    assert not seen["failed"], seen["failed"][:20]
    assert not errors_by_page, errors_by_page


@pytest.mark.parametrize("lang_prefix,query", [("", "电梯"), ("en/", "elevator")])
def test_searching_stays_on_the_site(site_server, page, lang_prefix, query):
    """Use every search box: the home page's, the header's, and the activities page with filters."""
    seen = _watch(page, site_server.url)
    base = site_server.url + lang_prefix

    page.goto(base)
    page.fill("#home-q", query)
    page.press("#home-q", "Enter")
    page.wait_for_url(re.compile(r"/activities/\?q="))
    page.wait_for_selector("#search-results li")

    page.goto(base + "data/")
    page.set_viewport_size({"width": 1366, "height": 900})  # the header search shows from 40rem
    page.fill("#header-q", query)
    page.press("#header-q", "Enter")
    page.wait_for_url(re.compile(r"/activities/\?q="))
    page.wait_for_selector("#search-results li")

    page.goto(base + "activities/")
    page.fill("#q", "")
    page.select_option("#topic", index=1)
    page.wait_for_selector("#search-results li")
    page.select_option("#agency", index=1)
    page.fill("#q", query[:1])
    page.wait_for_function("() => document.getElementById('search-status').textContent.length > 0")
    page.fill("#q", "zzzzqqqq")
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length === 0")
    page.go_back()

    assert any("search-" in url and url.endswith(".json") for url in seen["requests"]), \
        "the search data is loaded when the search is used"
    assert any("minisearch" in url for url in seen["requests"])
    assert not seen["offsite"], seen["offsite"]
    assert not seen["failed"], seen["failed"]
    assert not page.console_errors, page.console_errors


# --- The 404 page, as a host serves it: for any missing address, at any depth ---------------------

class _NotFoundServer:
    """Serves a folder; every missing address gets <mount>404.html with status 404, as the README
    tells hosts to set up ("point the server's not found page at 404.html")."""

    def __init__(self, root: Path, mount: str):
        import functools
        import http.server
        import threading

        not_found = root / mount.strip("/") / "404.html"

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_error(self, code, message=None, explain=None):
                if code != 404 or not not_found.is_file():
                    return super().send_error(code, message, explain)
                body = not_found.read_bytes()
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{mount}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_404_page_works_at_any_depth_when_the_base_url_is_known(tmp_path, page):
    """A mistyped address like /q/en/agencies/nope/ gets 404.html: its stylesheet, scripts and
    links must work there too, not only at /q/404.html. With --base-url the build knows where the
    site lives, so it can give that page addresses that work from anywhere."""
    from conftest import build_site

    server = _NotFoundServer(tmp_path / "www", "/q/")
    try:
        (tmp_path / "www").mkdir()
        build_site(Path(__file__).resolve().parent.parent / "content", tmp_path / "www" / "q", base_url=server.url)
        seen = _watch(page, server.url)
        problems = []
        for missing in ("nope", "en/agencies/nope/", "agencies/water/extra/deeper/"):
            seen["failed"].clear()
            response = page.goto(server.url + missing)
            assert response.status == 404
            failed = [f for f in seen["failed"] if not f.endswith(missing + ": HTTP 404")]
            if failed:
                problems.append(f"{missing}: {failed[:3]}")
            styled = page.evaluate("() => [...document.styleSheets].some((s) => { try { return s.cssRules.length > 0 } catch (e) { return false } })")
            if not styled:
                problems.append(f"{missing}: no stylesheet applied")
            for href in page.evaluate("() => [...document.querySelectorAll('a[href], form[action]')].map((a) => a.href || a.action)"):
                if not href.startswith(server.url) or (href.split("#")[0] == page.url and "#" in href):
                    continue  # another site, or a #fragment of this very page (the skip link)
                rel = href[len(server.url):].split("#")[0].split("?")[0]
                target = tmp_path / "www" / "q" / rel
                if not (target / "index.html" if rel.endswith("/") or not rel else target).is_file():
                    problems.append(f"{missing}: link to {href} leads nowhere")
        assert not problems, "\n".join(problems[:20])
    finally:
        server.close()
        page.console_errors.clear()
