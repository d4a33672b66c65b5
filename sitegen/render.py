"""Stage 3, render: the Site through the Jinja templates into pages, one set per language.
Every link is relative (the 404 page's from the site's root), so the site works under any
sub-path of any static server. What a template may use is listed in docs/templates.md."""
from __future__ import annotations

import functools
import itertools
import posixpath
import re
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote, urlencode, urlsplit

import msgspec
from markupsafe import Markup

from .cache import Store, digest, installed_version
from .errors import ContentError, Problem, problem
from .load import format_field, line_of, links_out
from .model import Language, Site
from .pages import LanguageInputs, Page, in_language, navigation, url_path
from .text import activity_label, activity_range, agency_label, format_date

if TYPE_CHECKING:  # Jinja is imported when a page is first rendered: a build that renders none skips it
    import jinja2

_IMAGE = re.compile(r'<img src="([^"]*)"')


@functools.lru_cache(maxsize=8192)  # 30 links a page, most of them the same from every page in a folder
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


def check_templates(folder: Path) -> None:
    """A template that is a link out of templates/ is a content error: nothing outside the project
    is ever read."""
    if outside := links_out(folder):
        raise ContentError(outside)


def templates_digest(folder: Path) -> str:
    """A fingerprint of every template: pages are rendered again, and compiled templates reloaded,
    only when it changes."""
    return digest(repr(sorted((str(p), p.read_bytes()) for p in folder.rglob("*") if p.is_file())).encode("utf-8"))


def make_environment(templates: Path, cache_dir: Path | None = None) -> jinja2.Environment:
    """Jinja with autoescaping everywhere and undefined names as errors, not blank text."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        auto_reload=False,  # no stat() per include: the pipeline reloads when templates_digest changes
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_bytecode_cache(cache_dir),
    )
    env.filters["activity_label"] = activity_label
    env.filters["agency_label"] = agency_label
    env.filters["activity_range"] = activity_range
    env.filters["date"] = lambda day, lang: format_date(day, lang.date_format)
    return env


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """Compiled templates on disk: a build skips compiling templates that did not change."""
    import jinja2

    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only checkout still builds, just a little slower
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


class Words(dict):
    """A language's interface words, as templates read them: t.word or t[key]. Each word is also an
    attribute, because Jinja looks `t.word` up as an attribute first: on a plain dict that fails
    with an exception, forty times a page (6–8% of the rendering time)."""

    def __init__(self, words: dict[str, str]):
        super().__init__(words)
        self.__dict__.update(words)


class Renderer:
    """Renders the pages of one build: knows the site, its assets, its base URL and its templates.

    With a page store (serve keeps one), a page whose inputs are unchanged is not rendered again:
    its inputs are the templates, the base URL, the content files every page uses, what the agency
    files the page declares (Page.agencies) give its language, what else it shows (Page.shows),
    and the asset names it looked up last time."""

    def __init__(self, make_env: Callable[[], jinja2.Environment], site: Site, assets: dict[str, str],
                 base_url: str, extras: dict[str, Any] | None = None, pages: Store | None = None,
                 templates: str = "", inputs: LanguageInputs | None = None):
        self._make_env, self.site, self.assets = make_env, site, assets
        self.inputs = inputs or LanguageInputs(site)
        self.base_url = base_url  # with its final slash (pipeline.with_slash), or ''

        self.root_path = urlsplit(self.base_url).path or "/"
        self.extras = extras or {}
        words = msgspec.structs.asdict(site.config.strings)
        self.strings = {lang.code: Words({key: texts[lang.code] for key, texts in words.items()})
                        for lang in site.languages}
        self.store = pages
        self.shared = self._shared_fingerprint(templates)
        self.used: dict[str, dict[str, str]] = {}  # without a page store: each page's asset names, by path
        # partials shared by pages (_furniture), by (name, language, any depth): (html, links, assets)
        self._furnished: dict[tuple[str, str, bool], list[tuple[Markup, dict[str, str], dict[str, str]]]] = {}

    def _shared_fingerprint(self, templates: str) -> str:
        return digest(repr((self.site.shared_sources(), templates, self.base_url)).encode("utf-8"))

    def render(self, page: Page, lang: Language) -> bytes:
        """One page in one language, from the page store when nothing it is made from has changed."""
        if self.store is None:
            used = self.used[page.output_path(lang)] = {}
            return self._render(page, lang, used)
        key = self.fingerprint(page, lang)
        entry = self.store.get(key, lambda: None)
        if entry and all(self.assets.get(name) == target for name, target in entry[0].items()):
            return entry[1]
        used: dict[str, str] = {}
        html = self._render(page, lang, used)
        self.store.entries[key] = (used, html)
        return html

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        """The Jinja environment, asked for when the first page is rendered."""
        return self._make_env()

    def load_templates(self) -> None:
        """Import Jinja and load every template now, before the rendering processes are forked, so
        that they share them instead of each importing and loading its own (70 ms of CPU in all,
        real content, two processes)."""
        for name in self.env.list_templates():
            try:
                self.env.get_template(name)
            except Exception:  # noqa: BLE001 (a mistake is reported by the page that uses the template, at its line)
                pass

    def fingerprint(self, page: Page, lang: Language, *more) -> str:
        """A fingerprint of what a page is made from (besides the assets it names): the templates,
        the base URL, the content files every page uses, and of the agency files it declares and
        what else it shows (Page.shows) what its language shows: an edit to the English renders
        only English pages."""
        agencies = [self.inputs(agency, lang.code) for agency in page.agencies]
        shows = in_language(page.shows, lang.code)
        return digest(repr((self.shared, page.key, lang.code, agencies, shows, *more)).encode("utf-8"))

    def _render(self, page: Page, lang: Language, used_assets: dict[str, str]) -> bytes:
        """One page in one language; a template mistake is reported like a content mistake, at the
        template and line where it happened."""
        import jinja2

        try:
            template = self.env.get_template(page.template)
            return _utf8(template.generate(self.context(page, lang, used_assets)))
        except jinja2.TemplateSyntaxError as err:
            where = err.filename or str(Path(self.env.loader.searchpath[0]) / (err.name or page.template))
            raise ContentError([problem(where, "template_syntax", err.lineno, detail=err.message or "")]) from None
        except Exception as err:  # noqa: BLE001 (any mistake in a template: undefined names, wrong types)
            where, line = self._template_frame(err, page)
            raise ContentError([problem(where, "template_error", line, page="/" + page.url_path(lang),
                                        detail=str(err))]) from None

    def _template_frame(self, err: Exception, page: Page) -> tuple[str, int | None]:
        """The innermost template file and line in the error's traceback (Jinja rewrites its frames
        to point at templates), or the page's own template."""
        folder = str(Path(self.env.loader.searchpath[0]).resolve())
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if f.filename and str(Path(f.filename).resolve()).startswith(folder)]
        if frames:
            return frames[-1].filename, frames[-1].lineno
        return str(Path(self.env.loader.searchpath[0]) / page.template), None

    def context(self, page: Page, lang: Language, used_assets: dict[str, str] | None = None) -> dict[str, Any]:
        """What a page's template gets (docs/templates.md): the names every page has, the page, and
        what its kind adds (Page.context). `used_assets` collects the asset names it looks up."""
        here = page.url_path(lang)
        folder = here if here.endswith("/") or not here else posixpath.dirname(here) + "/"
        used = used_assets if used_assets is not None else {}
        furniture = functools.partial(self._furniture, lang, folder, page.kind.any_depth, used)
        return {**self._common(lang, folder, page.kind.any_depth, used), "page": page, "furniture": furniture,
                **page.context}

    def _common(self, lang: Language, folder: str, any_depth: bool, used: dict[str, str],
                links: dict[str, str] | None = None) -> dict[str, Any]:
        """The names every page has, for a page in this language and folder; `links` records each
        link made ({path in site/: link})."""
        strings = self.strings[lang.code]

        def link(target: str) -> str:
            href = self._link(folder, any_depth, target)
            if links is not None:
                links[target] = href
            return href

        def url(key: str, language: Language = lang) -> str:
            return link(url_path(key, language))

        def absolute(key: str, language: Language = lang) -> str:
            return self.base_url + url_path(key, language) if self.base_url else ""

        def asset_path(name: str) -> str:
            used[name] = self.assets[name]
            return self.assets[name]

        def asset(name: str) -> str:
            return link(asset_path(name))

        def share_image() -> str:
            """This language's share image (assets/share/<code>.png, from scripts/share_images.py),
            else its source language's; '' when there is none (a language added since)."""
            for candidate in (lang.code, lang.derive.source if lang.derive else lang.code):
                if f"share/{candidate}.png" in self.assets:
                    return asset_path(f"share/{candidate}.png")
            return ""

        def report_link(activity) -> str:
            """Where a reader reports a mistake in an activity, filled in with its number, title and
            address ('' when site.yaml names no corrections address)."""
            address = absolute(f"agencies/{activity.agency.slug}/", lang) or "/" + url_path(
                f"agencies/{activity.agency.slug}/", lang)
            return corrections_link(self.site.config.corrections, strings, activity_label(activity.number, lang.numerals),
                                    activity.title[lang.code], f"{address}#activity-{activity.number}")

        return {
            "site": self.site, "config": self.site.config, "lang": lang, "code": lang.code,
            "languages": self.site.languages, "original": self.site.languages[0], "t": strings,
            "url": url, "absolute": absolute, "asset": asset, "asset_path": asset_path, "share_image": share_image,
            "root": link(""),
            "base_url": self.base_url,
            "nav": navigation, "count": _counter(strings), "report_link": report_link,
            **self.extras,
        }

    def _furniture(self, lang: Language, folder: str, any_depth: bool, used: dict[str, str], name: str) -> Markup:
        """A partial that is the same on every page of a language that makes the same links, such
        as the footer: rendered once for all of them, not once a page (a quarter of a small page's
        rendering). It gets the names every page has but not `page`, so a partial that needs the
        page fails loudly instead of being shared where it should differ."""
        made = self._furnished.setdefault((name, lang.code, any_depth), [])
        for html, links, assets in made:
            if all(self._link(folder, any_depth, target) == href for target, href in links.items()):
                used.update(assets)
                return html
        links, assets = {}, {}
        html = Markup(self.env.get_template(name).render(self._common(lang, folder, any_depth, assets, links)))
        made.append((html, links, assets))
        used.update(assets)
        return html

    def _link(self, folder: str, any_depth: bool, target: str) -> str:
        """A link to a path inside site/ from a page in `folder`. The 404 page is served for missing
        addresses at any depth: it links from the site's root (the base URL's path, or / when it
        is not known), on whatever host serves it."""
        return self.root_path + target if any_depth else relative(folder, target)


def _utf8(pieces: Iterator[str], batch: int = 4096) -> bytes:
    """A page's pieces as UTF-8, joined a few thousand at a time: the print version of 10,000
    activities has half a million, which joined all at once take 42 MB besides the page's 8 MB,
    and two processes may be doing it at the same time."""
    chunks = []
    while run := list(itertools.islice(pieces, batch)):
        chunks.append("".join(run).encode("utf-8"))
    return b"".join(chunks)


def page_makers(renderer: Renderer, pages: list[Page], languages: list[Language]) -> dict[str, Callable[[], bytes]]:
    """Every page in every language, by its path in site/, rendered when asked (parallel.make_files).
    The pages made from the most agency files come first: those that list every activity take
    longest, and the processes share the work out best when the last pages they take are short."""
    longest_first = sorted(pages, key=lambda page: -len(page.agencies))
    return {page.output_path(lang): functools.partial(renderer.render, page, lang)
            for page in longest_first for lang in languages}


def corrections_link(address: str, strings: dict[str, str], label: str, title: str, page: str) -> str:
    """A mailto: link with subject and body, or the form's address with the same as parameters."""
    if not address:
        return ""
    subject = strings["report_subject"].replace("{label}", label).replace("{title}", title)
    body = strings["report_body"].replace("{address}", page)
    if address.startswith("mailto:"):
        return f"{address}?subject={quote(subject)}&body={quote(body)}"
    separator = "&" if "?" in address else "?"
    return f"{address}{separator}{urlencode({'subject': subject, 'page': page})}"


def _counter(strings: dict[str, str]) -> Callable[[int], str]:
    def count(n: int) -> str:
        return strings["activity_count_one"] if n == 1 else strings["activity_count"].replace("{n}", str(n))
    return count


def markdown_converter() -> Callable[[str], str]:
    """CommonMark without raw HTML (so content cannot inject markup); unsafe link schemes dropped."""
    from markdown_it import MarkdownIt  # imported here: only builds with new texts need it

    md = MarkdownIt("commonmark", {"html": False})
    return md.render


def convert_markdown(site: Site, store: Store | None = None) -> None:
    """Convert every activity body once (the pages that show it reuse the HTML), from the Markdown
    store when the text was converted before. An image from another host is a content error."""
    store = store if store is not None else Store(None, "markdown")
    convert: Callable[[str], str] | None = None

    def make(text: str) -> Callable[[], str]:
        def run() -> str:
            nonlocal convert
            convert = convert or markdown_converter()
            return convert(text)
        return run

    problems: list[Problem] = []
    allowed = set(site.config.allowed_image_hosts)
    source_of = {lang.code: (lang.derive.source if lang.derive else lang.code) for lang in site.languages}
    for activity in site.activities:
        for code, text in activity.text.items():
            html = store.get(text, make(text))
            for src in _IMAGE.findall(html):
                host = urlsplit(src).hostname
                if (host or src.startswith("//")) and host not in allowed:
                    path = Path(activity.agency.source_file)
                    field = activity.field + ("text", source_of[code])
                    problems.append(problem(path, "remote_image", line_of(path, field), format_field(field),
                                            host=host or src))
            activity.html[code] = Markup(html)
    if problems:
        raise ContentError(sorted(set(problems), key=str))


def markdown_version() -> str:
    """The installed markdown-it-py's version (without importing it)."""
    return installed_version("markdown_it", "markdown-it-py")
