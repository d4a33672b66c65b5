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
CACHE = ROOT / ".cache"  # parsed content, converted Markdown, compiled templates: reused across runs
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
    env = env or render.make_environment(templates, CACHE / "jinja")
    renderer = render.Renderer(env, site, names, base_url, {"qr": qr_svg}, page_cache)
    pages = render.site_pages(site)
    for page in pages:
        for lang in site.languages:
            files[page.output_path(lang)] = renderer.render(page, lang)
    files["sitemap.xml"] = outputs.sitemap(site, sitemap_entries(pages, site, renderer.base_url))
    files["robots.txt"] = outputs.robots(renderer.base_url + "sitemap.xml" if renderer.base_url else "")
    return files


def sitemap_entries(pages, site, base_url: str):
    """Each listed page with its address in every language (404 is not listed). Crawlers need
    absolute addresses; without a base URL they are relative to the sitemap, as a fallback."""
    prefix = base_url or "./"
    return [(page.key, [(lang, prefix + page.url_path(lang)) for lang in site.languages])
            for page in pages if page.key != "404.html"]


def qr_svg(url: str):
    """A QR code for a printed page, as inline SVG; made at build time, nothing fetched."""
    import segno
    from markupsafe import Markup

    code = segno.make(url, error="m")
    return Markup(code.svg_inline(scale=3, border=4, dark="#000", omitsize=True, svgclass="qr"))


def build(content: Path, out: Path, base_url: str | None = None,
          templates: Path = DEFAULTS["templates"], assets: Path = DEFAULTS["assets"]):
    """Load, validate, render and write; raises ContentError and leaves `out` untouched on a mistake.
    Returns the site model and the files written."""
    from sitegen.load import ParseCache
    from sitegen.render import MarkdownCache
    from sitegen.validate import load_site
    from sitegen.write import write_site

    parsed = ParseCache(CACHE / "content.msgpack")
    site = load_site(content, parsed.entries)
    markdown = MarkdownCache(CACHE)
    files = render_site(site, templates, assets, base_url if base_url is not None else site.config.base_url,
                        markdown_cache=markdown.entries)
    write_site(files, out)
    parsed.save(set(site.stamps))
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
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="build", choices=list(COMMANDS),
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
    if problem := unsafe_output(args.out, args.content):
        parser.error(f"--out {args.out}: {problem}")
    return args


def unsafe_output(out: Path, content: Path) -> str:
    """Why replacing `out` could destroy something that is not a built site ('' when it is safe).
    A build replaces the whole output folder, so it must never be the project or a source."""
    out = out.resolve()
    sources = [ROOT, content.resolve(), DEFAULTS["templates"], DEFAULTS["assets"]]
    if any(out == source or out in source.parents or source in out.parents for source in sources[1:]) \
            or out == ROOT or out in ROOT.parents:
        return "would replace the project or its sources; choose a folder of its own, e.g. site/"
    if out.is_file():
        return "is a file; expected a folder"
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file():
        return "is not empty and holds no index.html: refusing to replace a folder that is not a built site"
    return ""


def check(args) -> int:
    """Validate only."""
    from sitegen.validate import load_site

    site = load_site(args.content)
    print(f"content is valid: {len(site.agencies)} agencies, {len(site.activities)} activities")
    return 0


def schema(args) -> int:
    """Write the JSON Schemas that editors' IDEs use, generated from the model."""
    from sitegen.model import SCHEMAS, json_schema

    folder = args.content / "schema"
    folder.mkdir(exist_ok=True)
    for name, kind in SCHEMAS.items():
        (folder / name).write_bytes(json_schema(kind))
    print(f"wrote {len(SCHEMAS)} schemas to {folder}")
    return 0


def serve(args) -> int:
    """Build, serve and rebuild on every save."""
    from sitegen.serve import serve as serve_forever

    return serve_forever(args, DEFAULTS["templates"], DEFAULTS["assets"], render_site)


def build_once(args) -> int:
    """Build site/ and print the summary line."""
    started = time.perf_counter()
    gc.disable()  # one short-lived build allocates much and frees little: skip collection
    site, files = build(args.content, args.out, args.base_url)
    print(summary(files, site.languages, time.perf_counter() - started))
    return 0


COMMANDS = {"build": build_once, "serve": serve, "check": check, "schema": schema}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sitegen.errors import ContentError

    try:
        return COMMANDS[args.command](args)
    except ContentError as err:
        print(err.report(), file=sys.stderr)
        return 1
    except OSError as err:  # e.g. the output folder cannot be written
        print(f"build.py: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
