"""The print version (issue 5): each language's /print/ holds the whole document in the original's
order and numbering; Chromium prints it on A4 with page numbers and the running title, without
navigation and without a heading stranded at the foot of a page; every other page prints
cleanly with the same stylesheet; a QR code leads to the online version when a base URL is set."""
from __future__ import annotations

import msgspec
import base64
import io
import os
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import BASE_URL, LANGS, ROOT, SITE, StaticServer, build_site
from sitegen.outputs import qr_svg

SPACED = [code for code, lang in LANGS.items() if lang.spaces]  # languages that space words (English)
LATIN = SPACED[0]
TITLE = {code: SITE.config.title[code] for code in LANGS}
STRINGS = {key: texts for key, texts in msgspec.structs.asdict(SITE.config.strings).items()}
A4 = (595.28, 841.89)  # points
PAGE_NUMBER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

_DIGITS = "一二三四五六七八九"



def skip_without_cjk_font() -> None:
    """Chinese text cannot be read back from a PDF printed without a CJK font: skip on a laptop
    that lacks one, but fail under CI, which installs fonts-wqy-microhei."""
    message = "no CJK font here: Chinese text cannot be read back from the PDF"
    if os.environ.get("CI"):
        pytest.fail(message + " (.ci/run installs fonts-wqy-microhei)")
    pytest.skip(message)

def zh_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 23 → 二十三: written here again so that the test does not trust sitegen."""
    assert 0 < n < 100
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("" if tens == 1 else _DIGITS[tens - 1]) + "十") + (_DIGITS[ones - 1] if ones else "")


def labels(code: str, n: int) -> tuple[str, str]:
    """(agency heading label, activity label) for number n as the original numbers them."""
    if LANGS[code].numerals == "chinese":
        return f"{zh_numeral(n)}、", f"（{zh_numeral(n)}）"
    return f"{n}.", f"{n}."


def gap(code: str) -> str:
    """What follows a number label: a space where the language spaces its words."""
    return " " if LANGS[code].spaces else ""


def print_file(site: Path, code: str, key: str = "print/") -> Path:
    prefix = LANGS[code].path
    return (site / prefix if prefix else site) / key / "index.html"


def url_of(server: StaticServer, code: str, key: str) -> str:
    prefix = LANGS[code].path
    return server.url + (prefix + "/" if prefix else "") + key


# --- The page as HTML ---------------------------------------------------------------------

class Outline(HTMLParser):
    """The print page's structure: elements with the classes we look for, with their text."""

    WATCH = {"document__title", "document__source", "document__agency-title", "document__activity-title",
             "prose", "toc", "qr", "print-button"}

    def __init__(self):
        super().__init__()
        self.items: list[list] = []  # [class, attrs, text]
        self.open: list[tuple[str, list | None]] = []
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        classes = set((attrs.get("class") or "").split()) & self.WATCH
        item = [classes.pop(), attrs, ""] if classes else None
        if item:
            self.items.append(item)
        if tag not in ("br", "img", "meta", "link", "input", "path"):
            self.open.append((tag, item))

    def handle_endtag(self, tag):
        if tag not in (open_tag for open_tag, _ in self.open):
            return
        while self.open:
            open_tag, _ = self.open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, item in self.open:
            if item is not None:
                item[2] += data

    def of(self, kind: str) -> list[list]:
        return [item for item in self.items if item[0] == kind]


def outline(path: Path) -> Outline:
    parser = Outline()
    parser.feed(path.read_text("utf-8"))
    return parser


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("code", list(LANGS))
def test_print_page_holds_the_whole_document_in_order(built_site, code):
    page = outline(print_file(built_site, code))
    assert [squash(i[2]) for i in page.of("document__title")] == [TITLE[code]]
    assert [squash(i[2]) for i in page.of("document__source")] == [squash(SITE.config.source[code])]
    headings = [(i[0], squash(i[2])) for i in page.items
                if i[0] in ("document__agency-title", "document__activity-title")]
    expected = []
    for agency in SITE.agencies:
        label, _ = labels(code, agency.number)
        name = STRINGS["activities_by"][code].replace("{agency}", agency.name[code])
        expected.append(("document__agency-title", f"{label}{gap(code)}{name}"))
        for activity in agency.activities:
            _, label = labels(code, activity.number)
            expected.append(("document__activity-title", f"{label}{gap(code)}{activity.title[code]}"))
    assert headings == expected
    # the numbering runs without a gap: agencies 一…二十六 / 1…26, activities （一）…（六十六） / 1…66
    agency_titles = [t for kind, t in headings if kind == "document__agency-title"]
    activity_titles = [t for kind, t in headings if kind == "document__activity-title"]
    assert len(agency_titles) == len(SITE.agencies) and len(activity_titles) == len(SITE.activities)
    for n, title in enumerate(agency_titles, 1):
        assert title.startswith(labels(code, n)[0]), title
    for n, title in enumerate(activity_titles, 1):
        assert title.startswith(labels(code, n)[1]), title
    # every activity keeps its text
    assert len(page.of("prose")) == len(SITE.activities) and all(squash(i[2]) for i in page.of("prose"))


@pytest.mark.parametrize("code", list(LANGS))
def test_the_contents_list_every_agency_and_lead_to_its_section(built_site, code):
    html = print_file(built_site, code).read_text("utf-8")
    toc = html[html.index('<nav class="toc"'):html.index("</nav>", html.index('<nav class="toc"'))]
    targets = re.findall(r'<a href="#([^"]+)">', toc)
    assert targets == [f"agency-{a.slug}" for a in SITE.agencies]
    for target in targets:
        assert f'id="{target}"' in html
    agency = SITE.agencies[0]
    first, last = agency.activities[0].number, agency.activities[-1].number
    if LANGS[code].numerals == "chinese":
        assert f"{labels(code, first)[1]}–{labels(code, last)[1]}" in toc
    else:
        assert f"{first}–{last}" in toc


@pytest.mark.parametrize("code", list(LANGS))
def test_the_print_button_is_added_by_script_only(built_site, code):
    page = outline(print_file(built_site, code))
    buttons = page.of("print-button")
    assert len(buttons) == 1 and "hidden" in buttons[0][1] and "data-print" in buttons[0][1]
    assert squash(buttons[0][2]) == STRINGS["print_button"][code]
    assert all("src" in script for script in page.scripts), "CSP forbids inline script"
    assert any("js/print." in script["src"] for script in page.scripts)


def test_every_page_links_its_language_print_stylesheet(built_site):
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > 50
    for path in pages:
        html = path.read_text("utf-8")
        lang = re.search(r'<html lang="([^"]+)"', html)[1]
        code = next(c for c, language in LANGS.items() if language.html_lang == lang)
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"( media="print")?>', html)
        print_links = [href for href, media in links if f"print-{code}." in href]
        assert len(print_links) == 1, path
        assert (href_media := dict(links)[print_links[0]]) == ' media="print"', (path, href_media)
        href = print_links[0]  # the 404 page links from the site's root (/), the others relatively
        target = (built_site / href.lstrip("/") if href.startswith("/") else path.parent / href).resolve()
        assert target.is_file(), (path, print_links[0])
        assert "@top-center" in target.read_text("ascii")


# --- The running title's CSS --------------------------------------------------------------

def css_unescape_string(css: str) -> str:
    """The value of the one double-quoted CSS string in `css`, decoded as CSS Syntax §4.3.5 does."""
    start = css.index('content: "') + len('content: "')
    out, i = [], start
    while css[i] != '"':
        assert css[i] not in "\n\r\f", "a raw newline ends a CSS string"
        if css[i] == "\\":
            hexdigits = re.match(r"[0-9a-fA-F]{1,6}", css[i + 1:])
            if hexdigits:
                out.append(chr(int(hexdigits[0], 16)))
                i += 1 + len(hexdigits[0])
                if css[i] in " \t\n":
                    i += 1
                continue
            out.append(css[i + 1])
            i += 2
            continue
        out.append(css[i])
        i += 1
    assert css[i + 1:].lstrip().startswith(";"), "the string must end where the title ends"
    return "".join(out)


# One awkward title per written language (the first in Chinese, the others in English); derived
# languages get theirs by conversion.
_AWKWARD = ('天津“质量月” "引号" \\反斜杠\\ </style><script>x</script> ; } @page { 😀',
            'Say "hi" \\ back\\slash\\ </style> {a} ; @top-center { content: "gotcha" } 3\\20 end')
WRITTEN_TITLES = {lang.code: _AWKWARD[0] if i == 0 else _AWKWARD[1] for i, lang in enumerate(SITE.written_languages)}


LINK = "https://example.org/notice?a=1&b=2"


@pytest.fixture(scope="module")
def awkward_site(tmp_path_factory) -> Path:
    """The real content with a site title full of quotes, backslashes and CSS/HTML syntax."""
    content = tmp_path_factory.mktemp("awkward") / "content"
    import shutil
    shutil.copytree(ROOT / "content", content)
    site_yaml = content / "site.yaml"
    data = yaml.safe_load(site_yaml.read_text("utf-8"))
    data["title"] = dict(WRITTEN_TITLES)
    site_yaml.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    agency_yaml = sorted((content / "agencies").glob("01-*.yaml"))[0]
    agency = yaml.safe_load(agency_yaml.read_text("utf-8"))
    for code in WRITTEN_TITLES:
        agency["activities"][0]["text"][code] += f"\n\n[{code} notice]({LINK})"
    agency_yaml.write_text(yaml.safe_dump(agency, allow_unicode=True, sort_keys=False), "utf-8")
    out = content.parent / "site"
    result = build_site(content, out)
    AWKWARD_TITLES.update(result.site.config.title)
    return out


AWKWARD_TITLES: dict[str, str] = {}  # every language's title of the awkward site, once it is built


@pytest.mark.parametrize("code", list(LANGS))
def test_running_title_is_a_safe_css_string_for_any_title(awkward_site, code):
    sheets = list((awkward_site / "assets" / "css").glob(f"print-{code}.*.css"))
    assert len(sheets) == 1
    raw = sheets[0].read_bytes()
    css = raw.decode("ascii")  # plain ASCII: no charset to get wrong
    assert css_unescape_string(css) == AWKWARD_TITLES[code]
    assert css.startswith("/*") and css.rstrip().endswith("}")


@pytest.mark.parametrize("code", list(LANGS))
def test_running_title_css_round_trips_the_real_title(built_site, code):
    sheets = list((built_site / "assets" / "css").glob(f"print-{code}.*.css"))
    assert len(sheets) == 1
    assert css_unescape_string(sheets[0].read_text("ascii")) == TITLE[code]


# --- Printing with Chromium ---------------------------------------------------------------

_RADICAL = re.compile(r"[\u2e80-\u2fdf]")


def normalize(text: str) -> str:
    """Text as extracted from a PDF, comparable with the page's: compatibility forms folded
    (CJK fonts often map 月 to the Kangxi radical ⽉), spaces and hyphenation hyphens dropped, and
    the radicals NFKC cannot fold (⺠ for 民) kept as a wildcard, \0, that `find` accepts for any
    Chinese character."""
    text = re.sub(r"[\s\-\u00ad\u2010\u2011]+", "", unicodedata.normalize("NFKC", text))
    return _RADICAL.sub("\0", text)


def _pattern(key: str) -> re.Pattern:
    return re.compile("".join(f"(?:{re.escape(c)}|\0)" if "\u3400" <= c <= "\u9fff" else re.escape(c) for c in key))


def find(text: str, key: str, start: int = 0) -> int:
    """Where `key` (normalized page text) first occurs in `text` (normalized PDF text) from `start`."""
    match = _pattern(key).search(text, start)
    return match.start() if match else -1


def rfind(text: str, key: str, end: int) -> int:
    starts = [m.start() for m in _pattern(key).finditer(text, 0, end)]
    return starts[-1] if starts else -1


def same(pdf_text: str, key: str) -> bool:
    return bool(_pattern(key).fullmatch(pdf_text))


def within(pdf_text: str, key: str) -> bool:
    """Whether a line read from the PDF is part of `key`."""
    return re.search("".join("." if c == "\0" else re.escape(c) for c in pdf_text), key) is not None


def print_pdf(browser, url: str) -> bytes:
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(url)
        tab.evaluate("document.fonts.ready.then(() => true)")
        pdf = tab.pdf(prefer_css_page_size=True)
        assert not errors, errors
        return pdf
    finally:
        context.close()


class Printed:
    """A PDF read back: its pages' sizes and text, the margin lines told apart from the body."""

    def __init__(self, pdf: bytes, running_title: str):
        from pypdf import PdfReader

        self.pdf = pdf
        self.reader = PdfReader(io.BytesIO(pdf))
        self.sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in self.reader.pages]
        self.texts = [p.extract_text() or "" for p in self.reader.pages]
        self.title_key = normalize(running_title)
        self.numbers: list[tuple[int, int] | None] = []
        self.has_title: list[bool] = []
        self.bodies: list[list[str]] = []  # each page's lines without the margin boxes
        for text in self.texts:
            lines = [line for line in text.splitlines() if line.strip()]
            number = next((PAGE_NUMBER.match(line) for line in lines if PAGE_NUMBER.match(line)), None)
            self.numbers.append((int(number[1]), int(number[2])) if number else None)
            title_lines = [line for line in lines if same(normalize(line), self.title_key)]
            self.has_title.append(bool(title_lines))
            body = [line for line in lines if not PAGE_NUMBER.match(line)]
            if title_lines:
                body.remove(title_lines[0])
            self.bodies.append(body)

    def body_keys(self) -> list[str]:
        return [normalize("".join(lines)) for lines in self.bodies]


@pytest.fixture(scope="module")
def printed(browser, site_server) -> dict[str, Printed]:
    """The print page of each language printed once by Chromium, as a reader would."""
    return {code: Printed(print_pdf(browser, url_of(site_server, code, "print/")), TITLE[code])
            for code in LANGS}


def readable(doc: Printed, code: str) -> bool:
    """Whether this machine's fonts let pypdf read the language back (a CJK font for Chinese):
    the document's first activity title must be in the PDF's text."""
    return LANGS[code].spaces or find(normalize("".join(doc.texts)), normalize(SITE.activities[0].title[code])) >= 0


@pytest.mark.parametrize("code", list(LANGS))
def test_printed_pages_are_a4_and_numbered(printed, code):
    doc = printed[code]
    total = len(doc.sizes)
    assert 4 <= total <= 60, total
    for width, height in doc.sizes:
        assert abs(width - A4[0]) <= 1 and abs(height - A4[1]) <= 1, (width, height)
    assert doc.numbers == [(n, total) for n in range(1, total + 1)]


@pytest.mark.parametrize("code", list(LANGS))
def test_printed_pages_carry_the_running_title(printed, code):
    if not readable(printed[code], code):
        skip_without_cjk_font()
    assert all(printed[code].has_title), printed[code].has_title


@pytest.mark.parametrize("code", list(LANGS))
def test_printed_document_has_no_navigation_or_buttons(printed, code):
    if not readable(printed[code], code):
        skip_without_cjk_font()
    text = normalize("".join(printed[code].texts))
    assert_no_screen_text(text, code)
    assert find(text, normalize(STRINGS["print_intro"][code])) < 0
    assert find(text, normalize(SITE.config.licence[code])) < 0  # the footer


def assert_no_screen_text(text: str, code: str) -> None:
    """No skip link, language switch, navigation, search, breadcrumbs or footer in printed text."""
    t = {key: normalize(texts[code]) for key, texts in STRINGS.items()}
    assert find(text, t["skip_to_content"]) < 0
    assert find(text, t["search_label"]) < 0  # the header search's label
    assert find(text, t["reading_settings"]) < 0
    assert find(text, t["home"] + t["activities"] + t["print"] + t["data"]) < 0  # the main navigation
    assert find(text, t["home"] + "›") < 0  # the breadcrumbs
    assert find(text, normalize(SITE.config.licence[code])) < 0  # the footer
    for other in SITE.languages:
        if other.code != code:
            assert find(text, normalize(other.label)) < 0  # the language switch


def expected_outline(code: str):
    """[(agency heading, [(activity title, start of its text)])] as normalized keys."""
    from sitegen.outputs import plain_text

    sep = gap(code)
    result = []
    for agency in SITE.agencies:
        name = STRINGS["activities_by"][code].replace("{agency}", agency.name[code])
        heading = normalize(labels(code, agency.number)[0] + sep + name)
        acts = [(normalize(labels(code, a.number)[1] + sep + a.title[code]),
                 normalize(plain_text(a.html[code]))[:24]) for a in agency.activities]
        result.append((heading, acts))
    return result


def check_no_stranded_headings(doc: Printed, code: str) -> None:
    pages = doc.body_keys()
    starts, text = [], ""
    for page in pages:
        starts.append(len(text))
        text += page

    def page_of(position: int) -> int:
        return max(i for i, start in enumerate(starts) if start <= position)

    structure = expected_outline(code)
    first_activity = structure[0][1][0][0]
    cursor = find(text, first_activity)
    assert cursor > 0, "the first activity's title is not in the PDF"
    cursor = rfind(text, structure[0][0], cursor)  # its agency's heading, after the contents
    assert cursor >= 0
    toc_pages = page_of(cursor)
    headings: set[str] = set()
    for heading, activities in structure:
        position = find(text, heading, cursor)
        assert position >= 0, f"agency heading missing or out of order: {heading}"
        headings.add(heading)
        heading_page = page_of(position)
        cursor = position + len(heading)
        for n, (title, body) in enumerate(activities):
            position = find(text, title, cursor)
            assert position >= 0, f"activity title missing, out of order or split across pages: {title}"
            headings.add(title)
            title_page = page_of(position)
            if n == 0:
                assert title_page == heading_page, f"{heading} stranded at the foot of page {heading_page + 1}"
            cursor = position + len(title)
            position = find(text, body, cursor)
            assert position >= 0, f"text of {title} missing"
            assert page_of(position) == title_page, f"{title} stranded at the foot of page {title_page + 1}"
    # and, as a reader sees it: no page of the document ends on a heading line
    for number, lines in enumerate(doc.bodies[toc_pages:], toc_pages + 1):
        last = normalize(lines[-1]) if lines else ""
        assert not (len(last) >= 4 and any(within(last, heading) for heading in headings)), \
            f"page {number} ends with a heading: {lines[-1]!r}"


@pytest.mark.parametrize("code", list(LANGS))
def test_printout_has_every_activity_in_order_and_no_stranded_heading(printed, code):
    if not readable(printed[code], code):
        skip_without_cjk_font()
    check_no_stranded_headings(printed[code], code)


def test_the_stranded_heading_check_can_fail(printed):
    """The check above does find a title left alone at the foot of a page: move the lines after
    some title to the next page, as a layout without break-after: avoid would, and it fails."""
    doc = printed[LATIN]
    titles = [title for _, acts in expected_outline(LATIN) for title, _ in acts]
    page, line = next((i, j) for i in range(1, len(doc.bodies) - 1) for j, text in enumerate(doc.bodies[i])
                      if 0 < j < len(doc.bodies[i]) - 1 and normalize(text) in titles)
    moved = Printed.__new__(Printed)
    moved.bodies = [list(lines) for lines in doc.bodies]
    moved.bodies[page + 1] = moved.bodies[page][line + 1:] + moved.bodies[page + 1]
    moved.bodies[page] = moved.bodies[page][:line + 1]
    with pytest.raises(AssertionError, match="stranded|ends with a heading"):
        check_no_stranded_headings(moved, LATIN)


@pytest.fixture(scope="module")
def printed_agency(browser, site_server) -> Printed:
    agency = SITE.agencies[0]
    return Printed(print_pdf(browser, url_of(site_server, LATIN, f"agencies/{agency.slug}/")), TITLE[LATIN])


def test_another_page_prints_cleanly_without_header_nav_or_search(printed_agency):
    doc = printed_agency
    assert doc.sizes and all(abs(w - A4[0]) <= 1 and abs(h - A4[1]) <= 1 for w, h in doc.sizes)
    assert doc.numbers == [(n, len(doc.sizes)) for n in range(1, len(doc.sizes) + 1)]
    assert all(doc.has_title)
    text = normalize("".join(doc.texts))
    assert_no_screen_text(text, LATIN)
    assert find(text, normalize(STRINGS["print"][LATIN])) < 0  # nav and footer link
    agency = SITE.agencies[0]
    for activity in agency.activities:
        assert find(text, normalize(activity.title[LATIN])) >= 0
    # the pager is screen-only too
    assert find(text, normalize(SITE.agencies[1].name[LATIN] + " →")) < 0


@pytest.mark.parametrize("code", list(LANGS))
def test_awkward_running_title_prints_literally(browser, awkward_site, code):
    """Quotes, backslashes and CSS syntax in the title come out on paper as written."""
    server = StaticServer(awkward_site)
    try:
        doc = Printed(print_pdf(browser, url_of(server, code, "data/")), AWKWARD_TITLES[code])
    finally:
        server.close()
    if not LANGS[code].spaces and find(normalize("".join(doc.texts)), normalize(STRINGS["data"][code])) < 0:
        skip_without_cjk_font()
    assert all(doc.has_title), doc.texts[0][:300]
    assert doc.numbers == [(n, len(doc.sizes)) for n in range(1, len(doc.sizes) + 1)]


@pytest.mark.parametrize("code", list(LANGS))
def test_links_are_readable_on_paper(browser, awkward_site, code):
    """A link in an activity's text prints black with its address after it; in-page links do not."""
    server = StaticServer(awkward_site)
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(url_of(server, code, "print/"))
        tab.emulate_media(media="print")
        link = tab.locator(f'.prose a[href="{LINK}"]')
        assert link.count() == 1
        assert LINK in link.evaluate("a => getComputedStyle(a, '::after').content")
        assert link.evaluate("a => getComputedStyle(a).color") == "rgb(0, 0, 0)"
        toc = tab.locator(".toc a").first
        assert toc.evaluate("a => getComputedStyle(a, '::after').content") in ("none", "normal")
        tab.emulate_media(media="screen")
        assert LINK not in link.evaluate("a => getComputedStyle(a, '::after').content")
    finally:
        context.close()
        server.close()


# --- On screen, and in print preview -----------------------------------------------------

SCREEN_ONLY = [".site-header", ".site-footer", ".breadcrumbs", ".main-nav", ".header-search", ".lang-switch",
               ".search", ".pager", ".tags", ".hero__search", ".hero__links", "button",
               ".page-tools", ".handoff", ".activity__tools", ".report-link", ".settings", ".menu-toggle"]


@pytest.mark.parametrize("code", list(LANGS))
@pytest.mark.parametrize("key", ["", "activities/", "print/", "data/", f"agencies/{SITE.agencies[0].slug}/", "404.html"])
def test_print_media_hides_everything_made_for_the_screen(page, site_server, code, key):
    page.goto(url_of(site_server, code, key))
    page.emulate_media(media="print")
    visible = page.evaluate("""selectors => selectors.filter(s => [...document.querySelectorAll(s)]
        .some(e => e.checkVisibility() && e.getBoundingClientRect().height > 0))""", SCREEN_ONLY)
    assert visible == []
    assert page.locator("main h1").first.is_visible()
    assert page.console_errors == []


def test_print_button_prints_and_is_absent_without_script(browser, site_server):
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
        tab.goto(url_of(site_server, LATIN, "print/"))
        button = tab.get_by_role("button", name=STRINGS["print_button"][LATIN], exact=True)
        assert button.is_visible()
        button.click()
        assert tab.evaluate("window.__printed") == 1
    finally:
        context.close()
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(url_of(site_server, LATIN, "print/"))
        assert not tab.locator("[data-print]").is_visible(), "a Print button that cannot work"
        assert tab.locator(".document__activity").count() == len(SITE.activities)  # complete without it
    finally:
        context.close()


# --- The QR code --------------------------------------------------------------------------

@pytest.mark.parametrize("code", list(LANGS))
def test_qr_code_only_with_a_base_url(built_site, built_site_with_base, code):
    without = print_file(built_site, code).read_text("utf-8")
    assert "<svg" not in without and 'class="qr' not in without and "qr__url" not in without
    with_base = print_file(built_site_with_base, code).read_text("utf-8")
    online = BASE_URL + (LANGS[code].path + "/" if LANGS[code].path else "")
    # one printed code (the screen's "open on your phone" code of each page: test_reading.py)
    printed = with_base[with_base.index('<figure class="qr">'):]
    printed = printed[:printed.index("</figure>")]
    assert with_base.count('<figure class="qr">') == 1 and f'<span class="qr__url">{online}</span>' in printed
    # the SVG is exactly segno's code for the online address: it encodes that address
    assert str(qr_svg(online)) in printed
    data_page = print_file(built_site_with_base, code, "data/").read_text("utf-8")
    assert '<figure class="qr">' not in data_page and "qr__url" not in data_page  # printouts of the print page only


@pytest.fixture(scope="module")
def base_server(built_site_with_base):
    server = StaticServer(built_site_with_base)
    yield server
    server.close()


def _grey_pixels(browser, png: bytes) -> tuple[int, int, bytes]:
    """Decode a PNG with the browser (no imaging library needed): width, height, grey bytes."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        width, height, grey = tab.evaluate("""async data => {
            const image = new Image();
            image.src = "data:image/png;base64," + data;
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.width; canvas.height = image.height;
            const context = canvas.getContext("2d");
            context.fillStyle = "#fff"; context.fillRect(0, 0, canvas.width, canvas.height);
            context.drawImage(image, 0, 0);
            const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
            const grey = new Array(canvas.width * canvas.height);
            for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
            return [canvas.width, canvas.height, grey];
        }""", base64.b64encode(png).decode("ascii"))
        return width, height, bytes(grey)
    finally:
        context.close()


@pytest.mark.parametrize("code", list(LANGS))
def test_printed_qr_code_decodes_to_the_online_version(browser, base_server, code):
    if os.environ.get("CI"):
        import zxingcpp  # installed by requirements-dev.txt: under CI this test must run
    else:
        zxingcpp = pytest.importorskip("zxingcpp", reason="no QR decoder installed (pip install zxing-cpp)")
    context = browser.new_context(device_scale_factor=2)
    try:
        tab = context.new_page()
        tab.goto(url_of(base_server, code, "print/"))
        tab.emulate_media(media="print")
        qr = tab.locator(".qr svg")
        assert qr.is_visible()
        png = qr.screenshot()
    finally:
        context.close()
    width, height, grey = _grey_pixels(browser, png)
    results = zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))
    online = BASE_URL + (LANGS[code].path + "/" if LANGS[code].path else "")
    assert [r.text for r in results] == [online]
