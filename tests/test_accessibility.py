"""Accessibility (issue 6, part 1), in Chromium: axe-core finds no WCAG 2.1 A/AA violation on any
page in either language, at phone and desktop widths, in the largest text size and in dark mode; every
control is reachable by keyboard and shows a focus ring; one h1 per page and no skipped heading
level; tap targets at least 24 px; no sideways scrolling on a phone."""
from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from conftest import LANGS, SITE, lang_prefix
from sitegen.pages import PAGE_KINDS, site_pages


WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
PHONE, DESKTOP = 390, 1366
TEXT_SIZE_KEY = "qm-text-size"
LARGE = "largest"  # the largest of the reading settings' four text sizes (1.75×)
# Agency pages share one template: the passes that do not check every page check these (the longest,
# with 23 activities, and the last), and every other page kind, in every language.
SAMPLE_AGENCIES = ["market-regulation", "supply-marketing"]
NON_AGENCY = [kind.key for kind in PAGE_KINDS if not kind.per_agency]
LANG_PREFIXES = [lang_prefix(code) for code in LANGS]

_axe = Axe()


def all_pages(site: Path) -> list[str]:
    """Every page's address path: '', 'en/agencies/water/', '404.html', …"""
    paths = []
    for file in sorted(site.rglob("*.html")):
        rel = file.relative_to(site).as_posix()
        paths.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return paths


def sampled_pages() -> list[str]:
    return [prefix + key for prefix in LANG_PREFIXES
            for key in NON_AGENCY + [f"agencies/{slug}/" for slug in SAMPLE_AGENCIES]]


def new_tab(browser, width: int, dark: bool = False, large: bool = False):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844},
                                  color_scheme="dark" if dark else "light", reduced_motion="reduce",
                                  device_scale_factor=1)
    if large:  # what the reading settings store; site.js applies it before the first paint
        context.add_init_script(f"try {{ localStorage.setItem('{TEXT_SIZE_KEY}', '{LARGE}') }} catch (e) {{}}")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"{tab.url}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"{tab.url}: {e}"))
    return context, tab, errors


# The page-level checks that axe does not make, run in the page: headings, target sizes, reflow.
PAGE_CHECKS = r"""() => {
  const problems = [];
  const shown = (el) => !el.closest('[hidden]') && el.getClientRects().length > 0;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.className && typeof el.className === 'string') s += '.' + el.className.trim().split(/\s+/).join('.');
    const text = (el.textContent || el.value || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ');
    return s + (text ? ' "' + text.slice(0, 40) + '"' : '');
  };

  // Headings: exactly one h1, first; each level at most one deeper than the one before.
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')].filter(shown);
  const levels = headings.map((h) => h.getAttribute('aria-level') ? +h.getAttribute('aria-level') : +h.tagName[1]);
  const h1s = levels.filter((l) => l === 1).length;
  if (h1s !== 1) problems.push(`${h1s} h1 elements`);
  if (levels.length && levels[0] !== 1) problems.push(`the first heading is h${levels[0]}: ${describe(headings[0])}`);
  for (let i = 1; i < levels.length; i++) {
    if (levels[i] > levels[i - 1] + 1) problems.push(`heading level skipped: h${levels[i - 1]} → h${levels[i]} at ${describe(headings[i])}`);
  }

  // Targets: at least 24 × 24 CSS px (WCAG 2.5.8), except links inside running text.
  const targets = document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex^="-"])');
  for (const el of targets) {
    if (!shown(el) || getComputedStyle(el).visibility === 'hidden') continue;
    const style = getComputedStyle(el);
    if (style.display === 'inline' && el.closest('p, .prose, td, dd, blockquote, figcaption')) {
      const block = el.closest('p, .prose, td, dd, blockquote, figcaption');
      if (block.textContent.trim().length > el.textContent.trim().length) continue;  // in a sentence
    }
    let { width, height } = el.getBoundingClientRect();
    if (style.display === 'inline') {
      for (const r of el.getClientRects()) { width = Math.max(width, r.width); height = Math.max(height, r.height); }
    }
    if (width < 24 - 0.01 || height < 24 - 0.01) problems.push(`target ${Math.round(width)}×${Math.round(height)} px: ${describe(el)}`);
  }

  // Reflow: nothing wider than the window (no sideways scrolling).
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    const wide = [...document.body.querySelectorAll('*')].filter((el) => shown(el) && el.getBoundingClientRect().right > root.clientWidth + 1 && !el.closest('.table-wrap'));
    problems.push(`page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth} px` + (wide.length ? ' (' + describe(wide[wide.length - 1]) + ')' : ''));
  }
  return problems;
}"""


def check_pages(browser, server_url: str, paths: list[str], width: int, dark=False, large=False,
                after_load=None) -> dict[str, list[str]]:
    """axe and the page checks on each path; {path: [problem, …]} for the paths with problems."""
    context, tab, errors = new_tab(browser, width, dark, large)
    found: dict[str, list[str]] = {}
    try:
        for path in paths:
            tab.goto(server_url + path, wait_until="load")
            if after_load:
                after_load(tab)
            if large:
                assert tab.evaluate("() => document.documentElement.dataset.textSize") == LARGE, path
            problems = []
            results = _axe.run(tab, options=AXE_OPTIONS)
            for violation in results.response["violations"]:
                for node in violation["nodes"]:
                    problems.append(f"axe {violation['id']} ({violation['impact']}): {node['target']} — "
                                    + node.get("failureSummary", "").replace("\n", " ")[:300])
            problems += tab.evaluate(PAGE_CHECKS)
            if problems:
                found[path or "/"] = problems
        assert not errors, errors[:5]
    finally:
        context.close()
    return found


def _report(found: dict[str, list[str]]) -> str:
    return f"{sum(map(len, found.values()))} problems on {len(found)} pages:\n" + "\n".join(
        f"  {path}: {problem}" for path, problems in found.items() for problem in problems[:12])


def test_every_page_passes_axe_and_the_page_checks_on_a_phone(browser, site_server, built_site):
    paths = all_pages(built_site)
    assert len(paths) == len(site_pages(SITE)) * len(LANGS)
    found = check_pages(browser, site_server.url, paths, PHONE)
    assert not found, _report(found)


# The other passes check every kind of page in every language (sampled_pages): each costs about as
# much as a third of the pages, and CI keeps to about ten minutes in all.
@pytest.mark.parametrize("mode,width", [("light", DESKTOP), ("dark", DESKTOP), ("large", PHONE), ("dark+large", PHONE)],
                         ids=["desktop", "dark-desktop", "large-phone", "dark+large-phone"])
def test_dark_mode_and_larger_text_pass_too(browser, site_server, mode, width):
    found = check_pages(browser, site_server.url, sampled_pages(), width,
                        dark="dark" in mode, large="large" in mode)
    assert not found, _report(found)


def _search(query: str):
    def run(tab):
        tab.fill("#q", query)
        tab.press("#q", "Enter")
        tab.wait_for_selector("#search-status:not(:empty)")
    return run


@pytest.mark.parametrize("mode,width", [("light", PHONE), ("dark+large", DESKTOP)], ids=["phone", "dark+large-desktop"])
def test_search_results_pass_too(browser, site_server, width, mode):
    """The results the script draws: headings, marks, links, the status line."""
    for prefix, query in ((lang_prefix(code), SITE.activities[0].title[code].split()[0][:2]) for code in LANGS):
        found = check_pages(browser, site_server.url, [prefix + "activities/"], width,
                            dark="dark" in mode, large="large" in mode, after_load=_search(query))
        assert not found, _report(found)
        found = check_pages(browser, site_server.url, [prefix + "activities/"], width,
                            dark="dark" in mode, large="large" in mode, after_load=_search("zzzzqqq"))
        assert not found, _report(found)


# --- The checks themselves can fail -------------------------------------------------------------

def test_the_page_checks_find_each_kind_of_problem(browser, tmp_path):
    from conftest import StaticServer

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.html").write_text(
        '<!doctype html><html><head><title>x</title><link rel="icon" href="data:,"></head><body>'
        '<h2>first</h2><h1>one</h1><h1>two</h1><h4>deep</h4>'
        '<a href="#" style="display:inline-block;width:10px;height:10px;overflow:hidden">t</a>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="10" height="10">'
        '<div style="width:2000px">wide</div>'
        '<p style="color:#bbb;background:#fff">low contrast</p></body></html>', "utf-8")
    server = StaticServer(tmp_path)
    try:
        found = check_pages(browser, server.url, ["bad/"], PHONE)
    finally:
        server.close()
    text = "\n".join(found["bad/"])
    for expected in ("2 h1 elements", "the first heading is h2", "h1 → h4", "target 10×10",
                     "scrolls sideways", "axe image-alt", "axe color-contrast", "axe html-has-lang"):
        assert expected in text, f"{expected!r} not found in:\n{text}"


# --- Keyboard -----------------------------------------------------------------------------------

TABBABLE = r"""() => {
  const all = document.querySelectorAll('a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex^="-"])');
  const ids = [];
  let n = 0;
  for (const el of all) {
    const style = getComputedStyle(el);
    if (el.closest('[hidden], [inert]') || el.getClientRects().length === 0 || style.visibility === 'hidden') continue;
    if (el.getAttribute('tabindex') && +el.getAttribute('tabindex') < 0) continue;
    el.dataset.qmKey = String(++n);
    ids.push(el.dataset.qmKey);
  }
  return ids;
}"""

FOCUSED = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const text = (el.textContent || el.value || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ');
  return {
    key: el.dataset.qmKey || null,
    what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ' "' + text.slice(0, 30) + '"',
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== 'none',
    onScreen: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth && r.width > 0 && r.height > 0,
  };
}"""

KEYBOARD_PAGES = [prefix + key for prefix in LANG_PREFIXES
                  for key in NON_AGENCY + ["agencies/state-assets/"]]


def tab_through(tab) -> tuple[list[str], list[dict], list[str]]:
    """Press Tab until focus leaves the page or comes round again: (expected keys, visits, problems)."""
    expected = tab.evaluate(TABBABLE)
    visits, problems = [], []
    tab.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    for _ in range(len(expected) + 5):
        tab.keyboard.press("Tab")
        focused = tab.evaluate(FOCUSED)
        if focused is None or (visits and focused["key"] == visits[0]["key"]):
            break
        visits.append(focused)
        if not (focused["outline"] or focused["shadow"]):
            problems.append(f"no visible focus ring on {focused['what']}")
        if not focused["onScreen"]:
            problems.append(f"focused but off screen: {focused['what']}")
        if focused["key"] is None:
            problems.append(f"focus went to something not counted as a control: {focused['what']}")
    reached = {v["key"] for v in visits}
    missed = [k for k in expected if k not in reached]
    if missed:
        names = tab.evaluate("(keys) => keys.map((k) => { const el = document.querySelector(`[data-qm-key='${k}']`);"
                             " return el.tagName.toLowerCase() + ' ' + (el.textContent || el.name || '').trim().slice(0, 30); })",
                             missed)
        problems.append(f"never reached by Tab: {names}")
    return expected, visits, problems


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_control_is_reachable_by_keyboard_with_a_visible_focus_ring(browser, site_server, width):
    context, tab, errors = new_tab(browser, width)
    found, counted = {}, 0
    try:
        for path in KEYBOARD_PAGES:
            tab.goto(site_server.url + path)
            expected, visits, problems = tab_through(tab)
            counted += len(visits)
            assert len(expected) >= 5, f"{path}: only {len(expected)} controls found"
            if problems:
                found[path or "/"] = problems
    finally:
        context.close()
    assert not found, _report(found)
    assert counted > 200
    assert not errors, errors


def test_focus_ring_shows_in_dark_mode_and_larger_text(browser, site_server):
    context, tab, _ = new_tab(browser, DESKTOP, dark=True, large=True)
    try:
        for path in ("", "en/data/", "activities/"):
            tab.goto(site_server.url + path)
            _, visits, problems = tab_through(tab)
            assert visits and not problems, (path, problems)
    finally:
        context.close()


def test_the_skip_link_moves_focus_to_the_main_content(browser, site_server):
    context, tab, _ = new_tab(browser, PHONE)
    try:
        for path in ("", "en/agencies/water/"):
            tab.goto(site_server.url + path)
            tab.keyboard.press("Tab")
            assert tab.evaluate("() => document.activeElement.classList.contains('skip-link')")
            tab.keyboard.press("Enter")
            assert tab.evaluate("() => document.activeElement.id") == "main"
    finally:
        context.close()


def test_the_reading_settings_work_by_keyboard_and_are_remembered(browser, site_server):
    """The header's button opens the reading settings (js/site.js; every setting in
    test_reading.py): a larger text size chosen by keyboard holds on the next page."""
    context, tab, _ = new_tab(browser, PHONE)
    try:
        tab.goto(site_server.url + "en/")
        size = tab.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        button = tab.locator("[data-settings-open]")
        assert button.is_visible() and button.get_attribute("aria-controls") == "reading-settings"
        button.focus()
        tab.keyboard.press("Enter")
        dialog = tab.get_by_role("dialog")
        assert dialog.is_visible()
        tab.keyboard.press("ArrowRight")  # from the checked "Standard" to "Large"
        assert tab.evaluate("() => document.documentElement.dataset.textSize") == "large"
        assert tab.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= size * 1.2
        tab.keyboard.press("Escape")
        assert not dialog.is_visible()
        tab.goto(site_server.url + "data/")
        assert tab.evaluate("() => document.documentElement.dataset.textSize") == "large"
        tab.locator("[data-settings-open]").press("Space")
        assert tab.locator("input[name=text-size][value=large]").is_checked()
        tab.locator("[data-settings-reset]").press("Space")
        assert tab.evaluate("() => document.documentElement.dataset.textSize") is None
    finally:
        context.close()
