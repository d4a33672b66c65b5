"""Stage 3, the other outputs: search data, open data (JSON, CSV), sitemap and robots.txt.
Each returns bytes; everything from content is escaped for the format it goes into."""
from __future__ import annotations

import csv
import html
import io
import re
from functools import lru_cache

import msgspec

from .model import Language, Site
from .text import activity_label

_TAG = re.compile(r"<[^>]+>")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@lru_cache(maxsize=None)  # serve rebuilds: the same bodies come back every time
def plain_text(fragment: str) -> str:
    """Rendered Markdown as plain text, for search and excerpts."""
    return html.unescape(_TAG.sub("", fragment)).strip()


def _json(data) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable and small). "</" is escaped so the JSON is also
    safe should anyone ever inline it in a <script> element."""
    return msgspec.json.encode(data).replace(b"</", b"<\\/")


def search_data(site: Site, lang: Language) -> bytes:
    """What the activities page searches, for one language: small, and loaded on first use."""
    code = lang.code
    return _json({
        "agencies": [{"slug": a.slug, "name": a.name[code], "full_name": a.full_name[code]} for a in site.agencies],
        "topics": {t.id: t.label[code] for t in site.topics},
        "activities": [
            {"number": act.number, "label": activity_label(act.number, lang.numerals), "agency": act.agency.number - 1,
             "topics": [t.id for t in act.topics], "title": act.title[code],
             "text": plain_text(act.html[code])}
            for act in site.activities
        ],
    })


def open_data_json(site: Site) -> bytes:
    """/data/activities.json: every activity with its agency and topics, in every language."""
    config = site.config
    return _json({
        "title": config.title, "source": config.source, "licence": config.licence,
        "languages": [lang.code for lang in site.languages],
        "activities": [
            {"number": act.number,
             "agency": {"number": act.agency.number, "slug": act.agency.slug,
                        "name": act.agency.name, "full_name": act.agency.full_name},
             "topics": [{"id": t.id, "label": t.label} for t in act.topics],
             "title": act.title, "text": act.text}
            for act in site.activities
        ],
    })


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text and never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def open_data_csv(site: Site) -> bytes:
    """/data/activities.csv: one row per activity; UTF-8 with a BOM so spreadsheets show Chinese."""
    codes = [lang.code for lang in site.languages]
    header = ["number", "agency_number", "agency_slug",
              *(f"agency_name_{c}" for c in codes), *(f"agency_full_name_{c}" for c in codes),
              "topics", *(f"title_{c}" for c in codes), *(f"text_{c}" for c in codes)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for act in site.activities:
        agency = act.agency
        writer.writerow([_cell(v) for v in [
            act.number, agency.number, agency.slug,
            *(agency.name[c] for c in codes), *(agency.full_name[c] for c in codes),
            ";".join(t.id for t in act.topics),
            *(act.title[c] for c in codes), *(act.text[c] for c in codes)]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def sitemap(site: Site, pages: list[tuple[str, list[tuple[Language, str]]]]) -> bytes:
    """sitemap.xml with each page's alternates in every language (hreflang)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for _, versions in pages:
        for _, loc in versions:
            lines.append(f"  <url><loc>{html.escape(loc)}</loc>")
            for lang, alt in versions:
                lines.append(f'    <xhtml:link rel="alternate" hreflang="{html.escape(lang.html_lang)}" '
                             f'href="{html.escape(alt)}"/>')
            lines.append("  </url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def robots(sitemap_url: str) -> bytes:
    """robots.txt: everything may be crawled; the sitemap is named when its address is known."""
    text = "User-agent: *\nAllow: /\n"
    return (text + f"Sitemap: {sitemap_url}\n" if sitemap_url else text).encode("utf-8")


_CSS_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:;!?()[]_-")


def _css_string(text: str) -> str:
    """`text` as a double-quoted CSS string, in plain ASCII: every other character (quotes,
    backslashes, newlines, <, Chinese…) as a hex escape, whose closing space CSS consumes."""
    return '"' + "".join(c if c in _CSS_PLAIN else f"\\{ord(c):x} " for c in text) + '"'


def print_css(site: Site, lang: Language) -> bytes:
    """The running title for printed pages of one language, in the top margin of every page
    (CSS cannot read it from the page: Chromium has no string-set). Linked with media=print."""
    title = site.config.title[lang.code]
    return ("/* Printed pages (%s): the running title; made by build.py from site.yaml */\n"
            "@page {\n  @top-center {\n    content: %s;\n"
            "    font-family: system-ui, \"Noto Sans CJK SC\", \"Microsoft YaHei\", sans-serif;\n"
            "    font-size: 9pt; color: #444;\n  }\n}\n"
            % (lang.code, _css_string(title))).encode("ascii")
