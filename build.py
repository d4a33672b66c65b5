#!/usr/bin/env python3
"""Build the bilingual Quality Month site from content/ into site/.

  python build.py            build site/ (the last good site stays if the content has an error)
  python build.py serve      build, serve on 127.0.0.1 and rebuild + reload the browser on every save
  python build.py check      validate content/ only
  python build.py schema     regenerate the JSON Schemas in content/schema/ from the model

Exit status: 0 success, 1 content error, 2 usage error."""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"  # compiled templates, reused across runs (keyed by template source)
DEFAULTS = {"content": ROOT / "content", "out": ROOT / "site",
            "templates": ROOT / "templates", "assets": ROOT / "assets"}


def render_site(site, templates: Path, assets: Path, base_url: str,
                env=None, markdown_cache: dict | None = None, page_cache=None) -> dict[str, bytes]:
    """Every file of the site by its path inside site/: the recipe, one line per kind of output.

    serve passes a long-lived Jinja environment, Markdown cache and page cache, so a rebuild
    renders only the pages an edit touches."""
    from sitegen import outputs, render, write

    render.convert_markdown(site, markdown_cache)
    names, files = write.fingerprinted_assets(assets)
    for lang in site.languages:
        write.add_fingerprinted(names, files, f"search-{lang.code}.json", outputs.search_data(site, lang))
        write.add_fingerprinted(names, files, f"css/print-{lang.code}.css", outputs.print_css(site, lang))
    files["data/activities.json"] = outputs.open_data_json(site)
    files["data/activities.csv"] = outputs.open_data_csv(site)
    renderer = render.Renderer(env or render.make_environment(templates, CACHE / "jinja"), site, names, base_url, {"qr": qr_svg}, page_cache)
    pages = render.site_pages(site)
    for page in pages:
        for lang in site.languages:
            files[page.output_path(lang)] = renderer.render(page, lang)
    files["sitemap.xml"] = outputs.sitemap(site, sitemap_entries(pages, site, renderer.base_url))
    files["robots.txt"] = outputs.robots(renderer.base_url + "sitemap.xml" if renderer.base_url else "")
    return files


def sitemap_entries(pages, site, base_url: str):
    """Each listed page with its address in every language (404 is not listed)."""
    return [(page.key, [(lang, base_url + page.url_path(lang)) for lang in site.languages])
            for page in pages if page.key != "404.html"]


def qr_svg(url: str):
    """A QR code for a printed page, as inline SVG; made at build time, nothing fetched."""
    import segno
    from markupsafe import Markup

    return Markup(segno.make(url, error="m").svg_inline(scale=3, border=4, dark="#000", omitsize=True, svgclass="qr"))


def build(content: Path, out: Path, base_url: str | None = None,
          templates: Path = DEFAULTS["templates"], assets: Path = DEFAULTS["assets"]):
    """Load, validate, render and write; raises ContentError and leaves `out` untouched on a mistake.
    Returns the site model and the files written."""
    from sitegen.validate import load_site
    from sitegen.write import write_site

    from sitegen.render import MarkdownCache

    site = load_site(content)
    markdown = MarkdownCache(CACHE)
    files = render_site(site, templates, assets, base_url if base_url is not None else site.config.base_url,
                        markdown_cache=markdown.entries)
    write_site(files, out)
    markdown.save(site)
    return site, files


def summary(files: dict[str, bytes], languages, seconds: float) -> str:
    """The one line a build prints: pages per language, files, time."""
    pages = [name for name in files if name.endswith(".html")]
    per_language = {lang.code: 0 for lang in languages}
    for name in pages:
        first = name.split("/", 1)[0]
        code = next((lang.code for lang in languages if lang.path and lang.path == first), languages[0].code)
        per_language[code] += 1
    counts = ", ".join(f"{n} {code}" for code, n in per_language.items())
    return f"built {len(pages)} pages ({counts}), {len(files)} files in {seconds * 1000:.0f} ms"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="build.py", description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 success, 1 content error, 2 usage error.")
    parser.add_argument("command", nargs="?", default="build", choices=["build", "serve", "check", "schema"],
                        help="what to do (default: build)")
    parser.add_argument("--content", type=Path, default=DEFAULTS["content"], help="content folder (default: content/)")
    parser.add_argument("--out", type=Path, default=DEFAULTS["out"], help="output folder (default: site/)")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="where the site is published, e.g. https://example.org/quality/ "
                             "(absolute canonical links, sitemap addresses, QR codes); overrides site.yaml")
    parser.add_argument("--port", type=int, default=8000, help="port for serve (default: 8000)")
    args = parser.parse_args(argv)
    if args.base_url and not args.base_url.startswith(("http://", "https://")):
        parser.error(f"--base-url must start with http:// or https://, got {args.base_url!r}")
    if not args.content.is_dir():
        parser.error(f"--content {args.content}: no such folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sitegen.errors import ContentError

    started = time.perf_counter()
    try:
        if args.command == "check":
            from sitegen.validate import load_site
            site = load_site(args.content)
            print(f"content is valid: {len(site.agencies)} agencies, {len(site.activities)} activities")
        elif args.command == "schema":
            from sitegen.model import SCHEMAS, json_schema
            for name, kind in SCHEMAS.items():
                (args.content / "schema").mkdir(exist_ok=True)
                (args.content / "schema" / name).write_bytes(json_schema(kind))
            print(f"wrote {len(SCHEMAS)} schemas to {args.content / 'schema'}")
        elif args.command == "serve":
            from sitegen.serve import serve
            return serve(args, DEFAULTS["templates"], DEFAULTS["assets"], render_site)
        else:
            gc.disable()  # one short-lived build allocates much and frees little: skip collection
            site, files = build(args.content, args.out, args.base_url)
            print(summary(files, site.languages, time.perf_counter() - started))
    except ContentError as err:
        print(err.report(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
