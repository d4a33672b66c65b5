"""Stage 3, render: the Site through the Jinja templates into pages, one set per language.
Every link is relative (the 404 page's from the site's root), so the site works under any
sub-path of any static server. What a template may use is listed in docs/templates.md."""
from __future__ import annotations

import os
import pickle
import posixpath
import re
import signal
import threading
import traceback
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit

import jinja2
import msgspec
from markupsafe import Markup

from .cache import Store, digest, installed_version
from .errors import ContentError, Problem, problem
from .load import format_field, line_of, links_out
from .model import Language, Site
from .pages import Page, navigation, url_path
from .text import activity_label, activity_range, agency_label, format_date

_IMAGE = re.compile(r'<img src="([^"]*)"')


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
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only checkout still builds, just a little slower
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


class Renderer:
    """Renders the pages of one build: knows the site, its assets, its base URL and its templates.

    With a page store (serve keeps one), a page whose inputs are unchanged is not rendered again:
    its inputs are the templates, the base URL, the content files every page uses, the agency
    files the page declares (Page.agencies), and the asset names it looked up last time."""

    def __init__(self, env: jinja2.Environment, site: Site, assets: dict[str, str], base_url: str,
                 extras: dict[str, Any] | None = None, pages: Store | None = None, templates: str = ""):
        self.env, self.site, self.assets = env, site, assets
        self.base_url = base_url  # with its final slash (pipeline.with_slash), or ''

        self.root_path = urlsplit(self.base_url).path or "/"
        self.extras = extras or {}
        words = msgspec.structs.asdict(site.config.strings)
        self.strings = {lang.code: {key: texts[lang.code] for key, texts in words.items()} for lang in site.languages}
        self.store = pages
        if pages is not None:
            self.shared = self._shared_inputs(templates)

    def _shared_inputs(self, templates: str) -> str:
        agency_files = {agency.source_file for agency in self.site.agencies}
        content = sorted((f, key) for f, key in self.site.sources.items() if f not in agency_files)
        return digest(repr((content, templates, self.base_url)).encode("utf-8"))

    def render(self, page: Page, lang: Language) -> bytes:
        """One page in one language, from the page store when nothing it is made from has changed."""
        if self.store is None:
            return self._render(page, lang, {})
        sources = [self.site.sources.get(agency.source_file) for agency in page.agencies]
        key = digest(repr((self.shared, page.key, lang.code, sources)).encode("utf-8"))
        entry = self.store.get(key, lambda: None)
        if entry and all(self.assets.get(name) == target for name, target in entry[0].items()):
            return entry[1]
        used: dict[str, str] = {}
        html = self._render(page, lang, used)
        self.store.entries[key] = (used, html)
        return html

    def _render(self, page: Page, lang: Language, used_assets: dict[str, str]) -> bytes:
        """One page in one language; a template mistake is reported like a content mistake, at the
        template and line where it happened."""
        try:
            template = self.env.get_template(page.template)
            return template.render(self.context(page, lang, used_assets)).encode("utf-8")
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
        here = page.url_path(lang)
        here_dir = here if here.endswith("/") or not here else posixpath.dirname(here) + "/"
        strings = self.strings[lang.code]
        used = used_assets if used_assets is not None else {}

        def link(target: str) -> str:
            # The 404 page is served for missing addresses at any depth: it links from the site's
            # root (the base URL's path, or / when it is not known), on whatever host serves it.
            return self.root_path + target if page.kind.any_depth else relative(here_dir, target)

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
            "languages": self.site.languages, "original": self.site.languages[0], "page": page, "t": strings,
            "url": url, "absolute": absolute, "asset": asset, "asset_path": asset_path, "share_image": share_image,
            "root": link(""),
            "base_url": self.base_url,
            "nav": navigation, "count": _counter(strings), "report_link": report_link,
            **self.extras, **page.context,
        }


def render_pages(renderer: Renderer, jobs: list[tuple[Page, Language]], writer, processes: int = 1) -> None:
    """Render every (page, language) and hand each page to the writer, in the order given.

    With more than one process (a one-off build on a machine with several cores), the jobs are
    shared out to copies of this process made by fork(), which render and write their pages
    themselves and report back only what they wrote: the model is loaded once and never copied
    or pickled. The first failure in job order is raised, as it would be in one process."""
    if processes < 2 or len(jobs) < 4 * processes or not writer.parallel or threading.active_count() > 1:
        failure = _render_share(renderer, writer, list(enumerate(jobs)))
        if failure:
            raise failure[1]
        return
    for page, lang in jobs:  # every folder first, so that the processes never race to make one
        writer.make_folder(posixpath.dirname(page.output_path(lang)))
    shares = [list(enumerate(jobs))[i::processes] for i in range(processes)]  # alike pages spread evenly
    children: list[tuple[int, int]] = []
    try:
        children = [_fork(renderer, writer, share) for share in shares[1:]]
        failures = [_render_share(renderer, writer, shares[0])]
        while children:
            written, failure = _collect(*children[0])
            children.pop(0)
            writer.written.update(written)
            failures.append(failure)
    finally:
        for pid, pipe in children:  # stopped early (an error here, Ctrl+C, SIGTERM): stop them too
            _stop(pid, pipe)
    first = min((f for f in failures if f), key=lambda f: f[0], default=None)
    if first:
        raise first[1]


def _render_share(renderer: Renderer, writer, share: list[tuple[int, tuple[Page, Language]]]):
    """Render these jobs; at the first failure stop and return it as (job number, exception)."""
    for number, (page, lang) in share:
        try:
            writer.add(page.output_path(lang), renderer.render(page, lang))
        except Exception as err:  # noqa: BLE001 (raised by the caller, in job order)
            return number, err
    return None


def _fork(renderer: Renderer, writer, share) -> tuple[int, int]:
    """A child process that renders a share and sends back (files written, failure), pickled."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    status = 1
    try:  # the child: never returns into the parent's code (its `finally` blocks would run twice)
        os.close(read_end)
        writer.written = {}
        failure = _render_share(renderer, writer, share)
        try:
            report = pickle.dumps((writer.written, failure))
        except Exception:  # noqa: BLE001 (an exception that cannot be pickled: send its text)
            report = pickle.dumps((writer.written, (failure[0], RuntimeError(_describe(failure[1])))))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(report)
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, pipe: int) -> tuple[dict[str, str], tuple[int, Exception] | None]:
    """What a child sent, once it has finished."""
    with os.fdopen(pipe, "rb") as reader:
        report = reader.read()
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status or not report:
        raise RuntimeError(f"a rendering process stopped before it finished (status {status})")
    return pickle.loads(report)


def _stop(pid: int, pipe: int) -> None:
    """Stop a child that is no longer wanted, and wait for it: it must not write on after the
    staging folder is removed."""
    try:
        os.close(pipe)
    except OSError:
        pass  # closed already, by _collect
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        pass


def _describe(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)).strip()


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
