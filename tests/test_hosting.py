"""Hosting (issue 13): the site served by a real nginx (Debian's nginx-light) with the recipe in
hosting/nginx.conf — under a sub-path on another host name than its base URL, and at a host's root
without one — crawled whole, with the right types, charsets, caching and security headers; a 404
that works at any depth; a sitemap that passes the sitemaps.org schema; Netlify's and Cloudflare
Pages' _headers."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import LANGS, ROOT, SITE, build_site, lang_prefix

RECIPE = ROOT / "hosting" / "nginx.conf"
PUBLIC = "https://example.org/quality/"  # the address the site is built for; nginx runs on 127.0.0.1
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """hosting/nginx.conf, run as it is but for its address, folder and sub-path."""

    def __init__(self, site: Path, prefix: str, work: Path):
        self.port, self.prefix = free_port(), prefix
        server = (RECIPE.read_text("utf-8").replace("listen 80;", f"listen 127.0.0.1:{self.port};")
                  .replace("/srv/quality-month/site/", str(site) + "/").replace("/quality/", prefix))
        temp = " ".join(f"{kind}_temp_path {work}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                         "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""  # workers must read the test's private folders
        (work / "nginx.conf").write_text(
            f"{user}\nworker_processes 1;\ndaemon off;\npid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n  include /etc/nginx/mime.types;\n"
            f"  default_type application/octet-stream;\n  access_log off;\n  {temp}\n{server}\n}}\n", "utf-8")
        self.process = subprocess.Popen([NGINX, "-p", str(work), "-c", str(work / "nginx.conf"), "-e",
                                         str(work / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx did not start: {self.process.stderr.read().decode()}"
                                     f"{(work / 'error.log').read_text() if (work / 'error.log').exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}{prefix}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _need_nginx() -> None:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx not found; .ci/run installs nginx-light")
        pytest.skip("nginx not installed (apt-get install nginx-light)")


@pytest.fixture(scope="module")
def subpath(tmp_path_factory):
    """Built for https://example.org/quality/, served at http://127.0.0.1:PORT/quality/."""
    _need_nginx()
    work = tmp_path_factory.mktemp("nginx-sub")
    build_site(ROOT / "content", work / "site", base_url=PUBLIC)
    server = Nginx(work / "site", "/quality/", work)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def at_root(tmp_path_factory):
    """Built without a base URL, served at a host's root."""
    _need_nginx()
    work = tmp_path_factory.mktemp("nginx-root")
    build_site(ROOT / "content", work / "site", base_url="")
    server = Nginx(work / "site", "/", work)
    yield server
    server.stop()


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.csp = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs["content"]
        for name in ("href", "src"):
            if attrs.get(name) and tag != "form":
                self.links.append(attrs[name])


def test_the_whole_site_is_served_right_by_nginx_under_a_sub_path(subpath):
    """Every page, asset and data file reachable from the home pages: 200, its type with a charset
    for text, a year of caching for fingerprinted assets, revalidation for HTML, and the pages'
    policy as a real header."""
    start = [subpath.url + lang_prefix(code) for code in LANGS] + [subpath.url + "data/datapackage.json"]
    seen, queue, checked = set(start), list(start), 0
    while queue:
        url = queue.pop()
        status, headers, body = fetch(url)
        assert status == 200, f"{url}: HTTP {status}"
        checked += 1
        path = urllib.parse.urlsplit(url).path
        kind = headers.get("content-type", "")
        assert headers.get("x-content-type-options") == "nosniff", url
        if re.search(r"\.[0-9a-f]{10}\.(css|js|json)$", path):
            assert "immutable" in headers.get("cache-control", "") and "max-age=31536000" in headers["cache-control"], url
        if path.endswith("/") or path.endswith(".html"):
            assert kind == "text/html; charset=utf-8", (url, kind)
            assert headers.get("cache-control") == "no-cache", url
            page = Links()
            page.feed(body.decode("utf-8"))
            assert headers["content-security-policy"] == page.csp + "; frame-ancestors 'none'", url
            for link in page.links:
                target = urllib.parse.urljoin(url, link).split("#")[0].split("?")[0]
                if target.startswith(subpath.url) and target not in seen:
                    seen.add(target)
                    queue.append(target)
        elif path.endswith(".css"):
            assert kind == "text/css; charset=utf-8", (url, kind)
        elif path.endswith(".js"):
            assert kind == "application/javascript; charset=utf-8", (url, kind)
        elif path.endswith(".csv"):
            assert kind == "text/csv; charset=utf-8", (url, kind)
        elif path.endswith(".json"):
            assert kind == "application/json; charset=utf-8", (url, kind)
        elif path.endswith(".webmanifest"):
            assert kind == "application/manifest+json; charset=utf-8", (url, kind)
    assert checked > len(LANGS) * len(SITE.agencies), checked
    for data in ("activities.csv", "activities.json"):
        assert fetch(subpath.url + "data/" + data)[0] == 200


@pytest.mark.parametrize("where", ["subpath", "at_root"])
def test_a_missing_page_three_levels_deep_is_a_styled_404_on_any_host(browser, request, where):
    """At a sub-path on a host name other than the base URL's (127.0.0.1, not example.org), and at
    a root without a base URL: the stylesheet loads, no policy is violated, and the home link works."""
    server = request.getfixturevalue(where)
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        for missing in ("nope/deeper/deepest/", lang_prefix(SITE.languages[-1].code) + "agencies/nope/x/y"):
            response = tab.goto(server.url + missing)
            assert response.status == 404
            # one 404 page for the whole site (in the first language, with its language switch)
            assert tab.title().startswith(SITE.config.strings.not_found_title[SITE.languages[0].code])
            assert tab.evaluate("() => [...document.styleSheets].some(s => { try { return s.cssRules.length > 20 }"
                                " catch (e) { return false } })"), "unstyled"
            assert tab.evaluate("() => getComputedStyle(document.querySelector('.site-header')).backgroundColor")\
                != "rgba(0, 0, 0, 0)"
            home = tab.evaluate("() => document.querySelector('.site-header a[href]').href")
            assert fetch(home)[0] == 200 and home.startswith(server.url.rstrip("/")), home
        assert errors == [], errors
    finally:
        context.close()


def test_the_sitemap_passes_the_sitemaps_org_schema(built_site_with_base):
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(ROOT / "tests" / "xsd" / "sitemap-with-alternates.xsd")))
    sitemap = etree.parse(str(built_site_with_base / "sitemap.xml"))
    assert schema.validate(sitemap), schema.error_log
    # the schema bites: a short relative address (as the old build wrote without a base URL), a
    # date that is not one, an alternate without its language
    raw = (built_site_with_base / "sitemap.xml").read_bytes()
    first = re.search(rb"<loc>[^<]+</loc>", raw)[0]
    for broken in (raw.replace(first, b"<loc>./print/</loc>", 1),
                   raw.replace(first, first + b"<lastmod>yesterday</lastmod>", 1),
                   raw.replace(b' hreflang="en"', b"", 1)):
        assert not schema.validate(etree.fromstring(broken))


def test_without_a_base_url_the_build_says_so_and_writes_no_sitemap(tmp_path):
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(tmp_path / "site"), "--no-cache"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--base-url" in result.stdout and "sitemap" in result.stdout
    assert not (tmp_path / "site" / "sitemap.xml").exists()


def test_netlify_and_cloudflare_headers_match_the_pages(built_site):
    headers = (built_site / "_headers").read_text("utf-8")
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"',
                     (built_site / "index.html").read_text("utf-8"))[1].replace("&#39;", "'")
    assert f"Content-Security-Policy: {meta}; frame-ancestors 'none'" in headers
    assert "/assets/css/*\n  Cache-Control: public, max-age=31536000, immutable" in headers
    assert "Content-Type: text/csv; charset=utf-8" in headers
    recipe = RECIPE.read_text("utf-8")
    assert f'add_header Content-Security-Policy "{meta}; frame-ancestors \'none\'" always;' in recipe, \
        "hosting/nginx.conf repeats the pages' policy"
    rules = re.findall(r"(?m)^(/\S*)\n((?:  .+\n)+)", headers)
    names = [name for _, block in rules for name in re.findall(r"(?m)^  ([\w-]+):", block)]
    for path, block in rules:  # one rule per header name and path family: hosts merge matching rules
        assert len(re.findall(r"(?m)^  ([\w-]+):", block)) == len(set(re.findall(r"(?m)^  ([\w-]+):", block)))
    assert names.count("Cache-Control") == 4 and names.count("Content-Security-Policy") == 1
