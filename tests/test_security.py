"""Security (issue 6, part 4): a Content-Security-Policy that allows only the site's own scripts
and styles, no inline script or handler anywhere, Markdown without raw HTML, and everything from
content escaped for the format it lands in (HTML, JSON, CSV, XML, CSS) — checked by building the
site from content whose every text carries attack strings, then loading it in Chromium."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import BASE_URL, LANGS, ROOT, SITE, StaticServer, build_site, lang_prefix

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "]]>",
    "{{ 7*7 }}",
    "[x](javascript:alert(1))",
    '=HYPERLINK("http://x")',
]
# What a text may start with: every payload, plus the other characters that start a spreadsheet formula.
STARTS = PAYLOADS + ["+1+1", "-1+1", "@SUM(1)", "'quoted"]
# The base URL is content too (site.yaml): XML's and HTML's special characters that a URL may hold.
PAYLOAD_BASE_URL = "https://example.org/q&a/it's/"
# Raw markup that must never reach an HTML file unescaped.
RAW_MARKUP = ["<script>alert", "<img src=x", "<x-raw>", "<b onclick", "\"><img"]
RAW_MARKDOWN_HTML = "<x-raw>raw</x-raw> <b onclick=alert(1)>bold</b>"

# Values that are not free text: the validator checks their form, so they (and all below them) stay
# as they are.
FIXED_KEYS = {"code", "html_lang", "path", "numerals", "base_url", "id", "slug", "number", "topics", "script",
              "speech", "derive", "excerpt_length", "allowed_image_hosts", "locale", "updated", "date",
              "official", "corrections", "licence_terms"}
WRITTEN = [lang.code for lang in SITE.written_languages]


def _poison_tree(node, counter: list[int], markdown: bool = False, key: str | None = None):
    """Every free text in a parsed YAML file, with a payload before it and all payloads after it."""
    if isinstance(node, dict):
        return {k: v if k in FIXED_KEYS else _poison_tree(v, counter, markdown or k == "text", k)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_poison_tree(v, counter, markdown, key) for v in node]
    if isinstance(node, str) and key not in FIXED_KEYS:
        counter[0] += 1
        start = STARTS[counter[0] % len(STARTS)]
        if markdown:  # separate paragraphs, so that no two payloads pair up as Markdown emphasis
            return f"{start} {node}\n\n" + "\n\n".join(PAYLOADS) + f"\n\n{RAW_MARKDOWN_HTML}"
        return f"{start} {node} {' '.join(PAYLOADS)}"
    return node


def poison_content(content: Path, base_url: str = PAYLOAD_BASE_URL) -> int:
    """Rewrite a copy of content/ in place with attack strings in every text; returns how many."""
    counter = [0]
    files = [content / "site.yaml", content / "topics.yaml", content / "glossary.yaml",
             *sorted((content / "agencies").glob("*.yaml"))]
    for path in files:
        data = yaml.safe_load(path.read_text("utf-8"))
        data = _poison_tree(data, counter)
        if path.name == "site.yaml":
            data["base_url"] = base_url
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), "utf-8")
    return counter[0]


def build_payload_site(tmp: Path) -> tuple[Path, Path]:
    """(the poisoned content, the site built from it) inside tmp."""
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content)
    poisoned = poison_content(content)
    assert poisoned > 550, f"only {poisoned} texts poisoned"
    out = tmp / "site"
    build_site(content, out)
    return content, out


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    content, site = build_payload_site(tmp_path_factory.mktemp("payload"))
    return {"content": content, "site": site,
            "site_yaml": yaml.safe_load((content / "site.yaml").read_text("utf-8")),
            "topics": yaml.safe_load((content / "topics.yaml").read_text("utf-8")),
            "agencies": [yaml.safe_load(p.read_text("utf-8")) for p in sorted((content / "agencies").glob("*.yaml"))]}


class Tags(HTMLParser):
    """Every tag with its attributes, the text of each script element, and the decoded text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict, int]] = []
        self.script_bodies: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}, self.getpos()[0]))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}, self.getpos()[0]))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_bodies.append(data)
        self.text.append(data)


def parse(file: Path) -> Tags:
    parser = Tags()
    parser.feed(file.read_text("utf-8"))
    parser.close()
    return parser


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def csp_of(file: Path) -> dict[str, list[str]]:
    metas = [a for t, a, _ in parse(file).tags
             if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(metas) == 1, f"{file}: {len(metas)} CSP meta tags"
    policy: dict[str, list[str]] = {}
    for directive in metas[0]["content"].split(";"):
        if directive.strip():
            name, *values = directive.split()
            assert name.lower() not in policy, f"{file}: directive {name} twice"
            policy[name.lower()] = values
    return policy


# --- The policy and the markup --------------------------------------------------------------

def check_policy(policy: dict[str, list[str]]) -> list[str]:
    """What is wrong with a policy for this site: own scripts and styles only, nothing inline."""
    problems = []
    for name in ("default-src", "script-src", "style-src"):
        if policy.get(name) != ["'self'"]:
            problems.append(f"{name} must be exactly 'self', is {policy.get(name)}")
    for name in ("script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr"):
        if name in policy and policy[name] not in (["'self'"], ["'none'"]):
            problems.append(f"{name} must be 'self' or 'none', is {policy[name]}")
    if policy.get("object-src") != ["'none'"]:
        problems.append("object-src must be 'none'")
    if policy.get("base-uri") not in (["'none'"], ["'self'"]):
        problems.append("base-uri must be 'none' or 'self'")
    for name, values in policy.items():
        for value in values:
            allowed = {"'self'", "'none'"} | ({"data:"} if name in ("img-src", "font-src") else set())
            if value not in allowed:
                problems.append(f"{name} allows {value}")
    return problems


def test_every_page_has_a_strict_content_security_policy(built_site, built_site_with_base):
    files = html_files(built_site) + html_files(built_site_with_base)
    assert len(files) >= 124
    problems = {}
    for file in files:
        found = check_policy(csp_of(file))
        tags = parse(file).tags
        names = [t for t, _, _ in tags]
        meta_at = next(i for i, (t, a, _) in enumerate(tags) if a.get("http-equiv", "").lower() == "content-security-policy")
        first_resource = min((i for i, t in enumerate(names) if t in ("script", "link", "style")), default=len(names))
        if meta_at > first_resource or "body" in names[:meta_at]:
            found.append("the CSP meta tag must come in <head> before any script or stylesheet")
        if found:
            problems[str(file)] = found
    assert not problems, problems


def test_the_policy_checker_rejects_loose_policies():
    good = {"default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
            "object-src": ["'none'"], "base-uri": ["'none'"], "img-src": ["'self'", "data:"]}
    assert check_policy(good) == []
    for name, values in [("script-src", ["'self'", "'unsafe-inline'"]), ("style-src", ["'self'", "https:"]),
                         ("script-src", ["*"]), ("default-src", ["'self'", "cdn.example.org"]),
                         ("connect-src", ["https://api.example.org"]), ("script-src-attr", ["'unsafe-hashes'"])]:
        assert check_policy({**good, name: values}), (name, values)
    assert check_policy({k: v for k, v in good.items() if k != "object-src"})


def inline_code_problems(file: Path) -> list[str]:
    """Inline scripts, inline styles, event-handler attributes and javascript: addresses."""
    parsed = parse(file)
    problems = []
    for tag, attrs, line in parsed.tags:
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"{file}:{line}: <{tag} {name}=…>: inline event handler")
            if name == "style":
                problems.append(f"{file}:{line}: <{tag} style=…>: inline style (blocked by style-src 'self')")
            if re.match(r"\s*(javascript|vbscript|data):", value, re.I) and name in (
                    "href", "src", "action", "formaction", "xlink:href", "data"):
                problems.append(f"{file}:{line}: <{tag} {name}={value!r}>: script address")
        data_block = tag == "script" and attrs.get("type") == "application/ld+json"  # data, never run
        if tag == "script" and not attrs.get("src") and not data_block:
            problems.append(f"{file}:{line}: <script> without src")
        src = attrs.get("src") or ""
        if tag == "script" and urllib.parse.urlsplit(src).netloc and not src.startswith((BASE_URL, PAYLOAD_BASE_URL)):
            problems.append(f"{file}:{line}: script from another host")  # the site's own address is fine
        if tag in ("style", "iframe", "object", "embed", "base"):
            problems.append(f"{file}:{line}: <{tag}> element")
    if any(body.strip() and not body.startswith('{"@context":"https://schema.org"') for body in parsed.script_bodies):
        problems.append(f"{file}: script element with a body")
    return problems


def test_no_inline_script_style_or_handler_anywhere(built_site, built_site_with_base):
    problems = [p for site in (built_site, built_site_with_base) for f in html_files(site)
                for p in inline_code_problems(f)]
    assert not problems, problems[:30]


def test_the_inline_code_checker_finds_each_kind(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<a href="javascript:x()">a</a><p onclick="x()" style="color:red">p</p>'
                   "<script>alert(1)</script><style>p{}</style><script src=//evil.example/x.js></script>", "utf-8")
    assert len(inline_code_problems(bad)) == 7, inline_code_problems(bad)


def test_scripts_never_build_markup_from_strings():
    """The site's own JavaScript puts text in with textContent, never as HTML, and never evals."""
    problems = []
    for js in sorted((ROOT / "assets" / "js").rglob("*.js")):
        for number, line in enumerate(js.read_text("utf-8").splitlines(), 1):
            if re.search(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\s*\(|"
                         r"new\s+Function\b|setTimeout\s*\(\s*['\"]|setInterval\s*\(\s*['\"]", line):
                problems.append(f"{js.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not problems, problems


# --- Content with attack strings -----------------------------------------------------------

def test_payload_html_is_escaped_everywhere(payload):
    site = payload["site"]
    files = html_files(site)
    assert len(files) >= 62
    problems = []
    seen_text = ""
    for file in files:
        source = file.read_text("utf-8")
        for raw in RAW_MARKUP:
            if raw in source:
                line = source[: source.index(raw)].count("\n") + 1
                problems.append(f"{file.relative_to(site)}:{line}: raw {raw!r}")
        problems += inline_code_problems(file)
        tags = parse(file).tags
        problems += [f"{file.relative_to(site)}:{line}: <{tag}> from content"
                     for tag, _, line in tags if tag in ("img", "x-raw", "b")]
        seen_text += "".join(parse(file).text) + "\n"
    assert not problems, problems[:30]
    for text in PAYLOADS + ["<x-raw>raw</x-raw>"]:
        assert text in seen_text, f"{text!r} is not shown as text anywhere: dropped instead of escaped?"


class Heading(HTMLParser):
    """The decoded text of a page's h1."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside, self.h1 = False, []

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or tag == "h1"

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != "h1"

    def handle_data(self, data):
        if self.inside:
            self.h1.append(data)


def test_payload_texts_show_exactly_as_written(payload):
    """Each agency page's h1 and activity titles, decoded, equal the YAML text character for character."""
    site, config = payload["site"], payload["site_yaml"]
    for agency in payload["agencies"]:
        for lang in config["languages"]:
            code = lang["code"]
            if code not in WRITTEN:
                continue  # a derived language shows conversions of these texts (test_traditional.py)
            prefix = lang["path"] + "/" if lang["path"] else ""
            file = site / prefix / "agencies" / agency["slug"] / "index.html"
            heading = Heading()
            heading.feed(file.read_text("utf-8"))
            expected = config["strings"]["activities_by"][code].replace("{agency}", agency["name"][code])
            assert "".join(heading.h1).strip() == expected, file
            text = "".join(parse(file).text)
            for activity in agency["activities"]:
                assert activity["title"][code] in text, (file, activity["number"])


def test_markdown_raw_html_is_not_passed_through(content_copy, tmp_path):
    path = content_copy / "agencies" / "01-market-regulation.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["activities"][0]["text"][WRITTEN[-1]] = (
        "Intro <b>bold</b> <span onmouseover=\"alert(1)\">x</span>\n\n<div>block</div>\n\n"
        "<script>alert(1)</script>\n\n[link](javascript:alert(1)) [ok](https://example.org/) "
        "<!-- comment --> <http://auto.example>")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    out = tmp_path / "site"
    build_site(content_copy, out)
    page = (out / lang_prefix(WRITTEN[-1]) / "agencies" / "market-regulation" / "index.html").read_text("utf-8")
    section = page[page.index('id="activity-1"'): page.index('id="activity-2"')]
    for raw in ("<b>", "<span onmouseover", "<div>block", "<script>", "<!-- comment", 'href="javascript:'):
        assert raw not in section, raw
    assert "&lt;b&gt;bold&lt;/b&gt;" in section and "&lt;script&gt;" in section
    assert 'href="https://example.org/"' in section, "ordinary Markdown links still work"


def test_payload_json_round_trips_every_text_exactly(payload):
    site, config = payload["site"], payload["site_yaml"]
    raw = (site / "data" / "activities.json").read_text("utf-8")
    assert "</" not in raw, "</ is escaped in JSON, so it could never close a script element"
    data = json.loads(raw)
    def written(texts: dict) -> dict:
        return {code: texts[code] for code in WRITTEN}

    for key in ("title", "source", "licence"):
        assert written(data[key]) == config[key]
    expected = [(agency, activity) for agency in payload["agencies"] for activity in agency["activities"]]
    assert len(data["activities"]) == len(expected) == len(SITE.activities)
    labels = {t["id"]: t["label"] for t in payload["topics"]}
    for got, (agency, activity) in zip(data["activities"], expected):
        assert written(got["title"]) == activity["title"] and written(got["text"]) == activity["text"]
        assert written(got["agency"]["name"]) == agency["name"]
        assert written(got["agency"]["full_name"]) == agency["full_name"]
        assert [{"id": t["id"], "label": written(t["label"])} for t in got["topics"]] == \
            [{"id": t, "label": labels[t]} for t in activity["topics"]]
    for search_file in sorted((site / "assets").glob("search-*.json")):
        raw = search_file.read_text("utf-8")
        assert "</" not in raw
        data = json.loads(raw)
        code = search_file.name[len("search-"):].split(".")[0]
        if code not in WRITTEN:
            continue  # a derived language: its texts are conversions, checked by test_traditional
        assert [a["name"] for a in data["agencies"]] == [a["name"][code] for a in payload["agencies"]]
        assert data["topics"] == {t["id"]: t["label"][code] for t in payload["topics"]}
        assert [a["title"] for a in data["activities"]] == [act["title"][code] for _, act in expected]
        for got in data["activities"]:  # the text is the rendered Markdown as plain text
            for text in PAYLOADS:
                assert text in got["text"], (search_file.name, got["number"], text)


def test_payload_csv_never_starts_a_formula_and_keeps_the_text(payload):
    raw = (payload["site"] / "data" / "activities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, rows = rows[0], rows[1:]
    assert len(rows) == len(SITE.activities)
    codes = WRITTEN
    expected_rows = []
    for agency in payload["agencies"]:
        for activity in agency["activities"]:
            expected_rows.append({
                **{f"agency_name_{c}": agency["name"][c] for c in codes},
                **{f"agency_full_name_{c}": agency["full_name"][c] for c in codes},
                **{f"title_{c}": activity["title"][c] for c in codes},
                **{f"text_{c}": activity["text"][c] for c in codes},
            })
    formulas = 0
    for row, expected in zip(rows, expected_rows):
        cells = dict(zip(header, row))
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), f"formula cell: {cell[:40]!r}"
        for column, text in expected.items():
            if text.startswith(("=", "+", "-", "@")):
                formulas += 1
                assert cells[column] == "'" + text, column
            else:
                assert cells[column] == text, column
    assert formulas > 50, "the payload put formula-like text at the start of many cells"


def test_payload_sitemap_and_robots_are_well_formed(payload):
    site = payload["site"]
    tree = ET.parse(site / "sitemap.xml")  # raises on anything not escaped
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    locs = [e.text for e in tree.getroot().iterfind("s:url/s:loc", ns)]
    alternates = [e.get("href") for e in tree.getroot().iterfind("s:url/x:link", ns)]
    assert locs and alternates
    assert all(loc.startswith(PAYLOAD_BASE_URL) for loc in locs + alternates), locs[:3]
    assert PAYLOAD_BASE_URL in locs
    robots = (site / "robots.txt").read_text("utf-8").splitlines()
    assert f"Sitemap: {PAYLOAD_BASE_URL}sitemap.xml" in robots
    for file in html_files(site):
        for tag, attrs, _ in parse(file).tags:
            if tag == "link" and attrs.get("rel") in ("canonical", "alternate"):
                assert attrs["href"].startswith(PAYLOAD_BASE_URL), attrs


def _css_string(css: str) -> str:
    """The first quoted string after 'content:' in CSS, decoded (hex escapes, escaped characters)."""
    match = re.search(r'content:\s*"((?:[^"\\\n]|\\[0-9a-fA-F]{1,6} ?|\\[^0-9a-fA-F\n])*)"\s*;', css)
    assert match, f"no well-formed content string in {css!r}"
    return re.sub(r"\\([0-9a-fA-F]{1,6}) ?|\\(.)", lambda m: chr(int(m[1], 16)) if m[1] else m[2], match[1])


def test_payload_print_css_keeps_the_title_inside_its_string(payload):
    site, config = payload["site"], payload["site_yaml"]
    for lang in config["languages"]:
        (css_file,) = (site / "assets" / "css").glob(f"print-{lang['code']}.*.css")
        css = css_file.read_text("utf-8")
        if lang["code"] in WRITTEN:
            assert _css_string(css) == config["title"][lang["code"]]
        body = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', css)  # outside the strings: only the fixed rules
        assert "<" not in body and "alert" not in body and body.count("{") == body.count("}")


# --- In Chromium: no script from content ever runs --------------------------------------------

@pytest.fixture(scope="module")
def payload_server(payload):
    server = StaticServer(payload["site"])
    yield server
    server.close()


def _visit_everything(tab, server_url: str, site: Path, every_page: bool = True) -> None:
    """Every page (or one agency page per language, the others being the same template with other
    texts), then the searches and filters."""
    for file in html_files(site):
        rel = file.relative_to(site).as_posix()
        if not every_page and "/agencies/" in "/" + rel and SITE.agencies[0].slug not in rel:
            continue
        tab.goto(server_url + (rel[: -len("index.html")] if rel.endswith("index.html") else rel))
    for prefix in (lang_prefix(code) for code in LANGS):
        tab.goto(server_url + prefix + "activities/?q=" + urllib.parse.quote(PAYLOADS[0]))
        tab.wait_for_selector("#search-status:not(:empty)")
        tab.goto(server_url + prefix + "activities/")
        for query in ["alert", *PAYLOADS, "x"]:
            tab.fill("#q", query)
            tab.press("#q", "Enter")
            tab.wait_for_selector("#search-status:not(:empty)")
        tab.fill("#q", "")
        tab.select_option("#agency", index=2)
        tab.select_option("#topic", index=1)
        tab.wait_for_selector("#search-status:not(:empty)")
        tab.goto(server_url + prefix)
        tab.fill("#home-q", PAYLOADS[1])
        tab.press("#home-q", "Enter")
        tab.wait_for_url(re.compile(r"activities/\?q="))
        tab.wait_for_selector("#search-status:not(:empty)")


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
def test_no_script_from_content_runs_in_the_browser(browser, payload, payload_server, bypass_csp):
    """Every page and the search, with payload content. Without the CSP too: escaping alone must
    stop the payloads, the policy is only the second line of defence."""
    context = browser.new_context(bypass_csp=bypass_csp)
    tab = context.new_page()
    dialogs, errors = [], []
    tab.on("dialog", lambda dialog: (dialogs.append(f"{tab.url}: {dialog.message}"), dialog.dismiss()))
    tab.on("console", lambda m: errors.append(f"{tab.url}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"{tab.url}: {e}"))
    try:
        # Without the policy, escaping alone must hold: one page of each kind is enough to show it.
        _visit_everything(tab, payload_server.url, payload["site"], every_page=not bypass_csp)
        assert not dialogs, dialogs[:10]
        # 404.html links from the site's root as the payload base URL gives it (/q&a/it's/), so that
        # it works at any depth there; served from 127.0.0.1's root here, those loads fail: not a payload.
        errors = [e for e in errors if not (e.split(": ", 1)[0].endswith("404.html")
                                            and "Failed to load resource" in e)]
        assert not errors, errors[:10]  # a CSP violation would be reported here
        results = tab.locator("#search-results li").count()
        assert results > 0, "the payload search shows results (with the payloads in their titles)"
        # The listener itself works: a real alert is caught.
        tab.evaluate("() => alert('canary')")
        assert dialogs == [f"{tab.url}: canary"]
    finally:
        context.close()


def test_the_policy_blocks_inline_script_in_the_browser(site_server, page):
    """The meta tag is in force: an inline script added to a page does not run."""
    page.goto(site_server.url)
    try:
        page.add_script_tag(content="window.__inline = 1")
    except Exception:  # Playwright may report the blocked script as a failure to add it
        pass
    assert page.evaluate("() => window.__inline") is None
    assert any("Content Security Policy" in e for e in page.console_errors), page.console_errors
