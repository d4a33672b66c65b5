"""Sharing (issue 13, part 2): every page says how it should look when a link to it is pasted into a
chat or social app — Open Graph and Twitter card tags, a share image per language of the right
size, PNG icons, an apple-touch-icon and a web app manifest."""
from __future__ import annotations

import json
import re
import struct
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest

from conftest import BASE_URL, LANGS, ROOT, SITE

sys.path.insert(0, str(ROOT / "scripts"))


class Head(HTMLParser):
    """The <meta> and <link> tags of a page, and its <html lang>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict] = []
        self.lang = ""

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = attrs.get("lang", "")
        elif tag == "meta" and ("property" in attrs or "name" in attrs):
            self.meta.setdefault(attrs.get("property") or attrs["name"], []).append(attrs.get("content", ""))
        elif tag == "link":
            self.links.append(attrs)


def head_of(path: Path) -> Head:
    parser = Head()
    parser.feed(path.read_text("utf-8"))
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (no imaging library needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def language_of(head: Head):
    return next(lang for lang in LANGS.values() if lang.html_lang == head.lang)


def test_every_page_has_share_metadata_with_an_image_of_the_right_size(built_site_with_base):
    site = built_site_with_base
    images: dict[str, tuple[int, int]] = {}
    descriptions: dict[str, set[str]] = {}
    for path in pages(site):
        head = head_of(path)
        lang = language_of(head)
        meta = {key: values[0] for key, values in head.meta.items()}
        where = path.relative_to(site).as_posix()
        for key in ("og:type", "og:site_name", "og:title", "og:description", "og:locale", "og:image",
                    "og:image:width", "og:image:height", "og:image:alt", "twitter:card"):
            assert meta.get(key, "").strip(), f"{where}: no {key}"
        assert meta["og:locale"] == lang.locale
        assert sorted(head.meta["og:locale:alternate"]) == sorted(o.locale for o in LANGS.values() if o != lang)
        assert meta["og:description"] == meta["description"] and meta["og:title"] in path.read_text("utf-8")
        assert meta["twitter:card"] == "summary_large_image"
        if path.name == "404.html":
            assert "og:url" not in meta, "a missing page has no address of its own"
        else:
            expected = BASE_URL + where.removesuffix("index.html")
            assert meta["og:url"] == expected, where
        image = meta["og:image"]
        assert image.startswith(BASE_URL), f"{where}: the image address must be absolute"
        if image not in images:
            file = site / image[len(BASE_URL):]
            assert file.is_file(), image
            images[image] = png_size(file.read_bytes())
        assert images[image] == (int(meta["og:image:width"]), int(meta["og:image:height"])) == (1200, 630)
        descriptions.setdefault(lang.code, set()).add(meta["og:description"])
    assert len(images) == len(LANGS), "one share image per language"
    for code, found in descriptions.items():  # per page, not one text for five pages
        assert len(found) >= len(SITE.agencies) + 5, (code, len(found))


def test_without_a_base_url_no_relative_share_addresses(built_site):
    for path in pages(built_site):
        head = head_of(path)
        assert "og:image" not in head.meta and "og:url" not in head.meta, path
        assert head.meta["twitter:card"] == ["summary"]


def test_icons_and_the_web_app_manifest(built_site):
    home = built_site / "index.html"
    links = {link.get("rel"): link for link in head_of(home).links}
    touch = built_site / links["apple-touch-icon"]["href"]
    assert png_size(touch.read_bytes()) == (180, 180)
    png_icons = [link for link in head_of(home).links if link.get("rel") == "icon" and link.get("type") == "image/png"]
    assert png_icons and png_size((built_site / png_icons[0]["href"]).read_bytes()) == (32, 32)
    for code, lang in LANGS.items():
        page = built_site / (lang.path + "/" if lang.path else "") / "index.html"
        manifest_link = next(link for link in head_of(page).links if link.get("rel") == "manifest")
        manifest_file = (page.parent / manifest_link["href"]).resolve()
        manifest = json.loads(manifest_file.read_text("utf-8"))
        assert manifest["lang"] == lang.html_lang and manifest["name"] == SITE.config.title[code]
        assert manifest["short_name"] == SITE.config.short_title[code]
        assert (manifest_file.parent / manifest["start_url"]).resolve() == page.parent.resolve()
        sizes = {}
        for icon in manifest["icons"]:
            data = (manifest_file.parent / icon["src"]).read_bytes()
            sizes[icon["sizes"]] = png_size(data)
        assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}


def test_the_share_images_are_made_from_the_current_title_and_theme():
    """The images are committed; scripts/share_images.py records what it drew them from. A changed
    title or theme makes this fail until the script is run again."""
    import share_images

    recorded = json.loads((ROOT / "assets" / "share" / "made-from.json").read_text("utf-8"))
    assert recorded == share_images.inputs(), "run: .venv/bin/python scripts/share_images.py"
    for code in LANGS:
        assert png_size((ROOT / "assets" / "share" / f"{code}.png").read_bytes()) == (1200, 630)


def test_a_share_image_shows_chinese_in_a_real_font(browser):
    """Drawn text, not boxes: the Chinese image has many more distinct colours (anti-aliased strokes)
    in the title area than an image of tofu boxes would, and differs between the two Chinese scripts."""
    import base64

    pixels = {}
    for code in [c for c, lang in LANGS.items() if not lang.spaces]:
        data = base64.b64encode((ROOT / "assets" / "share" / f"{code}.png").read_bytes()).decode()
        context = browser.new_context()
        try:
            tab = context.new_page()
            pixels[code] = tab.evaluate("""async (data) => {
                const image = new Image(); image.src = 'data:image/png;base64,' + data; await image.decode();
                const canvas = document.createElement('canvas'); canvas.width = 1200; canvas.height = 630;
                const g = canvas.getContext('2d'); g.drawImage(image, 0, 0);
                const rgba = g.getImageData(80, 220, 1000, 100).data;
                const colours = new Set(); let light = 0;
                for (let i = 0; i < rgba.length; i += 4) { colours.add(rgba[i] + ',' + rgba[i+1] + ',' + rgba[i+2]); if (rgba[i] > 200) light++; }
                return [colours.size, light, Array.from(rgba.slice(0, 40000)).join(',')];
            }""", data)
        finally:
            context.close()
    for code, (colours, light, _) in pixels.items():
        assert colours > 20 and light > 2000, (code, colours, light)
    samples = [sample for _, _, sample in pixels.values()]
    assert len(set(samples)) == len(samples), "the Simplified and Traditional images look the same"
