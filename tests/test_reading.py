"""Readers first (issue 10), in Chromium: the reading settings (text size in four steps, high
contrast in light and dark), kept across pages and visits and operable by keyboard; read-aloud with
the browser's speech synthesis (a recording fake stands in for it: what is spoken, in which
language, in pieces short enough, and no button where there is no voice); the phone menu; no
control that needs script without it; the open-on-a-phone QR code and copy-link button; the
"report a mistake" link (issue 12); and axe with no violation in every combination of settings.
Layout (header height, search results on the first screen, layout shift): test_layout_shift.py."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
import pytest

from conftest import BASE_URL, LANGS, ROOT, SITE, StaticServer, build_site, lang_prefix

FIRST, LAST = SITE.languages[0].code, SITE.languages[-1].code  # the original, and English
DERIVED = next(lang.code for lang in SITE.languages if lang.derive)  # the Traditional edition
QUERY_FIRST = SITE.activities[0].title[FIRST][:2]
QUERY_LAST = SITE.activities[0].title[LAST].split()[0]
from sitegen.outputs import plain_text, qr_svg
from test_accessibility import AXE_OPTIONS, PAGE_CHECKS, _axe

PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1366, "height": 900}
STRINGS = {key: texts for key, texts in msgspec.structs.asdict(SITE.config.strings).items()}
SIZES = {"normal": 1.0, "large": 1.25, "larger": 1.5, "largest": 1.75}
AGENCY = SITE.agencies[0]  # the agency with the most activities
KINDS = ["", "activities/", f"agencies/{AGENCY.slug}/", "print/", "data/", "changelog/", "404.html"]
LIMIT = 180  # js/read-aloud.js: the longest piece it speaks, in letters, a Han character counting three
MIN_CONTRAST = 12.0


def t(key: str, code: str) -> str:
    return STRINGS[key][code]


# --- A recording stand-in for the browser's speech synthesis --------------------------------------

FAKE_SPEECH = r"""((config) => {
  const spoken = [];
  window.__spoken = spoken;
  window.__cancels = 0;
  window.__speechDelay = 0;
  let list = config.late ? [] : config.voices;  // late: [] until window.__deliverVoices()
  const listeners = [];
  const synth = {
    speaking: false, pending: false, paused: false, onvoiceschanged: null, current: null,
    getVoices() { return list.slice(); },
    speak(u) {
      spoken.push({text: u.text, lang: u.lang, voice: u.voice ? u.voice.lang : null});
      this.current = u; this.speaking = true;
      const end = () => {
        if (this.current !== u) return;
        this.current = null; this.speaking = false;
        if (u.onend) u.onend({});
      };
      if (window.__speechDelay) setTimeout(end, window.__speechDelay);
      else Promise.resolve().then(end);  // at once, but after speak() returns, as a browser would
    },
    cancel() {
      window.__cancels++;
      const u = this.current;
      this.current = null; this.speaking = false;
      if (u && u.onerror) u.onerror({error: 'interrupted'});
    },
    pause() {}, resume() {},
    addEventListener(type, listener) { if (type === 'voiceschanged') listeners.push(listener); },
    removeEventListener() {},
  };
  window.__deliverVoices = () => {
    list = config.voices;
    listeners.forEach((f) => f({}));
    if (synth.onvoiceschanged) synth.onvoiceschanged({});
  };
  function Utterance(text) { this.text = text; this.lang = ''; this.voice = null; this.onend = null; this.onerror = null; }
  if (config.none) {
    delete window.speechSynthesis; delete window.SpeechSynthesisUtterance;
    Object.defineProperty(window, 'speechSynthesis', {value: undefined, configurable: true});
    Object.defineProperty(window, 'SpeechSynthesisUtterance', {value: undefined, configurable: true});
  } else {
    Object.defineProperty(window, 'speechSynthesis', {value: synth, configurable: true});
    Object.defineProperty(window, 'SpeechSynthesisUtterance', {value: Utterance, configurable: true});
  }
})"""

EVERY_VOICE = [{"lang": "zh-CN", "name": "Mandarin"}, {"lang": "zh-TW", "name": "Taiwanese Mandarin"},
               {"lang": "en-US", "name": "English"}]


def new_tab(browser, viewport=PHONE, *, dark=False, js=True, voices=EVERY_VOICE, late=False, no_speech=False,
            settings: dict[str, str] | None = None, clipboard=True):
    """A fresh context and tab; `settings` are put in localStorage before any page runs. The tab
    collects console errors in tab.console_errors."""
    context = browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light",
                                  java_script_enabled=js, reduced_motion="reduce")
    config = {"voices": voices, "late": late, "none": no_speech}
    context.add_init_script(f"{FAKE_SPEECH}({json.dumps(config)});")
    if settings:
        context.add_init_script(f"""(() => {{ const s = {json.dumps(settings)};
            if (!sessionStorage.getItem('qm-test-seeded')) {{
              for (const k in s) localStorage.setItem(k, s[k]);
              sessionStorage.setItem('qm-test-seeded', '1');
            }} }})();""")
    if not clipboard:
        context.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined, configurable: true});")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"{tab.url}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"{tab.url}: {e}"))
    tab.console_errors = errors
    return context, tab


def url(server, code: str, key: str) -> str:
    return server.url + lang_prefix(code) + key


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def weight(text: str) -> int:
    return sum(3 if "\u2e80" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" else 1 for c in text)


# --- Reading settings -----------------------------------------------------------------------

ROOT_SIZE = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def open_settings(tab):
    button = tab.locator("[data-settings-open]")
    button.focus()
    tab.keyboard.press("Enter")
    dialog = tab.get_by_role("dialog")
    dialog.wait_for(state="visible")
    return dialog


def test_text_size_by_keyboard_in_four_steps_kept_across_pages_and_visits(browser, site_server):
    code = DERIVED
    context, tab = new_tab(browser, PHONE)
    try:
        tab.goto(url(site_server, code, f"agencies/{AGENCY.slug}/"))
        base = tab.evaluate(ROOT_SIZE)
        dialog = open_settings(tab)
        assert dialog.get_attribute("aria-labelledby")
        assert dialog.get_by_role("heading", name=t("reading_settings", code)).is_visible()
        group = dialog.locator("fieldset").filter(has_text=t("text_size", code)).first
        assert group.locator("legend").inner_text() == t("text_size", code)
        radios = group.get_by_role("radio")
        assert radios.count() == 4 and radios.nth(0).is_checked()
        assert radios.nth(0).evaluate("r => document.activeElement === r"), "focus starts on the current size"
        seen = []
        for step, (value, factor) in enumerate(SIZES.items()):
            if step:
                tab.keyboard.press("ArrowRight")  # a radio group moves and selects with the arrows
            assert radios.nth(step).is_checked()
            assert (tab.evaluate("() => document.documentElement.dataset.textSize") or "normal") == value
            size = tab.evaluate(ROOT_SIZE)
            assert size == pytest.approx(base * factor, abs=0.5), value
            seen.append(size)
        assert seen[-1] >= 1.5 * seen[0]
        tab.keyboard.press("Escape")
        assert not dialog.is_visible()
        assert tab.evaluate("() => document.activeElement.hasAttribute('data-settings-open')"), "focus goes back"
        # kept on every page of every language, without sideways scrolling at 360 px
        for other in LANGS:
            for key in KINDS:
                tab.goto(url(site_server, other, key))
                assert tab.evaluate("() => document.documentElement.dataset.textSize") == "largest", key
                assert tab.evaluate(ROOT_SIZE) == pytest.approx(base * 1.75, abs=0.5)
                assert tab.evaluate(SIDEWAYS) <= 1, f"{lang_prefix(other)}{key} scrolls sideways at the largest size"
        # and on a new visit; the reset button brings the default back
        visit = context.new_page()
        visit.goto(url(site_server, code, ""))
        assert visit.evaluate("() => document.documentElement.dataset.textSize") == "largest"
        dialog = open_settings(visit)
        assert dialog.locator("input[name=text-size][value=largest]").is_checked()
        visit.locator("[data-settings-reset]").click()
        assert visit.evaluate("() => document.documentElement.dataset.textSize") is None
        assert dialog.locator("input[name=text-size][value=normal]").is_checked()
        visit.locator("[data-settings-close]").click()
        assert not dialog.is_visible()
        assert visit.evaluate("() => localStorage.getItem('qm-text-size')") is None
        assert tab.console_errors == []
    finally:
        context.close()


def test_no_sideways_scrolling_at_the_other_text_sizes(browser, site_server):
    """Every page kind at 360 px in the three other sizes (the largest: above), in turn in each language."""
    context, tab = new_tab(browser, PHONE)
    problems = []
    try:
        for value in ("normal", "large", "larger"):
            tab.goto(url(site_server, FIRST, "404.html"))
            tab.evaluate(f"() => localStorage.setItem('qm-text-size', '{value}')")
            for index, key in enumerate(KINDS):
                code = list(LANGS)[index % len(LANGS)]
                tab.goto(url(site_server, code, key))
                wide = tab.evaluate(SIDEWAYS)
                if wide > 1:
                    problems.append(f"{value}: {lang_prefix(code)}{key} scrolls {wide} px sideways")
        assert not problems, problems
        assert tab.console_errors == []
    finally:
        context.close()


# Every text on the page and its background: the contrast ratio, and those under the minimum.
CONTRAST = r"""(minimum) => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[,\s/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    if (!layers.length || layers[layers.length - 1][3] < 1) bg = parse(getComputedStyle(document.documentElement).backgroundColor) || bg;
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const ratio = (fg, bg) => { const a = lum(over(fg, bg)), b = lum(bg); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  const describe = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '')
    + ' "' + (el.textContent || el.placeholder || '').trim().slice(0, 30) + '"';
  const open = document.querySelector('dialog[open]');
  const bad = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    if (open && !open.contains(el)) continue;  // behind the dialog's backdrop
    if (el.closest('svg, [hidden]') || !el.checkVisibility({visibilityProperty: true})) continue;
    const style = getComputedStyle(el);
    const texts = [];
    if ([...el.childNodes].some((n) => n.nodeType === 3 && n.nodeValue.trim())) texts.push(style.color);
    const before = getComputedStyle(el, '::before').content;
    if (/^".+"$/.test(before)) texts.push(getComputedStyle(el, '::before').color);
    if ((el.tagName === 'INPUT' || el.tagName === 'SELECT') && el.type !== 'radio') texts.push(style.color);
    if (el.placeholder && !el.value) texts.push(getComputedStyle(el, '::placeholder').color);
    if (!texts.length) continue;
    const bg = background(el);
    for (const color of texts) {
      checked++;
      const value = ratio(parse(color), bg);
      if (value < minimum) bad.push(`${value.toFixed(2)}:1 ${describe(el)} (${color} on rgb(${bg.slice(0, 3).map(Math.round)}))`);
    }
  }
  return {checked, bad};
}"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_high_contrast_makes_every_text_at_least_12_to_1(browser, site_server, dark):
    context, tab = new_tab(browser, PHONE, dark=dark)
    problems, checked = [], 0
    try:
        tab.goto(url(site_server, FIRST, ""))
        open_settings(tab)
        tab.get_by_role("radio", name=t("contrast_high", FIRST)).check()
        assert tab.evaluate("() => document.documentElement.dataset.contrast") == "high"
        result = tab.evaluate(CONTRAST, MIN_CONTRAST)  # the dialog itself
        checked += result["checked"]
        problems += ["dialog: " + p for p in result["bad"]]
        tab.keyboard.press("Escape")
        pages = [(list(LANGS)[index % len(LANGS)], key) for index, key in enumerate(KINDS)]
        pages += [(FIRST, "activities/?q=" + QUERY_FIRST), (LAST, "activities/?q=" + QUERY_LAST)]
        for code, key in pages:
            tab.goto(url(site_server, code, key))
            if "?q=" in key:
                tab.wait_for_selector("#search-results mark")
            if key == "":
                tab.click("[data-menu-toggle]")  # the open menu
            result = tab.evaluate(CONTRAST, MIN_CONTRAST)
            checked += result["checked"]
            problems += [f"{lang_prefix(code)}{key}: {p}" for p in result["bad"]]
        assert checked > 500
        assert not problems, f"{len(problems)} texts under {MIN_CONTRAST}:1:\n" + "\n".join(problems[:25])
        # and the standard theme is not high contrast (the check can fail)
        tab.evaluate("() => localStorage.removeItem('qm-contrast')")
        tab.goto(url(site_server, FIRST, ""))
        assert tab.evaluate(CONTRAST, MIN_CONTRAST)["bad"]
        assert tab.console_errors == []
    finally:
        context.close()


def test_settings_follow_another_tab_and_survive_blocked_storage(browser, site_server):
    context, tab = new_tab(browser, DESKTOP)
    try:
        tab.goto(url(site_server, LAST, "data/"))
        other = context.new_page()
        other.goto(url(site_server, LAST, ""))
        open_settings(other)
        other.get_by_role("radio", name=t("contrast_high", LAST)).check()
        tab.wait_for_function("() => document.documentElement.dataset.contrast === 'high'")
    finally:
        context.close()
    context = browser.new_context()
    context.add_init_script("Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('blocked', 'SecurityError'); }});")
    try:
        tab = context.new_page()
        errors = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(url(site_server, FIRST, ""))
        open_settings(tab)
        tab.get_by_role("radio", name=t("text_larger", FIRST)).check()
        assert tab.evaluate("() => document.documentElement.dataset.textSize") == "larger"  # for this page
        assert errors == []
    finally:
        context.close()


# --- Read aloud -----------------------------------------------------------------------------

def spoken(tab) -> list[dict]:
    return tab.evaluate("() => window.__spoken")


def wait_until_done(tab, button):
    tab.wait_for_function("(b) => !b.classList.contains('is-speaking')", arg=button.element_handle())


@pytest.mark.parametrize("code", list(LANGS))
def test_read_aloud_speaks_each_activity_in_the_pages_language_in_short_pieces(browser, site_server, code):
    speech = LANGS[code].speech
    context, tab = new_tab(browser, PHONE)
    try:
        tab.goto(url(site_server, code, f"agencies/{AGENCY.slug}/"))
        assert tab.evaluate("() => document.body.dataset.speech") == speech
        buttons = tab.locator(".activity button[data-read]")
        assert buttons.count() == len(AGENCY.activities)
        # the longest text of the agency, and one more
        longest = max(AGENCY.activities, key=lambda a: weight(plain_text(a.html[code])))
        for activity in (AGENCY.activities[0], longest):
            tab.evaluate("() => { window.__spoken.length = 0; }")
            button = tab.locator(f"#activity-{activity.number} button[data-read]")
            assert button.is_visible()
            assert button.get_attribute("aria-describedby") == f"activity-{activity.number}-title"
            button.click()
            wait_until_done(tab, button)
            pieces = spoken(tab)
            heading = tab.locator(f"#activity-{activity.number}-title").inner_text()
            expected = squeeze(heading + plain_text(activity.html[code]))
            assert squeeze("".join(p["text"] for p in pieces)) == expected
            assert {p["lang"] for p in pieces} == {speech}
            assert {p["voice"] for p in pieces} == {next(v["lang"] for v in EVERY_VOICE if v["lang"].startswith(speech))}
            assert all(weight(p["text"]) <= LIMIT for p in pieces), [p["text"] for p in pieces]
            assert squeeze(pieces[0]["text"]) == squeeze(heading), "the title is spoken on its own"
            if weight(expected) > LIMIT:
                assert len(pieces) > 2
        assert tab.console_errors == []
    finally:
        context.close()


def test_read_aloud_stops_and_reads_the_whole_page(browser, site_server):
    code = FIRST
    context, tab = new_tab(browser, DESKTOP)
    try:
        tab.goto(url(site_server, code, f"agencies/{AGENCY.slug}/"))
        tab.evaluate("() => { window.__speechDelay = 60000; }")  # each piece 'takes' a minute
        first = tab.locator(f"#activity-{AGENCY.activities[0].number} button[data-read]")
        first.click()
        assert "is-speaking" in first.get_attribute("class")
        assert tab.locator(f"#activity-{AGENCY.activities[0].number}").evaluate("a => a.classList.contains('is-reading')")
        assert first.inner_text().strip() == t("stop_reading", code)  # the label says what a press does
        width = first.bounding_box()["width"]
        cancels = tab.evaluate("() => window.__cancels")
        first.click()  # stop
        assert "is-speaking" not in first.get_attribute("class")
        assert first.inner_text().strip() == t("read_aloud", code)
        assert first.bounding_box()["width"] == width, "the button keeps its width"
        assert tab.evaluate("() => window.__cancels") > cancels
        assert len(spoken(tab)) == 1
        # another button takes over; Escape stops
        second = tab.locator(f"#activity-{AGENCY.activities[1].number} button[data-read]")
        first.click()
        second.click()
        assert "is-speaking" not in first.get_attribute("class") and "is-speaking" in second.get_attribute("class")
        tab.keyboard.press("Escape")
        assert "is-speaking" not in second.get_attribute("class")
        # the whole page: the heading, then every activity, without the buttons, tags or pager
        tab.evaluate("() => { window.__speechDelay = 0; window.__spoken.length = 0; }")
        page_button = tab.locator(".page-tools button[data-read]")
        assert page_button.inner_text().strip() == t("read_page", code)
        page_button.click()
        wait_until_done(tab, page_button)
        text = squeeze("".join(p["text"] for p in spoken(tab)))
        assert text.startswith(squeeze(tab.locator("h1").inner_text()))
        position = 0
        for activity in AGENCY.activities:
            found = text.find(squeeze(plain_text(activity.html[code])), position)
            assert found > position, f"activity {activity.number} not read, or out of order"
            position = found
        for word in ("read_aloud", "stop_reading", "report_mistake", "breadcrumbs", "home"):
            assert t(word, code) not in text
        assert all(weight(p["text"]) <= LIMIT for p in spoken(tab))
        assert tab.console_errors == []
    finally:
        context.close()


def test_every_page_can_be_read_aloud(browser, site_server):
    context, tab = new_tab(browser, PHONE)
    try:
        for index, key in enumerate(KINDS):
            code = list(LANGS)[index % len(LANGS)]
            tab.goto(url(site_server, code, key))
            tab.evaluate("() => { window.__spoken.length = 0; }")
            button = tab.locator(".page-tools button[data-read]")
            button.click()
            wait_until_done(tab, button)
            pieces = spoken(tab)
            assert pieces and {p["lang"] for p in pieces} == {LANGS[code].speech}, key
            assert squeeze(pieces[0]["text"]) == squeeze(tab.locator("h1").inner_text()), key
        assert tab.console_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("case", ["no voices", "another language", "no speech at all", "voices arrive late"])
def test_read_aloud_shows_only_where_there_is_a_voice(browser, site_server, case):
    voices = {"no voices": [], "another language": [{"lang": "en-GB", "name": "English"}],
              "no speech at all": [], "voices arrive late": EVERY_VOICE}[case]
    context, tab = new_tab(browser, PHONE, voices=voices, late=case in ("voices arrive late", "another language"),
                           no_speech=case == "no speech at all")
    visible = "() => [...document.querySelectorAll('button[data-read]')].filter(b => b.checkVisibility({visibilityProperty: true})).length"
    try:
        for code in (FIRST, DERIVED):
            tab.goto(url(site_server, code, f"agencies/{AGENCY.slug}/"))
            assert tab.locator("button[data-read]").count() == len(AGENCY.activities) + 1
            assert tab.evaluate(visible) == 0, case  # none without a voice (yet)
            if case in ("voices arrive late", "another language"):
                tab.evaluate("() => window.__deliverVoices()")
            if case == "voices arrive late":
                assert tab.evaluate(visible) == len(AGENCY.activities) + 1
            else:
                assert tab.evaluate(visible) == 0, case
        if case == "another language":
            tab.goto(url(site_server, LAST, f"agencies/{AGENCY.slug}/"))
            tab.evaluate("() => window.__deliverVoices()")
            assert tab.locator(".page-tools button[data-read]").is_visible()
        if case == "no speech at all":
            display = tab.evaluate("() => getComputedStyle(document.querySelector('button[data-read]')).display")
            assert display == "none"
        assert tab.console_errors == []
    finally:
        context.close()


def test_a_voice_found_before_shows_the_buttons_at_once_until_the_voices_say_otherwise(browser, site_server):
    """js/site.js remembers whether this language had a voice: the buttons then show from the first
    paint, before the voices arrive, and hide once the list is known to lack one."""
    lang = LANGS[FIRST].html_lang
    context, tab = new_tab(browser, PHONE, voices=[], late=True, settings={f"qm-voice:{lang}": "1"})
    try:
        tab.goto(url(site_server, FIRST, f"agencies/{AGENCY.slug}/"))
        assert tab.evaluate("() => document.documentElement.classList.contains('voices')")
        assert tab.locator(".page-tools button[data-read]").is_visible()
        tab.evaluate("() => window.__deliverVoices()")  # the list is complete: no voice for zh-CN
        assert not tab.locator(".page-tools button[data-read]").is_visible()
        assert tab.evaluate(f"() => localStorage.getItem('qm-voice:{lang}')") == "0"
    finally:
        context.close()


# --- The menu, and no dead controls without script -------------------------------------------

NEEDS_SCRIPT = "[data-settings-open], [data-menu-toggle], [data-filters-toggle], button[data-read], [data-copy], [data-print]"


def test_the_menu_folds_the_navigation_on_a_phone_and_desktop_shows_everything(browser, site_server):
    for viewport in (PHONE, DESKTOP):
        context, tab = new_tab(browser, viewport)
        try:
            for code in LANGS:
                tab.goto(url(site_server, code, "data/"))
                nav = tab.locator("nav#main-nav")
                assert nav.get_attribute("aria-label") == t("main_nav", code)
                menu = tab.get_by_role("button", name=t("menu", code))
                assert tab.get_by_role("navigation", name=t("language", code)).is_visible()
                assert tab.get_by_role("button", name=t("reading_settings", code)).is_visible()
                assert tab.locator("#header-q").is_visible()
                if viewport is DESKTOP:
                    assert nav.is_visible() and not menu.is_visible()
                    continue
                assert not nav.is_visible() and menu.get_attribute("aria-expanded") == "false"
                assert menu.get_attribute("aria-controls") == nav.get_attribute("id")
                menu.focus()
                tab.keyboard.press("Enter")
                assert nav.is_visible() and menu.get_attribute("aria-expanded") == "true"
                assert nav.get_by_role("link").count() == 4
                tab.keyboard.press("Tab")  # the menu comes right after its button
                assert tab.evaluate("() => document.activeElement.closest('#main-nav') !== null")
                menu.click()
                assert not nav.is_visible()
            assert tab.console_errors == []
        finally:
            context.close()


def test_without_script_nothing_that_needs_it_shows_and_the_pages_are_whole(browser, site_server):
    context, tab = new_tab(browser, PHONE, js=False)
    try:
        for index, key in enumerate(KINDS):
            code = list(LANGS)[index % len(LANGS)]
            tab.goto(url(site_server, code, key))
            shown = tab.locator(NEEDS_SCRIPT).evaluate_all(
                "els => els.filter(e => e.checkVisibility({visibilityProperty: true})).map(e => e.outerHTML.slice(0, 80))")
            assert shown == [], f"{lang_prefix(code)}{key}: {shown}"
            assert tab.locator("form[role=search]:visible").count() == 0
            assert tab.get_by_role("navigation", name=t("main_nav", code)).is_visible()
            assert tab.get_by_role("navigation", name=t("main_nav", code)).get_by_role("link").count() == 4
            assert tab.get_by_role("navigation", name=t("language", code)).is_visible()
        for code in LANGS:
            tab.goto(url(site_server, code, "activities/?q=电梯"))
            assert tab.locator("#all-activities .index-list__item").count() == len(SITE.activities)
            assert tab.locator("#all-activities").is_visible()
    finally:
        context.close()


# --- Open on a phone (with a base URL) ----------------------------------------------------------

@pytest.fixture(scope="module")
def base_server(built_site_with_base):
    server = StaticServer(built_site_with_base)
    yield server
    server.close()


def page_file(site, code: str, key: str):
    return site / lang_prefix(code) / (key if key.endswith(".html") else key + "index.html")


def test_each_page_offers_its_own_address_as_a_qr_code(built_site, built_site_with_base):
    for code in LANGS:
        for key in KINDS:
            without = page_file(built_site, code, key).read_text("utf-8")
            assert 'class="handoff' not in without and "<svg" not in without  # no base URL: nothing
            document = page_file(built_site_with_base, code, key).read_text("utf-8")
            if key == "404.html":  # not a page to go back to
                assert 'class="handoff' not in document
                continue
            handoff = re.search(r'<details class="handoff">.*?</details>', document, re.S)
            assert handoff, f"{lang_prefix(code)}{key}"
            address = BASE_URL + lang_prefix(code) + key
            assert str(qr_svg(address)) in handoff[0]  # segno's code of this page's own address
            assert f'<p class="handoff__url">{address}</p>' in handoff[0]
            assert f'data-copy="{address}"' in handoff[0]


def test_the_qr_code_opens_over_the_page_on_a_desktop_decodes_and_copies(browser, base_server):
    decoder = None
    try:
        import zxingcpp as decoder
    except ImportError:
        if os.environ.get("CI"):
            raise
    context, tab = new_tab(browser, DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        for code, key in ((FIRST, ""), (DERIVED, f"agencies/{AGENCY.slug}/"), (LAST, "print/")):
            tab.goto(url(base_server, code, key))
            handoff = tab.locator("details.handoff")
            address = BASE_URL + lang_prefix(code) + key
            summary = handoff.locator("summary")
            assert summary.inner_text().strip() == t("open_on_phone", code)
            assert not handoff.locator("svg").is_visible()  # out of the way until asked for
            box = tab.locator("main").bounding_box()
            summary.click()
            assert handoff.locator("svg").is_visible()
            assert tab.locator("main").bounding_box() == box, "the panel opens over the page"
            if decoder and code == DERIVED:  # one is enough: each is segno's code (above), as printed
                png = handoff.locator("svg").screenshot()
                assert read_qr(browser, decoder, png) == [address]
            handoff.get_by_role("button", name=t("copy_link", code)).click()
            tab.wait_for_function("(t) => document.querySelector('.handoff [role=status]').textContent === t",
                                  arg=t("link_copied", code))
            assert tab.evaluate("() => navigator.clipboard.readText()") == address
            summary.click()
            assert not handoff.locator("svg").is_visible()
        assert tab.console_errors == []
    finally:
        context.close()
    # on a phone it would be the phone itself: not shown
    context, tab = new_tab(browser, PHONE)
    try:
        tab.goto(url(base_server, FIRST, "data/"))
        assert not tab.locator("details.handoff").is_visible()
    finally:
        context.close()


def test_the_copy_button_hides_where_the_clipboard_is_missing(browser, base_server):
    context, tab = new_tab(browser, DESKTOP, clipboard=False)
    try:
        tab.goto(url(base_server, LAST, "data/"))
        tab.locator("details.handoff summary").click()
        assert tab.locator("details.handoff svg").is_visible()
        assert not tab.locator("[data-copy]").is_visible()
    finally:
        context.close()


def read_qr(browser, decoder, png: bytes) -> list[str]:
    from test_print import _grey_pixels

    width, height, grey = _grey_pixels(browser, png)
    return [r.text for r in decoder.read_barcodes(memoryview(grey).cast("B", (height, width)))]


# --- Report a mistake (issue 12) -------------------------------------------------------------

@pytest.fixture(scope="module")
def corrections_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corrections")
    content = folder / "content"
    shutil.copytree(ROOT / "content", content)
    site_yaml = content / "site.yaml"
    text = site_yaml.read_text("utf-8")
    assert '\ncorrections: ""\n' in text
    site_yaml.write_text(text.replace('\ncorrections: ""\n', '\ncorrections: "mailto:fix@example.org"\n'), "utf-8")
    build_site(content, folder / "site", base_url=BASE_URL)
    server = StaticServer(folder / "site")
    server.root = folder / "site"
    yield server
    server.close()


REPORT_LINK = re.compile(r'<a class="report-link" href="([^"]+)" aria-describedby="([^"]+)">([^<]+)</a>')


def test_every_activity_has_a_report_a_mistake_link_when_an_address_is_set(browser, corrections_site, built_site):
    site = corrections_site.root
    for code in LANGS:
        for agency in SITE.agencies:
            document = page_file(site, code, f"agencies/{agency.slug}/").read_text("utf-8")
            articles = re.findall(r'<article class="activity" id="activity-(\d+)".*?</article>', document, re.S)
            blocks = re.split(r'<article class="activity" ', document)[1:]
            assert [int(n) for n in articles] == [a.number for a in agency.activities]
            for activity, block in zip(agency.activities, blocks):
                links = REPORT_LINK.findall(block[:block.index("</article>")])
                assert len(links) == 1, (agency.slug, activity.number)
                href, describedby, text = links[0]
                assert html.unescape(text) == t("report_mistake", code)
                assert describedby == f"activity-{activity.number}-title"
                parts = urlsplit(html.unescape(href))
                assert parts.scheme == "mailto" and parts.path == "fix@example.org"
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                assert activity.title[code] in query["subject"]
                address = f"{BASE_URL}{lang_prefix(code)}agencies/{agency.slug}/#activity-{activity.number}"
                assert address in unquote(query["body"])
            assert "report-link" not in page_file(built_site, code, f"agencies/{agency.slug}/").read_text("utf-8")
    # small, beside the read-aloud button, on screen only
    context, tab = new_tab(browser, PHONE)
    try:
        tab.goto(url(corrections_site, LAST, f"agencies/{AGENCY.slug}/"))
        link = tab.locator(f"#activity-{AGENCY.activities[0].number} a.report-link")
        assert link.is_visible()
        assert link.get_attribute("href").startswith("mailto:fix@example.org?subject=")
        tab.emulate_media(media="print")
        assert not link.is_visible()
        assert tab.console_errors == []
    finally:
        context.close()


# --- axe in every combination of settings ------------------------------------------------------

COMBINATIONS = [(size, contrast, dark) for size in SIZES for contrast in ("normal", "high") for dark in (False, True)]


def test_axe_finds_nothing_in_any_combination_of_settings(browser, site_server):
    """Each of the 16 combinations (4 text sizes × standard or high contrast × light or dark), each
    on another page and language, at phone or desktop width in turn, with read-aloud shown and, on a
    phone, the menu open; and the settings dialog open in one of them. (test_accessibility.py runs
    every page in the standard settings, and samples in dark mode and the largest text.)"""
    pages = [(code, key) for key in KINDS for code in LANGS]
    pages[pages.index((DERIVED, "activities/"))] = (DERIVED, "activities/?q=质量")  # results with marks
    found = []
    context, tab = new_tab(browser, PHONE)
    try:
        tab.goto(url(site_server, FIRST, "404.html"))  # a page, for its localStorage
        for number, (size, contrast, dark) in enumerate(COMBINATIONS):
            viewport = PHONE if number % 2 == 0 else DESKTOP
            code, key = pages[(number * 4) % len(pages)]
            tab.set_viewport_size(viewport)
            tab.emulate_media(color_scheme="dark" if dark else "light")
            tab.evaluate("(s) => { localStorage.setItem('qm-text-size', s[0]); localStorage.setItem('qm-contrast', s[1]); }",
                         [size, contrast])
            tab.goto(url(site_server, code, key))
            if "?q=" in key:
                tab.wait_for_selector("#search-results mark")
            if viewport is PHONE:
                tab.click("[data-menu-toggle]")
            tab.wait_for_selector("html.voices", state="attached")
            where = f"{size}/{contrast}/{'dark' if dark else 'light'}/{viewport['width']}: {lang_prefix(code)}{key}"
            assert (tab.evaluate("() => document.documentElement.dataset.textSize") or "normal") == size
            assert (tab.evaluate("() => document.documentElement.dataset.contrast") or "normal") == contrast
            found += [f"{where}: {problem}" for problem in axe_problems(tab) + tab.evaluate(PAGE_CHECKS)]
            if number == 5:  # and the dialog open
                open_settings(tab)
                found += [f"{where} (settings open): {p}" for p in axe_problems(tab)]
        assert tab.console_errors == [], tab.console_errors[:3]
    finally:
        context.close()
    assert not found, f"{len(found)} problems:\n" + "\n".join(found[:30])


def axe_problems(tab) -> list[str]:
    results = _axe.run(tab, options=AXE_OPTIONS)
    return [f"axe {v['id']}: {node['target']} — {node.get('failureSummary', '')[:200]}"
            for v in results.response["violations"] for node in v["nodes"]]
