"""The page table: every kind of page the site has, in one place. It drives the pages that are
rendered, their URLs, the navigation (header, footer, home), the folders a language path may
not use, the sitemap, and the 404's special links. Adding a page kind is one entry here plus
its template (and its words in site.yaml).

What a template may use is listed in docs/templates.md."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from .cache import Store, digest
from .model import Agency, Language, Site

# Which agency files a page is made from (besides site.yaml, topics.yaml, the glossary, the
# templates and the assets, which every page depends on): a page is rendered again when they change.
# AGENCY_LIST: none, but it lists every agency by name and count (`agencies`, AgencyEntry).
EVERY_AGENCY, OWN_AGENCY, NO_AGENCY, AGENCY_LIST = "every", "own", "none", "list"


@dataclass(frozen=True)
class PageKind:
    name: str
    key: str  # its path inside a language's folder: '' (home), 'print/', 'agencies/{slug}/', '404.html'
    template: str
    nav: tuple[str, ...] = ()  # where it is linked: 'header', 'footer', 'home'
    label: str = ""  # the interface string that names it in navigation
    per_agency: bool = False  # one page per agency
    agencies: str = EVERY_AGENCY
    in_sitemap: bool = True
    any_depth: bool = False  # served for missing addresses at any depth: links from the site's root

    @property
    def folder(self) -> str:
        """The first folder of its path ('' for pages at the language's root)."""
        return self.key.split("/", 1)[0] if "/" in self.key else ""


PAGE_KINDS: tuple[PageKind, ...] = (
    PageKind("home", "", "home.html", nav=("header",), label="home", agencies=AGENCY_LIST),
    PageKind("agency", "agencies/{slug}/", "agency.html", per_agency=True, agencies=OWN_AGENCY),
    PageKind("activities", "activities/", "activities.html", nav=("header", "footer", "home"), label="activities"),
    PageKind("print", "print/", "print.html", nav=("header", "footer", "home"), label="print"),
    PageKind("data", "data/", "data.html", nav=("header", "footer", "home"), label="data", agencies=NO_AGENCY),
    PageKind("changelog", "changelog/", "changelog.html", nav=("footer",), label="changelog", agencies=NO_AGENCY),
    PageKind("not_found", "404.html", "404.html", agencies=NO_AGENCY, in_sitemap=False, any_depth=True),
)
KINDS = {kind.name: kind for kind in PAGE_KINDS}
OTHER_FOLDERS = ("assets", "data")  # written by other stages: fingerprinted assets, the open data files


def reserved_paths() -> set[str]:
    """Folder names a language path may not take: the site's own."""
    return {kind.folder for kind in PAGE_KINDS if kind.folder} | set(OTHER_FOLDERS)


def navigation(place: str) -> list[PageKind]:
    """The page kinds linked from a place ('header', 'footer', 'home'), in table order."""
    return [kind for kind in PAGE_KINDS if place in kind.nav]


@dataclass(frozen=True)
class Neighbour:
    """What an agency page shows of the agency before or after it: its address and its name, and
    nothing more, so that the page depends on no more of it (Page.shows)."""

    slug: str
    name: dict[str, str]


@dataclass(frozen=True)
class AgencyEntry:
    """What a page that lists the agencies (the home page) shows of one: its address, number,
    name and how many activities it has, and nothing more, so that an edit to an activity's text
    leaves that page as it is (Page.shows)."""

    slug: str
    number: int
    name: dict[str, str]
    count: int


@dataclass(frozen=True)
class Page:
    """One page in every language: its kind, its language-neutral key, what its template gets
    besides the common context, the agency files it is made from, and anything else it shows
    that is not in those files (`shows`)."""

    kind: PageKind
    key: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    agencies: tuple[Agency, ...] = field(default=(), hash=False, compare=False)
    shows: tuple = field(default=(), hash=False, compare=False)

    @property
    def template(self) -> str:
        return self.kind.template

    def url_path(self, lang: Language) -> str:
        return url_path(self.key, lang)

    def output_path(self, lang: Language) -> str:
        """Where the page is written inside site/: a folder with index.html, or a named file."""
        path = self.url_path(lang)
        return path + "index.html" if path.endswith("/") or not path else path


def url_path(key: str, lang: Language) -> str:
    """A page's path inside site/ in one language: the language's prefix, then the key."""
    return (lang.path + "/" if lang.path else "") + key


def addresses(pages: list[Page], languages: list[Language], base_url: str) -> list[str]:
    """The full address of every page that has one (those in the sitemap), in every language; none
    without a base URL."""
    return [base_url + page.url_path(lang) for page in pages if page.kind.in_sitemap for lang in languages
            ] if base_url else []


def site_pages(site: Site) -> list[Page]:
    """Every page of the site, in the order of the page table."""
    pages: list[Page] = []
    for kind in PAGE_KINDS:
        if kind.per_agency:
            pages += [_agency_page(kind, site.agencies, i) for i in range(len(site.agencies))]
        elif kind.agencies == AGENCY_LIST:
            entries = [AgencyEntry(a.slug, a.number, a.name, len(a.activities)) for a in site.agencies]
            pages.append(Page(kind, kind.key, {"agencies": entries}, (), tuple(entries)))
        else:
            shown = tuple(site.agencies) if kind.agencies == EVERY_AGENCY else ()
            pages.append(Page(kind, kind.key, {}, shown))
    return pages


def _agency_page(kind: PageKind, agencies: list[Agency], i: int) -> Page:
    """An agency's page, which also names its neighbours (previous and next): it is made from its
    own file and their names, so an edit to a neighbour's activities leaves it as it is."""
    agency = agencies[i]
    previous = Neighbour(agencies[i - 1].slug, agencies[i - 1].name) if i > 0 else None
    following = Neighbour(agencies[i + 1].slug, agencies[i + 1].name) if i + 1 < len(agencies) else None
    return Page(kind, kind.key.format(slug=agency.slug),
                {"agency": agency, "previous": previous, "next": following}, (agency,), (previous, following))


def in_language(value: Any, code: str) -> Any:
    """What a page in one language can show of a part of the model (an agency, a Neighbour…), as
    plain values: every field, but of each text (a dict with an entry per language) only that
    language's. A page shows no other language's texts, so an edit to the English leaves the
    Chinese pages as they are (tests/test_units.py checks that the templates keep to this)."""
    if isinstance(value, (str, int)) or value is None:
        return value
    if isinstance(value, dict):
        return value[code] if code in value else tuple((k, in_language(v, code)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(in_language(item, code) for item in value)
    if is_dataclass(value):
        return tuple(in_language(getattr(value, name), code) for name in _shown_fields(type(value)))
    return value


@functools.lru_cache(maxsize=None)
def _shown_fields(kind: type) -> tuple[str, ...]:
    """A model class's fields, but the way back up (Activity.agency, which has repr=False)."""
    return tuple(f.name for f in fields(kind) if f.repr)


class LanguageInputs:
    """Fingerprints of what each agency file gives the pages of each language (in_language): a
    page's inputs (render.Renderer.fingerprint) and the search data's names are made of them.
    Made once per version of the file (at 10,000 activities they take a second to make) and kept
    in the cache by what the agency's part of the model is made from: its file, the files every
    page uses (site.yaml's languages and conversions, topics.yaml's labels) and the generator."""

    def __init__(self, site: Site, store: Store | None = None, generator: str = ""):
        self.site, self.store = site, store if store is not None else Store(None, "inputs")
        self.shared = repr((site.shared_sources(), generator))
        self._made: dict[int, dict[str, str]] = {}  # this build's, by agency

    def __call__(self, agency: Agency, code: str) -> str:
        made = self._made.get(id(agency))  # the agencies of one model, which outlives the build
        if made is None:
            key = digest(repr((agency.source_file, self.site.sources.get(agency.source_file), self.shared)).encode())
            made = self._made[id(agency)] = self.store.get(key, lambda: {
                lang.code: digest(repr(in_language(agency, lang.code)).encode("utf-8")) for lang in self.site.languages})
        return made[code]
