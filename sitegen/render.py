"""Stage 3, render: the Site through the Jinja templates into pages, one set per language.
Every link is relative, so the site works under any sub-path of any static server."""
from __future__ import annotations

import importlib.util
import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2
import msgspec
from markupsafe import Markup

from .errors import ContentError, Problem
from .model import Language, Site
from .text import activity_label, agency_label


@dataclass(frozen=True)
class Page:
    """One page in every language: a language-neutral key ('agencies/x/') and its template."""

    key: str
    template: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def output_path(self, lang: Language) -> str:
        """Where the page is written inside site/: a folder with index.html, or a named file."""
        path = self.url_path(lang)
        return path + "index.html" if path.endswith("/") or not path else path

    def url_path(self, lang: Language) -> str:
        return (lang.path + "/" if lang.path else "") + self.key


def site_pages(site: Site) -> list[Page]:
    """Every page of the site, in the order of the recipe: home, agencies, index, print, data, 404."""
    agencies = site.agencies
    return [
        Page("", "home.html"),
        *(Page(f"agencies/{agency.slug}/", "agency.html",
               {"agency": agency,
                "previous": agencies[i - 1] if i > 0 else None,
                "next": agencies[i + 1] if i + 1 < len(agencies) else None})
          for i, agency in enumerate(agencies)),
        Page("activities/", "activities.html"),
        Page("print/", "print.html"),
        Page("data/", "data.html"),
        Page("404.html", "404.html"),
    ]


def relative(from_dir: str, target: str) -> str:
    """A relative link from a page's folder ('en/agencies/x/') to a path inside site/ ('' is the
    root; a trailing slash means a folder). Pure string work: called thousands of times a build."""
    here = [part for part in from_dir.split("/") if part]
    there = target.split("/")
    folder, name = [part for part in there[:-1] if part], there[-1]
    common = 0
    while common < min(len(here), len(folder)) and here[common] == folder[common]:
        common += 1
    parts = [".."] * (len(here) - common) + folder[common:]
    link = "/".join(parts + [name]) if name else "/".join(parts) + "/" if parts else "./"
    return link


def make_environment(templates: Path, cache_dir: Path | None = None) -> jinja2.Environment:
    """Jinja with autoescaping everywhere and undefined names as errors, not blank text."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_bytecode_cache(cache_dir),
    )
    env.filters["activity_label"] = activity_label
    env.filters["agency_label"] = agency_label
    return env


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """Compiled templates on disk: a build skips compiling templates that did not change."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only checkout still builds, just a little slower
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


class Renderer:
    """Renders pages for one build: knows the site, its assets and its base URL."""

    def __init__(self, env: jinja2.Environment, site: Site, assets: dict[str, str], base_url: str,
                 extras: dict[str, Any] | None = None, page_cache: PageCache | None = None):
        self.env, self.site, self.assets = env, site, assets
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.extras = extras or {}
        words = msgspec.structs.asdict(site.config.strings)
        self.strings = {lang.code: {key: texts[lang.code] for key, texts in words.items()} for lang in site.languages}
        self.page_cache = page_cache
        if page_cache is not None:
            self._shared_inputs = page_cache.shared_inputs(site, base_url)

    def render(self, page: Page, lang: Language) -> bytes:
        """One page in one language, or the same bytes as last time when serve's page cache
        shows that nothing the page is made from has changed."""
        if self.page_cache is None:
            return self._render(page, lang)
        inputs = (self._shared_inputs, tuple(self.site.stamps.get(f) for f in page_sources(page, self.site)))
        cached = self.page_cache.pages.get((page.key, lang.code))
        if cached and cached[0] == inputs:
            return cached[1]
        html = self._render(page, lang)
        self.page_cache.pages[(page.key, lang.code)] = (inputs, html)
        return html

    def _render(self, page: Page, lang: Language) -> bytes:
        """One page in one language; a template mistake is reported like a content mistake."""
        try:
            template = self.env.get_template(page.template)
            return template.render(self.context(page, lang)).encode("utf-8")
        except jinja2.TemplateSyntaxError as err:
            raise ContentError([Problem(err.filename or err.name or page.template, err.message or "", err.lineno)]) from None
        except jinja2.TemplateError as err:
            raise ContentError([Problem(str(Path(self.env.loader.searchpath[0]) / page.template),
                                        f"while rendering {page.url_path(lang) or '/'}: {err}")]) from None

    def context(self, page: Page, lang: Language) -> dict[str, Any]:
        here = page.url_path(lang)
        here_dir = here if here.endswith("/") or not here else posixpath.dirname(here) + "/"
        strings = self.strings[lang.code]

        # The 404 page is served for missing addresses at any depth, where relative links would
        # break: it links absolutely when the site's address is known.
        absolute_links = bool(self.base_url) and page.key == "404.html"

        def link(target: str) -> str:
            return self.base_url + target if absolute_links else relative(here_dir, target)

        def url(key: str, language: Language = lang) -> str:
            return link(Page(key, "").url_path(language))

        def absolute(key: str, language: Language = lang) -> str:
            return self.base_url + Page(key, "").url_path(language) if self.base_url else ""

        return {
            "site": self.site, "config": self.site.config, "lang": lang, "code": lang.code,
            "languages": self.site.languages, "page": page, "t": strings,
            "url": url, "absolute": absolute, "asset": lambda name: link(self.assets[name]),
            "root": link(""), "base_url": self.base_url,
            "count": _counter(strings), **self.extras, **page.context,
        }


def page_sources(page: Page, site: Site) -> list[str]:
    """The agency files a page is made from: an agency page shows its own and its neighbours'
    names; the other pages (home, index, print…) show every agency."""
    if "agency" in page.context:
        shown = [page.context["agency"], page.context["previous"], page.context["next"]]
        return [agency.source_file for agency in shown if agency is not None]
    return [agency.source_file for agency in site.agencies]


class PageCache:
    """serve's rendered pages, each kept with the stamps of what it was made from: its agency
    files (page_sources), the other content files, the templates and the assets. Generated
    assets such as the search data follow from those, so they need no stamp of their own."""

    def __init__(self, templates: Path, assets: Path):
        self.folders = (templates, assets)
        self.pages: dict[tuple[str, str], tuple[tuple, bytes]] = {}

    def shared_inputs(self, site: Site, base_url: str) -> tuple:
        agency_files = {agency.source_file for agency in site.agencies}
        content = sorted((f, stamp) for f, stamp in site.stamps.items() if f not in agency_files)
        return tuple(content), tuple(_folder_stamps(folder) for folder in self.folders), base_url


def _folder_stamps(folder: Path) -> tuple:
    """(path, mtime, size) of every file below a folder."""
    stamps = []
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _counter(strings: dict[str, str]) -> Callable[[int], str]:
    def count(n: int) -> str:
        return strings["activity_count_one"] if n == 1 else strings["activity_count"].replace("{n}", str(n))
    return count


def markdown_converter() -> Callable[[str], Markup]:
    """CommonMark without raw HTML (so content cannot inject markup); unsafe link schemes dropped."""
    from markdown_it import MarkdownIt  # imported here: only builds that render need it

    md = MarkdownIt("commonmark", {"html": False})
    return lambda text: Markup(md.render(text))


def convert_markdown(site: Site, cache: dict[str, str] | None = None) -> None:
    """Convert every activity body once; the pages that show it reuse the HTML. `cache` maps
    Markdown to HTML across builds; the converter is only loaded when something is new."""
    cache = {} if cache is None else cache
    convert = None
    for activity in site.activities:
        for code, text in activity.text.items():
            if text not in cache:
                convert = convert or markdown_converter()
                cache[text] = convert(text)
            activity.html[code] = Markup(cache[text])


class MarkdownCache:
    """Converted Markdown kept on disk between runs (in .cache/), tied to the converter's version,
    and pruned to the texts of the latest build."""

    def __init__(self, folder: Path):
        self.path = folder / f"markdown-{_markdown_it_version()}.json"
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            self.entries = {}
        self.loaded = dict(self.entries)

    def save(self, site: Site) -> None:
        used = {text for activity in site.activities for text in activity.text.values()}
        current = {text: str(self.entries[text]) for text in used if text in self.entries}
        if current == self.loaded:
            return
        from .write import replace_file

        replace_file(self.path, json.dumps(current, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def _markdown_it_version() -> str:
    """The installed markdown-it-py's version, read from its dist-info folder name (no import)."""
    spec = importlib.util.find_spec("markdown_it")
    if spec and spec.origin:
        for info in Path(spec.origin).parent.parent.glob("markdown_it_py-*.dist-info"):
            return info.name[len("markdown_it_py-"):-len(".dist-info")]
    return "unknown"
