#!/usr/bin/env python3
"""Make the share images (assets/share/<language>.png, 1200×630, for link previews in chat and
social apps) and the PNG icons (assets/icons/) from the site's own title, theme and favicon.

  .venv/bin/python scripts/share_images.py          write them (and assets/share/made-from.json)
  .venv/bin/python scripts/share_images.py --check  exit 1 if they are out of date

Chromium draws them (the same browser the tests use: /usr/bin/chromium, or $CHROMIUM), so Chinese
is set with a real CJK font from the system (fonts-wqy-microhei on Debian) and nothing is drawn by
hand. The images are committed: a build never needs a browser. made-from.json records what they
were made from; tests/test_sharing.py fails when the title or theme has changed since."""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARE, ICONS = ROOT / "assets" / "share", ROOT / "assets" / "icons"
RECORD = SHARE / "made-from.json"
WIDTH, HEIGHT = 1200, 630
ICON_SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180, "icon-32.png": 32}
VERSION = 3  # raise when the drawing below changes, so the images are made again
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--font-render-hinting=none"]


def inputs() -> dict:
    """What the images are made from: every language's title, theme and fonts, and the favicon."""
    from sitegen.pipeline import Builder, Project

    site = Builder(Project()).model()
    return {"version": VERSION, "favicon": (ROOT / "assets" / "favicon.svg").read_text("utf-8"),
            "languages": {lang.code: {"title": site.config.title[lang.code], "theme": site.config.theme[lang.code],
                                      "held": site.config.held[lang.code],
                                      "short_title": site.config.short_title[lang.code], "lang": lang.html_lang,
                                      "fonts": site.fonts(lang).screen}
                          for lang in site.languages}}


def card(language: dict, favicon: str) -> str:
    """The share image as a page: the brand colours of the site, the title and the theme."""
    e = html.escape
    return f"""<!doctype html><html lang="{e(language['lang'])}"><head><meta charset="utf-8"><style>
html, body {{ margin: 0; width: {WIDTH}px; height: {HEIGHT}px; overflow: hidden; }}
body {{ font-family: {e(language['fonts'])}; background: #133761; color: #fff; box-sizing: border-box;
  border-top: 18px solid #a4262c; padding: 70px 80px; display: flex; flex-direction: column; gap: 34px; }}
.mark {{ width: 96px; height: 96px; border-radius: 18px; box-shadow: 0 0 0 5px #fff; }}
h1 {{ font-size: 58px; line-height: 1.25; margin: 0; font-weight: 700; letter-spacing: 0.01em; }}
p {{ font-size: 40px; line-height: 1.35; margin: 0; color: #ffe58a; font-weight: 700; }}
.about {{ margin-top: auto; font-size: 32px; line-height: 1.45; color: #dfe8f5; font-weight: 400; }}
</style></head><body><img class="mark" alt="" src="data:image/svg+xml,{e(favicon.replace('#', '%23'))}">
<h1>{e(language['title'])}</h1><p>“{e(language['theme'])}”</p>
<p class="about">{e(language['held'])}</p></body></html>"""


def make(record: dict) -> None:
    from playwright.sync_api import sync_playwright

    SHARE.mkdir(parents=True, exist_ok=True)
    ICONS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
        for code, language in record["languages"].items():
            page.set_content(card(language, record["favicon"]))
            page.evaluate("document.fonts.ready")
            page.screenshot(path=str(SHARE / f"{code}.png"))
            print(f"wrote {SHARE.relative_to(ROOT)}/{code}.png")
        for name, size in ICON_SIZES.items():
            page.set_viewport_size({"width": size, "height": size})
            page.set_content(f'<body style="margin:0"><img style="display:block;width:{size}px;height:{size}px" '
                             f'src="data:image/svg+xml,{record["favicon"].replace("#", "%23")}"></body>')
            page.screenshot(path=str(ICONS / name))
            print(f"wrote {ICONS.relative_to(ROOT)}/{name}")
        browser.close()
    RECORD.write_text(json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the images are up to date")
    args = parser.parse_args()
    record = inputs()
    current = json.loads(RECORD.read_text("utf-8")) if RECORD.exists() else None
    if args.check:
        if current != record:
            print("the share images are out of date: run scripts/share_images.py", file=sys.stderr)
            return 1
        print("the share images are up to date")
        return 0
    make(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
