"""Stage 3, the other outputs: search data, the stylesheets made from site.yaml, sitemap and
robots.txt. Each returns bytes; everything from content is escaped for the format it goes into."""
from __future__ import annotations

import html
import re
from functools import lru_cache, partial

from markupsafe import Markup

from .cache import Store, installed_version
from .model import Language, Site
from .opendata import json_bytes
from .pages import Page, url_path
from .text import activity_label

_TAG = re.compile(r"<[^>]+>")


@lru_cache(maxsize=None)  # serve rebuilds: the same bodies come back every time
def plain_text(fragment: str) -> str:
    """Rendered Markdown as plain text, for search and excerpts."""
    return html.unescape(_TAG.sub("", fragment)).strip()


def search_data(site: Site, lang: Language, fold: dict[str, str], plain=plain_text) -> bytes:
    """What the activities page searches, for one language: small, and loaded on first use.
    `fold` maps characters to the form search compares them in (derive.fold_tables); `plain` makes
    the plain texts (plain_text, or a one-off build's plain_text.__wrapped__, which keeps none)."""
    code = lang.code
    return json_bytes({
        "agencies": [{"slug": a.slug, "name": a.name[code], "full_name": a.full_name[code]} for a in site.agencies],
        "topics": {t.id: t.label[code] for t in site.topics},
        "activities": [
            {"number": act.number, "label": activity_label(act.number, lang.numerals), "agency": act.agency.number - 1,
             "topics": [t.id for t in act.topics], "title": act.title[code],
             "text": plain(act.html[code])}
            for act in site.activities
        ],
        "fold": fold,
    })


def web_manifest(site: Site, lang: Language, assets: dict[str, str]) -> bytes:
    """<language>/manifest.webmanifest: the name, colours and icons a phone uses when a reader adds
    the site to the home screen; it opens on that language's home page."""
    from .render import relative

    here = url_path("", lang)
    icons = [{"src": relative(here, assets[f"icons/{name}.png"]), "sizes": size, "type": "image/png"}
             for name, size in (("icon-192", "192x192"), ("icon-512", "512x512"))]
    return json_bytes({"name": site.config.title[lang.code], "short_name": site.config.short_title[lang.code],
                       "description": site.config.description[lang.code], "lang": lang.html_lang,
                       "start_url": "./", "scope": "./", "display": "browser",
                       "background_color": "#ffffff", "theme_color": "#133761", "icons": icons})


def content_security_policy(site: Site) -> str:
    """The pages' Content-Security-Policy: nothing but the site's own files (and images from the
    hosts site.yaml allows), no inline script or style. Pages carry it as a <meta> tag."""
    images = "".join(f" https://{host}" for host in site.config.allowed_image_hosts)
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'" + images + "; "
            "font-src 'self'; connect-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'")


def host_headers(site: Site) -> bytes:
    """_headers, read by Netlify and Cloudflare Pages when site/ is served from a host's root:
    the pages' security policy as real headers (with what only a header can say: no framing), a
    year of caching for fingerprinted assets, and the CSV's type. (For nginx: hosting/nginx.conf.)"""
    policy = content_security_policy(site) + "; frame-ancestors 'none'"
    # Both hosts merge the headers of every rule that matches, so each header is set by one rule
    # only; HTML keeps their default (revalidated on every visit).
    immutable = "".join(f"/assets/{folder}\n  Cache-Control: public, max-age=31536000, immutable\n"
                        for folder in ("css/*", "js/*", "vendor/*", "search-*"))
    return (f"/*\n  Content-Security-Policy: {policy}\n  X-Content-Type-Options: nosniff\n"
            "  Referrer-Policy: strict-origin-when-cross-origin\n" + immutable +
            "/data/*.csv\n  Content-Type: text/csv; charset=utf-8\n").encode("utf-8")


def crawler_files(site: Site, pages: list[Page], base_url: str) -> dict[str, bytes]:
    """What hosts and crawlers read: robots.txt (only read at a host's root), _headers (Netlify,
    Cloudflare Pages), and sitemap.xml when the site's address is known: crawlers need absolute
    addresses, and a sitemap without them is invalid."""
    files = {"robots.txt": robots(base_url + "sitemap.xml" if base_url else ""), "_headers": host_headers(site)}
    if base_url:
        files["sitemap.xml"] = sitemap(site, pages, base_url)
    return files


def sitemap(site: Site, pages: list[Page], base_url: str) -> bytes:
    """sitemap.xml with each page's alternates in every language (hreflang)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for page in pages:
        if not page.kind.in_sitemap:
            continue
        versions = [(lang, base_url + page.url_path(lang)) for lang in site.languages]
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


QR_ERROR = "m"  # error correction: 15% of the code may be lost
QR_STYLE = {"scale": 3, "border": 4, "dark": "#000", "omitsize": True, "svgclass": "qr"}


def qr_svg(url: str) -> str:
    """A QR code of an address, as inline SVG; made at build time, nothing fetched."""
    import segno

    return segno.make(url, error=QR_ERROR).svg_inline(**QR_STYLE)


def segno_version() -> str:
    """The installed segno's version (without importing it): its QR codes are kept in the cache."""
    return installed_version("segno", "segno")


class QrCodes:
    """The templates' qr(address): a QR code made once per address and style and kept in the cache
    (segno takes 8 ms a code: 0.8 s for the real content's 96 pages). A one-off build makes those
    of the pages it renders beforehand (make), so that its rendering processes share them."""

    def __init__(self, store: Store):
        self.store = store
        self.made: dict[str, Markup] = {}  # this build's codes: kept when the build lets the store go (forget)
        self.style = repr((QR_ERROR, sorted(QR_STYLE.items())))  # the cache is keyed by all a code is made from

    def __call__(self, address: str) -> Markup:
        if address not in self.made:
            self.made[address] = Markup(self.store.get(f"{address} {self.style}", partial(qr_svg, address)))
        return self.made[address]

    def make(self, addresses: list[str]) -> None:
        """Make (or take from the cache) the codes of these addresses now."""
        for address in addresses:
            self(address)


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
            "@page {\n  @top-center {\n    content: %s;\n    font-family: %s;\n"
            "    font-size: 9pt; color: #444;\n  }\n}\n"
            % (lang.code, _css_string(title), _css_fonts(site.fonts(lang).screen))).encode("ascii")


def _css_fonts(stack: str) -> str:
    """A font stack from site.yaml as CSS: each family quoted as a CSS string, generic names as is."""
    generic = {"serif", "sans-serif", "monospace", "system-ui", "cursive", "fantasy", "ui-serif",
               "ui-sans-serif", "-apple-system"}
    names = [name.strip().strip('"\'') for name in stack.split(",") if name.strip()]
    return ", ".join(name if name in generic else _css_string(name) for name in names)


def languages_css(site: Site) -> bytes:
    """Each language's fonts (by its script in site.yaml), for whole pages and for mixed-language
    spans (the language switch, a Chinese name on an English page)."""
    rules = ["/* The fonts of each language, by its script; made by build.py from site.yaml */"]
    for lang in site.languages:
        fonts = site.fonts(lang)
        selector = f":lang({_css_ident(lang.html_lang)})"
        rules.append(f"{selector} {{ --font-body: {_css_fonts(fonts.screen)}; "
                     f"--font-print: {_css_fonts(fonts.print)}; "
                     f"letter-spacing: {_css_ident(fonts.letter_spacing)}; }}")
    return ("\n".join(rules) + "\n").encode("ascii")


def _css_ident(value: str) -> str:
    """A language tag or a length as CSS: letters, digits, hyphens and dots only, or nothing."""
    return value if re.fullmatch(r"[A-Za-z0-9.-]+", value) else "normal"
