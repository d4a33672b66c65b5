"""Stage 2b, derive: languages that editors do not write, made from a written one by a converter.
Today that is OpenCC, which makes a Traditional Chinese edition from the Simplified original.

After this stage a derived language is a language like any other: every text of the site has it.
Conversions are cached by converter and text, so a build whose texts did not change never loads
OpenCC. The same stage makes the search's folding table, so that a reader finds the same
activities whichever script they type in."""
from __future__ import annotations

from typing import Callable

import msgspec

from .cache import Store, digest, installed_version
from .model import Language, Site, SiteFile, localized_fields

# Converters from Traditional back to Simplified, for what readers may type: each region's forms.
_TO_SIMPLIFIED = ("t2s", "tw2s", "hk2s")
_CJK_RANGE = range(0x3400, 0xA000)  # the unified ideographs and extension A


def opencc_version() -> str:
    """The installed OpenCC's version (without importing it)."""
    return installed_version("opencc", "opencc")


class Converters:
    """OpenCC converters, loaded on first use (importing OpenCC and loading its dictionaries takes
    tens of milliseconds that a build with nothing new to convert does not spend) and kept for the
    process's next builds: loading one and letting it go again cost serve 250–400 ms on every save
    of a Chinese text."""

    def __init__(self) -> None:
        self.loaded: dict[str, Callable[[str], str]] = {}

    def __call__(self, config: str) -> Callable[[str], str]:
        if config not in self.loaded:
            import opencc

            self.loaded[config] = opencc.OpenCC(config).convert
        return self.loaded[config]


_CONVERTERS = Converters()


def localized_texts(site: Site):
    """Every dict of texts by language in the site: site.yaml's, the topics', agencies' and activities'."""
    config = site.config
    for name in localized_fields(SiteFile):
        yield getattr(config, name)
    yield from msgspec.structs.asdict(config.strings).values()
    for texts in config.data_fields.values():
        yield texts.title
        yield texts.description
    for topic in site.topics:
        yield topic.label
    for entry in site.changelog:
        yield entry.text
    for agency in site.agencies:
        yield agency.name
        yield agency.full_name
        for activity in agency.activities:
            yield activity.title
            yield activity.text


def derive_languages(site: Site, store: Store | None = None) -> None:
    """Give every text of the site its derived languages' versions, in place."""
    store = store if store is not None else Store(None, "converted")
    converters = _CONVERTERS
    for lang in site.languages:
        if lang.derive is None:
            continue
        rule = lang.derive
        for texts in localized_texts(site):
            texts[lang.code] = _convert(texts[rule.source], rule.opencc, rule.overrides, store, converters)


def _convert(text: str, config: str, overrides: dict[str, str], store: Store, converters: Converters) -> str:
    """One text converted, then corrected by the overrides wherever their source term occurs.
    OpenCC's character-based configurations keep a text's length, so a correction replaces the
    converted term in place, at the same position."""
    converted, _ = store.get(f"{config}\0{text}", lambda: _converted_with_pairs(text, config, converters))
    for source, target in overrides.items():
        start = text.find(source)
        while start != -1:
            converted = converted[:start] + target + converted[start + len(source):]
            start = text.find(source, start + len(source))
    return converted


def _converted_with_pairs(text: str, config: str, converters: Converters) -> list[str]:
    """The conversion of a text, and the characters it changed as pairs (source, converted) in one
    string, for the search's folding table. A conversion that changes the length has no pairs."""
    converted = converters(config)(text)
    pairs = {a + b for a, b in zip(text, converted) if a != b} if len(converted) == len(text) else set()
    return [converted, "".join(sorted(pairs))]


def fold_tables(site: Site, store: Store | None = None) -> dict[str, dict[str, str]]:
    """For search, per language: each character that has another form in a related script → the
    form all its forms are folded to (the written language's), so that 電梯 and 电梯 find the same
    text. Built from the characters the site's conversions changed, and from every Traditional
    character a reader could type whose Simplified form occurs in the text. Empty for a language
    that is neither derived nor derived from. A source language and the languages derived from it
    share one table, made once."""
    store = store if store is not None else Store(None, "converted")
    tables: dict[tuple[str, ...], dict[str, str]] = {}
    folds = {}
    for lang in site.languages:
        derived = _fold_group(site, lang)
        group = tuple(d.code for d in derived)
        if group not in tables:
            tables[group] = _fold_table(site, derived, store) if derived else {}
        folds[lang.code] = tables[group]
    return folds


def _fold_group(site: Site, lang: Language) -> list[Language]:
    """The derived languages whose conversions make a language's folding table: itself if it is
    derived, and those derived from it."""
    return [other for other in site.languages if other.derive and (other is lang or other.derive.source == lang.code)]


def search_languages(site: Site, lang: Language) -> list[str]:
    """The languages whose texts a language's search data is made from: its own, and those its
    folding table is made from (a Traditional edition's search folds to the Simplified texts)."""
    return sorted({lang.code} | {other.derive.source for other in _fold_group(site, lang)})


def _fold_table(site: Site, derived: list[Language], store: Store) -> dict[str, str]:
    sources = {d.derive.source for d in derived}
    corpus = set("".join(texts[code] for texts in localized_texts(site) for code in sources))
    rules = sorted((d.derive.opencc, sorted(d.derive.overrides.items())) for d in derived)
    key = digest(repr((sorted(corpus), rules)).encode("utf-8"))
    for config in _TO_SIMPLIFIED:  # whatever the content, the next new fold is made from them (60 ms)
        store.keep(f"table\0{config}")
    return store.get(f"fold\0{key}", lambda: _fold(site, derived, corpus, store))


def _fold(site: Site, derived: list[Language], corpus: set[str], store: Store) -> dict[str, str]:
    converters = _CONVERTERS
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # the root stays a character of the written text when there is one
            if rb in corpus and (ra not in corpus or rb < ra):
                ra, rb = rb, ra
            parent[rb] = ra

    for lang in derived:
        config = lang.derive.opencc
        for texts in localized_texts(site):
            text = texts[lang.derive.source]
            _, pairs = store.get(f"{config}\0{text}", lambda: _converted_with_pairs(text, config, converters))
            for i in range(0, len(pairs), 2):
                union(pairs[i], pairs[i + 1])
        for source, target in lang.derive.overrides.items():  # 计划 → 計畫: 划 and 畫 too
            if len(source) == len(target):
                for a, b in zip(source, target):
                    union(a, b)
    for config in _TO_SIMPLIFIED:
        for traditional, plain in store.get(f"table\0{config}", lambda: _table(config, converters)).items():
            if plain in corpus:
                union(plain, traditional)
    return {c: find(c) for c in parent if find(c) != c}


def _table(config: str, converters: Converters) -> dict[str, str]:
    """Every CJK character that a converter changes into one other character."""
    characters = [chr(c) for c in _CJK_RANGE]  # made here, not at import: only a new table needs them
    converted = converters(config)("\n".join(characters)).split("\n")
    return {a: b for a, b in zip(characters, converted) if a != b and len(b) == 1}
