"""The recipe: content → site, for `build.py` and for `serve` alike.

    load + validate (YAML → Site) → derive (languages made from others) → render (pages and
    the other outputs) → write (site/, swapped in whole, or only what changed for serve)

A Builder holds the caches (cache.py). A one-off build makes one, builds once and saves the
caches to disk; serve keeps one and builds again on every save, so it re-renders only what an
edit touches and writes only the files that changed."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import derive, opendata, outputs, parallel, render, write
from .cache import Cache, code_version, digest
from .model import Site
from .pages import LanguageInputs, addresses, site_pages, url_path
from .validate import load_site

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Project:
    """Where a build reads and writes; every setting with its default in one place."""

    content: Path = ROOT / "content"
    out: Path = ROOT / "site"
    templates: Path = ROOT / "templates"
    assets: Path = ROOT / "assets"
    base_url: str | None = None  # None: site.yaml's base_url
    cache: Path | None = None  # None: nothing kept on disk between runs (serve still keeps it in memory)
    processes: int = 1  # how many processes make the pages and the open data (parallel.make_files)

    def sources(self) -> list[Path]:
        """The folders whose edits serve rebuilds on."""
        return [self.content, self.templates, self.assets]


@dataclass
class Result:
    site: Site
    files: dict[str, str]  # every file written: its path in site/ and its fingerprint
    notice: str = ""  # something the person running the build should know


class Builder:
    """Builds the site from a project, keeping its caches between builds.

    A one-off build (keep=False) keeps none of the pages it renders, and saves its caches and lets
    them go as soon as the model and the search data are made: at 10,000 activities that is 85 MB
    the pages can use. It takes every page whose inputs are unchanged from the site the last build
    wrote (unchanged_pages). serve (keep=True) keeps its caches and pages in memory, and saves the
    caches itself (save_caches), after the browser has been told to reload."""

    def __init__(self, project: Project, keep: bool = True):
        self.project, self.keep = project, keep
        self.cache = Cache(project.cache, versions={"md": render.markdown_version(), "cc": derive.opencc_version(),
                                                    "qr": outputs.segno_version(), "v": "3"})
        self.templates = ""  # the templates' fingerprint when they were last loaded
        self.written: dict[str, str] | None = None  # what this builder last wrote to out (serve)

    @functools.cached_property
    def env(self):
        """The Jinja environment, made when a page is first rendered (a build that takes every page
        from the last one never imports Jinja): kept, with its compiled templates, between builds."""
        return render.make_environment(self.project.templates, self.cache.templates)

    def model(self) -> Site:
        """The site as the templates see it: validated, every language derived, Markdown converted."""
        site = load_site(self.project.content, self.cache.parsed)
        derive.derive_languages(site, self.cache.converted)
        render.convert_markdown(site, self.cache.markdown)
        return site

    def render(self, writer: write.Writer | None = None) -> Result:
        """Every file of the site, handed to the writer as it is made (kept in memory without one):
        the recipe, one line per kind of output."""
        project, cache = self.project, self.cache
        writer = writer if writer is not None else write.InMemory()
        site = self.model()
        render.check_templates(project.templates)
        templates = render.templates_digest(project.templates)
        if templates != self.templates and "env" in self.__dict__:  # an edited template: compile it again (serve)
            self.env.cache.clear()
        self.templates = templates
        base_url = with_slash(project.base_url if project.base_url is not None else site.config.base_url)
        names, assets = write.fingerprinted_assets(project.assets)
        inputs = LanguageInputs(site, cache.inputs, self.generator)
        searches = self.search_data(site, names, inputs)
        for lang in site.languages:
            write.add_fingerprinted(names, assets, f"css/print-{lang.code}.css", outputs.print_css(site, lang))
        write.add_fingerprinted(names, assets, "css/languages.css", outputs.languages_css(site))
        writer.add_all(assets.items())
        for lang in site.languages:
            writer.add(url_path("manifest.webmanifest", lang), outputs.web_manifest(site, lang, names))
        qr = outputs.QrCodes(cache.qr)
        helpers = {"qr": qr, "data_fields": opendata.field_table(site),
                   "csp": outputs.content_security_policy(site),
                   "dataset_jsonld": lambda lang, url: opendata.dataset_jsonld(site, lang, base_url, url)}
        renderer = render.Renderer(lambda: self.env, site, names, base_url, helpers,
                                   cache.pages if self.keep else None, templates, inputs)
        pages = site_pages(site)
        makers = render.page_makers(renderer, pages, site.languages)
        if not self.keep:
            fingerprints = self.unchanged_pages(renderer, pages, site.languages, names, makers)
            if not all(reused for _, reused in fingerprints.values()):  # pages to render, perhaps in several processes
                qr.make(addresses(pages, site.languages, base_url))
                if project.processes > 1:
                    renderer.load_templates()
            self.save_caches(forget=True)
        parallel.make_files({**searches, **opendata.files(site, base_url), **makers}, writer, project.processes,
                            renderer.used)
        writer.add_all(outputs.crawler_files(site, pages, base_url).items())
        if not self.keep:  # saved once the site is in place (build)
            cache.built.entries = {key: (path, writer.written[path], renderer.used.get(path, reused))
                                   for key, (path, reused) in fingerprints.items()}
            cache.built.used = set(cache.built.entries)
        return Result(site, writer.written)

    def search_data(self, site: Site, names: dict[str, str], inputs: LanguageInputs) -> dict[str, Callable[[], bytes]]:
        """The search data of every language, to be made with the pages (in the rendering processes:
        at 10,000 activities it takes half a second). Its file is named by what it is made from (the
        shared content files, its languages' texts, the generator and its libraries), not by its
        bytes, so that pages can link it first; an edit to the English renames only the English one."""
        folds = derive.fold_tables(site, self.cache.converted)
        plain = outputs.plain_text if self.keep else outputs.plain_text.__wrapped__  # serve keeps the texts
        searches = {}
        for lang in site.languages:
            texts = [inputs(agency, code) for code in derive.search_languages(site, lang) for agency in site.agencies]
            made_from = repr((site.shared_sources(), texts, self.generator, lang.code)).encode("utf-8")
            name = write.name_fingerprinted(names, f"search-{lang.code}.json", digest(made_from))
            searches[name] = functools.partial(outputs.search_data, site, lang, folds[lang.code], plain)
        return searches

    @functools.cached_property
    def generator(self) -> str:
        """A fingerprint of the generator's code and the libraries its output depends on."""
        return digest(repr((code_version(), self.cache.tag)).encode("utf-8"))

    def unchanged_pages(self, renderer: render.Renderer, pages, languages, names: dict[str, str],
                        makers: dict) -> dict[str, tuple[str, dict[str, str]]]:
        """A one-off build's pages by what they are made from (their inputs, and the generator's
        code and libraries): {fingerprint: (path, the asset names it used if it is reused)}. Every
        page made from the same as a page the last build wrote into out/, naming the same assets,
        is read back from there instead of rendered, when the file still holds what that build
        wrote. An edit to one agency file renders its page, its neighbours and the pages that
        list every activity; nothing else."""
        out, built = self.project.out, self.cache.built.entries
        written = write.listing(out)
        fingerprints = {}
        for page in pages:
            for lang in languages:
                path, key = page.output_path(lang), renderer.fingerprint(page, lang, self.generator)
                entry = built.get(key)
                if entry and entry[0] == path and written.get(path) == entry[1] and entry[2] and all(
                        names.get(name) == target for name, target in entry[2].items()):  # no names: unknown
                    makers[path] = functools.partial(write.read_back, out / path, entry[1], makers[path])
                    fingerprints[key] = (path, entry[2])
                else:
                    fingerprints[key] = (path, {})
        return fingerprints

    def build(self, ready: Callable[[dict[str, bytes] | None], None] | None = None) -> Result:
        """Render and write; on a content error (ContentError) the output folder is left as it was.
        The first build writes a new site/ and swaps it in; serve's later builds write only what
        changed, unless another build has written site/ since. `ready` is called once every file
        is made, before they are written: with them all (serve's later builds, which hold them in
        memory) or None."""
        out, notice = self.project.out, ""
        writer = write.ChangedFiles.of(out, self.written) if self.written is not None else None
        if self.written is not None and writer is None:
            notice = f"{out} was changed by another build since this one wrote it; it is written anew"
        with writer or write.NewSite(out) as writer:
            result = self.render(writer)
            if ready:
                ready(writer.files if isinstance(writer, write.InMemory) else None)
            writer.commit()
        result.notice = notice
        self.written = result.files
        if not self.keep:
            self.cache.built.save()
        return result

    def save_caches(self, forget: bool = False) -> None:
        """Keep on disk what the builds made (Cache.save); `forget`: and let it go from memory."""
        self.cache.save()
        if forget:
            self.cache.forget()


def with_slash(base_url: str) -> str:
    """The base URL with one final slash (links are made by appending paths), or ''."""
    return base_url.rstrip("/") + "/" if base_url else ""


def build(project: Project) -> Result:
    """One build of a project; raises ContentError and leaves the output folder untouched on a mistake."""
    return Builder(project, keep=False).build()

