"""Readers first (issue 10): the layout on a 360 × 640 phone and a 1366 × 900 desktop, in Chromium.
The phone's header takes at most a quarter of the screen on every page in every language, with the
languages, the reading settings, the menu and a search in reach, and the desktop's shows
everything; a search shows its first result on the first screen, the filters folded away and the
count announced; and nothing moves after the first paint: layout shift at most 0.01, as Chromium
reports it to a buffered PerformanceObserver (shifts right after input excepted), on every page
kind in every language at both widths, with a search in the address, with the reading settings,
and with read-aloud voices that arrive after the page."""
from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from conftest import LANGS, SITE, lang_prefix

FIRST, LAST = SITE.languages[0].code, SITE.languages[-1].code  # the original, and English
DERIVED = next(lang.code for lang in SITE.languages if lang.derive)  # the Traditional edition
from test_reading import DESKTOP, EVERY_VOICE, FAKE_SPEECH, KINDS, PHONE, t, url

HEADER_MAX = 160  # px: a quarter of 640
SHIFT_MAX = 0.01
# A search in each language: the start of the first activity's title (a word, or four characters).
QUERY = {code: SITE.activities[0].title[code].split()[0][:4] for code in LANGS}

# Every layout shift since the page began (buffered), without those right after input, measured
# two frames and a moment after it is called, so that what the scripts do after the load counts too.
LAYOUT_SHIFT = r"""(wait) => new Promise((resolve) => {
  let total = 0; const shifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.hadRecentInput) continue;
      total += entry.value;
      shifts.push({value: entry.value, nodes: (entry.sources || []).map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?')});
    }
  }).observe({type: 'layout-shift', buffered: true});
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve({total, shifts}), wait)));
})"""


def context_for(browser, viewport, settings=None, late=False, dark=False):
    context = browser.new_context(viewport=viewport, reduced_motion="reduce", color_scheme="dark" if dark else "light")
    context.add_init_script(f"{FAKE_SPEECH}({json.dumps({'voices': EVERY_VOICE, 'late': late, 'none': False})});")
    if settings:
        context.add_init_script("(() => { const s = %s; for (const k in s) localStorage.setItem(k, s[k]); })();"
                                % json.dumps(settings))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"{tab.url}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"{tab.url}: {e}"))
    tab.console_errors = errors
    return context, tab


def check_header(tab, code: str, key: str, viewport, heights: dict) -> list[str]:
    """What the header must show at this width; its height on a phone."""
    problems = []
    header = tab.locator(".site-header")
    height = header.bounding_box()["height"]
    where = lang_prefix(code) + key
    heights[where or "/"] = round(height)
    if not tab.get_by_role("navigation", name=t("language", code)).is_visible():
        problems.append(f"{where}: no language switch")
    if not header.get_by_role("button", name=t("reading_settings", code)).is_visible():
        problems.append(f"{where}: no reading settings")
    menu = header.get_by_role("button", name=t("menu", code)).is_visible()
    nav = tab.locator("#main-nav").is_visible()
    search = tab.locator("#header-q, #home-q, #q").first
    if not search.is_visible() or search.bounding_box()["y"] + search.bounding_box()["height"] > viewport["height"]:
        problems.append(f"{where}: the search is not on the first screen")
    if viewport is PHONE:
        if height > HEADER_MAX:
            problems.append(f"{where}: the header is {height:.0f} px tall")
        if not menu or nav:
            problems.append(f"{where}: the navigation is not behind the menu button")
    else:
        if menu or not nav or not header.get_by_text(SITE.config.title[code], exact=True).is_visible():
            problems.append(f"{where}: the desktop header does not show everything")
    return problems


def shift_pass(browser, server, viewport, *, settings=None, late=False, dark=False, keys=None, codes=None,
               header=False):
    """Layout shift on each page ({total, shifts} over SHIFT_MAX), each page's total, and the
    header's problems (when asked)."""
    context, tab = context_for(browser, viewport, settings=settings, late=late, dark=dark)
    found, totals, problems = {}, {}, []
    heights: dict[str, int] = {}
    try:
        for code in codes or LANGS:
            for key in keys or KINDS:
                key = key.replace("{q}", QUERY[code])
                tab.goto(url(server, code, key), wait_until="load")
                if "?q=" in key:
                    tab.locator("#search-results > li").first.wait_for()
                if late:  # the voices come after the load, and the read-aloud buttons show
                    tab.evaluate("() => window.__deliverVoices()")
                result = tab.evaluate(LAYOUT_SHIFT, 100)
                name = lang_prefix(code) + key
                totals[name] = result["total"]
                if result["total"] > SHIFT_MAX:
                    found[name] = result
                if header:
                    problems += check_header(tab, code, key, viewport, heights)
        assert tab.console_errors == []
        if heights:
            print(f"\nheader heights at {viewport['width']} px:", heights)
    finally:
        context.close()
    return found, totals, problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360", "1366"])
def test_nothing_moves_after_the_first_paint_and_the_header_earns_its_space(browser, site_server, viewport):
    found, totals, problems = shift_pass(browser, site_server, viewport, keys=KINDS + ["activities/?q={q}"],
                                         header=True)
    print(f"\nlargest layout shift at {viewport['width']} px: {max(totals.values()):.4f}")
    assert not found, found
    assert not problems, problems


def test_nothing_moves_with_the_reading_settings_or_voices_that_come_late(browser, site_server):
    keys = ["", f"agencies/{SITE.agencies[0].slug}/", "activities/?q={q}"]
    for viewport in (PHONE, DESKTOP):
        found, _, _ = shift_pass(browser, site_server, viewport, settings={"qm-text-size": "largest", "qm-contrast": "high"},
                                 late=True, dark=viewport is DESKTOP, keys=keys, codes=[FIRST, LAST])
        assert not found, (viewport, found)


def test_the_first_search_result_is_on_the_first_screen(browser, site_server):
    context, tab = context_for(browser, PHONE)
    try:
        for code in LANGS:
            tab.goto(url(site_server, code, "activities/?q=" + QUERY[code]))
            first = tab.locator("#search-results > li").first
            first.wait_for()
            box = first.locator("h2").bounding_box()
            print(f"\n{code}: the first result's title at {box['y']:.0f}–{box['y'] + box['height']:.0f} px")
            assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], code
            # the filters are folded away behind a button that says so, and open with it
            toggle = tab.get_by_role("button", name=t("filters", code))
            assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
            assert toggle.get_attribute("aria-controls") == "filters"
            assert not tab.locator("#agency").is_visible()
            toggle.click()
            assert tab.locator("#agency").is_visible() and toggle.get_attribute("aria-expanded") == "true"
            # the count is announced: a polite live region
            status = tab.get_by_role("status")
            assert status.get_attribute("aria-live") == "polite"
            assert status.inner_text().strip()[0].isdigit()
        # filters chosen in the address show open
        tab.goto(url(site_server, FIRST, f"activities/?topic={SITE.topics[0].id}"))
        tab.locator("#search-results > li").first.wait_for()
        assert tab.locator("#topic").is_visible()
        assert tab.get_by_role("button", name=t("filters", FIRST)).get_attribute("aria-expanded") == "true"
        assert tab.console_errors == []
    finally:
        context.close()


def test_the_measure_sees_a_shift(browser, site_server):
    """The check can fail: content pushed down after the first paint is counted."""
    context, tab = context_for(browser, PHONE)
    try:
        tab.goto(url(site_server, LAST, "data/"), wait_until="load")
        tab.evaluate("""() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
            const block = document.createElement('div'); block.style.height = '120px';
            document.querySelector('main').prepend(block); done(); })))""")
        assert tab.evaluate(LAYOUT_SHIFT, 50)["total"] > SHIFT_MAX
    finally:
        context.close()


class _SlowTable(http.server.SimpleHTTPRequestHandler):
    """Serves the site, but sends the English data page in two parts, half a second apart, split
    in the middle of its field table: as a slow connection or phone does, Chromium paints the
    first rows before the others arrive."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/en/data/":
            return super().do_GET()
        html = (Path(self.directory) / "en" / "data" / "index.html").read_bytes()
        split = html.index(b"<tr>", html.index(b"<tbody>")) + 1
        split = html.index(b"<tr>", split) + 1  # after the first two rows: the longer ones come later
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(html[:split - 1])
        self.wfile.flush()
        time.sleep(0.5)
        self.wfile.write(html[split - 1:])


def test_rows_that_arrive_after_the_first_paint_move_nothing(browser, built_site):
    """The data page's table, painted before its later rows arrive, keeps its columns when they do.
    (With widths taken from all the rows, they moved the first ones: 0.009 here, and 0.011 in a
    CI run, where the machine was slow enough to paint early by itself.)"""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_SlowTable, directory=str(built_site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context, tab = context_for(browser, DESKTOP)
    try:
        tab.goto(f"http://127.0.0.1:{server.server_address[1]}/en/data/", wait_until="load")
        result = tab.evaluate(LAYOUT_SHIFT, 100)
        painted_early = tab.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
        loaded = tab.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd")
        assert painted_early < loaded, "the page was not painted before all of it arrived: the test shows nothing"
        assert result["total"] < 0.001, result  # nothing at all: the whole page's budget is 0.01
    finally:
        context.close()
        server.shutdown()
        server.server_close()
