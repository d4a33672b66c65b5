"""The English reads as English, not as a translation (issue 12): the house style of
docs/style-en.md, kept by tests. Every rule here is a section of the style guide."""
from __future__ import annotations

import re

import msgspec
import pytest
import yaml

from conftest import ROOT
from sitegen.validate import load_site

CONTENT = ROOT / "content"

# Calques of official Chinese and their plain forms: docs/style-en.md, "Calques". A pattern is a
# regular expression matched case-insensitively against every English text, title, name, topic
# label, glossary entry and interface string.
BANNED = {
    r"\bgives? (full )?play\b|\bfull play\b": "make full use of, let … lead (发挥作用)",
    r"\batmosphere\b": "say what people should do (营造氛围)",
    r"\bbatch of\b": "a number of (一批)",
    r"\btypical (case|example)s?\b": "examples, case studies, representative cases (典型案例)",
    r"\bdo(es|ing)? a good job\b|\bdo(es|ing)? (it|this|the work) well\b": "drop it (做好)",
    r"\bmass\b": "open to the whole workforce, grassroots (群众性)",
    r"\bunits?\b": "organization, body, company (单位)",
    r"\bpublicity\b|\bpublicize and popularize\b": "awareness, information, promotion (宣传)",
    r"\bpoint-to-point\b": "one-to-one, targeted (点对点)",
    r"\bgreen channel\b": "fast track (绿色通道)",
    r"\bcombination (of )?punch": "a combination of measures (组合拳)",
    r"\bthe masses\b": "the public, people (群众)",
    r"\blivelihoods?\b": "people’s daily lives (民生)",
    r"\bstrike hard\b|\bhigh[- ]pressure\b": "a tough, sustained crackdown (严打高压态势)",
    r"\bvigorously\b|\bearnestly\b|\bconscientiously\b": "drop it (大力, 认真)",
    r"\bin[- ]depth\b|\bdeepen": "drop it, or expand, build on (深入, 深化)",
    r"\bcivili[sz]ed\b|\bcivili[sz]ation\b": "courteous, considerate, responsible (文明)",
    r"\bwhole (of )?society\b|\ball sectors of society\b": "everyone, across society (全社会, 社会各界)",
    r"\blevers?\b|\bgrasp\b": "through, by (抓手)",
    r"\bpattern\b": "drop it (格局)",
    r"\bour city\b|\bthis city\b": "Tianjin (我市)",
    r"\bspecial (campaign|action|rectification|inspection)s?\b": "campaign, dedicated inspections (专项)",
    r"\bconcentrated\b": "joint, coordinated (集中)",
    r"\bsituation\b": "drop it, or circumstances (情况)",
    r"\b(related|relevant) work\b|\brelevant departments\b": "related activities, other departments (相关工作, 相关部门)",
    r"\bpropagand": "awareness, information (宣传)",
    r"(?<!state-owned )(?<!medium-sized )\benterprises?\b": "companies, businesses (企业)",
    r"\bdefend(s|ing)? (their |consumer |his |her )?rights\b": "enforce their rights, seek redress (维权)",
    r"\borganis|\brecognis|\bstandardis|\bprogramme|\blabour|\bcentre|\bcolour|\bhonour|\bfavour|\bdefence":
        "American spelling",
}

# One mood: every sentence of an activity text is an instruction (docs/style-en.md, "Activity
# texts"). A sentence starts with an imperative, or with an opening phrase followed by
# ", <imperative>". Add a verb here when a new text needs it; never a noun, article or pronoun.
IMPERATIVES = {
    "adopt", "advance", "analyze", "answer", "attract", "brief", "bring", "broaden", "build",
    "carry", "celebrate", "change", "check", "compile", "concentrate", "continue", "correct",
    "crack", "develop", "do", "draw", "encourage", "ensure", "expand", "explain", "find", "focus",
    "forge", "get", "give", "guide", "hand", "have", "help", "hold", "impose", "improve",
    "inspect", "introduce", "keep", "launch", "lead", "let", "make", "manage", "meet", "monitor",
    "offer", "open", "organize", "press", "prevent", "promote", "provide", "publish", "pursue",
    "put", "raise", "reduce", "revise", "run", "seek", "select", "set", "settle", "sift", "stage",
    "step", "strengthen", "study", "support", "tackle", "take", "target", "teach", "tighten",
    "use", "work",
}
OPENERS = {"as", "at", "building", "focusing", "following", "for", "in", "taking", "through",
           "to", "together", "under", "using", "with", "working"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?]”)\s+")
FIRST_WORD = re.compile(r"[“(]*([A-Za-z][\w-]*)")
ARTICLE = r"(?:the|a|an)"
DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.I)
YEAR = re.compile(r"^(19|20)\d\d$")
SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


@pytest.fixture(scope="module")
def site():
    return load_site(CONTENT)


@pytest.fixture(scope="module")
def en(site) -> str:
    """The code of the English language of site.yaml."""
    codes = [lang.code for lang in site.languages if lang.html_lang.lower().split("-")[0] == "en"]
    assert codes, "site.yaml declares no English language"
    return codes[0]


@pytest.fixture(scope="module")
def glossary() -> list[dict]:
    return yaml.safe_load((CONTENT / "glossary.yaml").read_text("utf-8"))


def _localized(node, where: str, code: str):
    """Every text of one language in a nested structure of site.yaml: each mapping with that key."""
    if isinstance(node, dict):
        if isinstance(node.get(code), str):
            yield where, node[code]
        for key, value in node.items():
            yield from _localized(value, f"{where}.{key}" if where else str(key), code)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _localized(value, f"{where}[{index}]", code)


def interface_texts(site, en):
    """site.yaml's English (title, theme, interface strings, data fields…) and the topic labels."""
    yield from _localized(msgspec.to_builtins(site.config), "site.yaml", en)
    for topic in site.topics:
        yield f"topic {topic.id}", topic.label[en]


def content_texts(site, en, glossary):
    """Every English name, title and text of the agencies, and the glossary's English."""
    for agency in site.agencies:
        yield f"{agency.slug} name", agency.name[en]
        yield f"{agency.slug} full_name", agency.full_name[en]
        for act in agency.activities:
            yield f"activity {act.number} title", act.title[en]
            yield f"activity {act.number} text", act.text[en]
    for entry in glossary:
        yield f"glossary {entry['zh']} en", str(entry["en"])
        if entry.get("gloss"):
            yield f"glossary {entry['zh']} gloss", entry["gloss"]


def all_texts(site, en, glossary):
    yield from interface_texts(site, en)
    yield from content_texts(site, en, glossary)


# --- Quotation marks --------------------------------------------------------------------------

def test_no_straight_quotes_anywhere(site, en, glossary):
    """Curly quotes and apostrophes everywhere: “ ” ‘ ’ (YAML's own quoting is not in the values)."""
    bad = [(where, text) for where, text in all_texts(site, en, glossary) if '"' in text or "'" in text]
    assert not bad, f"straight quotes; use “ ” and ’: {bad[:5]}"


def test_curly_quotes_pair_up_and_periods_and_commas_go_inside(site, en, glossary):
    for where, text in all_texts(site, en, glossary):
        assert text.count("“") == text.count("”"), f"{where}: unpaired quotation marks"
        opened = False
        for char in re.findall(r"[“”]", text):
            assert (char == "“") != opened, f"{where}: quotation marks out of order"
            opened = not opened
        assert not re.search(r"”[.,]", text), f"{where}: a period or comma goes inside the closing quote"
        assert not re.search(r"\w“|”\w", text), f"{where}: a quotation mark on the wrong side of a word"


def test_titles_of_documents_and_names_are_not_quoted(site, en):
    """Quotation marks hold slogans, themes and coined phrases, in sentence case. A quoted span in
    Title Case is a law, plan, campaign or award name: those take capitals, not quotes."""
    for act in site.activities:
        for quoted in re.findall(r"“([^”]*)”", act.text[en]):
            words = [w for w in quoted.split()[1:] if w.lower() not in SMALL_WORDS]
            capitals = [w for w in words if w[0].isupper()]
            assert len(words) < 2 or len(capitals) * 2 <= len(words), \
                f"activity {act.number}: “{quoted}” looks like a title; write it in Title Case without quotes"


# --- Names and the interface ------------------------------------------------------------------

def test_no_doubled_words(site, en, glossary):
    for where, text in all_texts(site, en, glossary):
        match = DOUBLED.search(text)
        assert not match, f"{where}: doubled word “{match[0]}”"


def test_agency_names_never_start_with_an_article(site, en):
    """The text around a name supplies “the” where it needs one; a name never carries its own."""
    for agency in site.agencies:
        for name in (agency.name[en], agency.full_name[en]):
            assert not re.match(rf"{ARTICLE}\s", name, re.I), f"{agency.slug}: drop the article in “{name}”"


def test_interface_strings_read_well_with_every_agency_name(site, en):
    """Strings with {agency} are labels: no article before the name (it depends on the name:
    “the Tianjin Health Commission” but “Tianjin Customs”), so they read with every agency."""
    strings = {key: texts[en] for key, texts in msgspec.structs.asdict(site.config.strings).items()}
    with_agency = {key: text for key, text in strings.items() if "{agency}" in text}
    assert with_agency, "no interface string takes {agency}: remove this test or the placeholder check"
    for key, template in with_agency.items():
        assert not re.search(rf"\b{ARTICLE}\s+\{{agency\}}", template, re.I), \
            f"strings.{key}: no article before {{agency}}"
        for agency in site.agencies:
            for name in (agency.name[en], agency.full_name[en]):
                text = template.replace("{agency}", name)
                assert not DOUBLED.search(text), f"strings.{key} with {agency.slug}: “{text}”"
                assert not re.search(rf"\b{ARTICLE}\s+{ARTICLE}\b", text, re.I), \
                    f"strings.{key} with {agency.slug}: “{text}”"


# --- Local names ------------------------------------------------------------------------------

def test_every_local_name_is_glossed_where_it_first_appears(site, en, glossary):
    """Each text that uses a glossed term explains it on first use: the gloss contains the term
    (“the 12315 consumer complaints hotline”) or follows it closely (“Jinyun, the Tianjin news app”)."""
    glossed = [entry for entry in glossary if entry.get("gloss")]
    assert glossed
    for entry in glossed:
        term, gloss = str(entry["en"]).lower(), entry["gloss"].lower()
        users = [act for act in site.activities if str(entry["zh"]) in act.text["zh"]]
        assert users, f"glossary term {entry['zh']} is used by no activity"
        for act in users:
            text = act.text[en].lower()
            assert gloss in text, f"activity {act.number}: {entry['zh']} needs its gloss “{entry['gloss']}”"
            first_term, first_gloss = text.find(term), text.find(gloss)
            if term in gloss:
                assert first_gloss <= first_term < first_gloss + len(gloss), \
                    f"activity {act.number}: the first “{entry['en']}” should be the glossed one"
            else:
                gap = first_gloss - (first_term + len(term))
                assert 0 <= gap <= 80, \
                    f"activity {act.number}: gloss “{entry['gloss']}” should follow the first “{entry['en']}”"


def test_hotline_numbers_are_glossary_terms_with_a_gloss(site, en, glossary):
    """A long number that is not a year (a hotline, a platform) is a local name: it needs a gloss."""
    glossed = {str(entry["en"]) for entry in glossary if entry.get("gloss")}
    for act in site.activities:
        for number in re.findall(r"(?<![\d,])\d{4,}(?![\d,])", act.text[en]):
            assert YEAR.match(number) or number in glossed, \
                f"activity {act.number}: {number} is neither a year nor a glossed number (use 5,000 for quantities)"


# --- Words ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", sorted(BANNED))
def test_no_calques(site, en, glossary, pattern):
    hits = [(where, re.search(pattern, text, re.I)[0]) for where, text in all_texts(site, en, glossary)
            if re.search(pattern, text, re.I)]
    assert not hits, f"“{hits[0][1]}” in {[w for w, _ in hits]}; write: {BANNED[pattern]}"


def test_no_abbreviations_in_the_content(site, en, glossary):
    """“Such as”, not “e.g.”: running text spells it out (and a sentence ends only at a full stop)."""
    for where, text in content_texts(site, en, glossary):
        match = re.search(r"\b(e\.g|i\.e|etc|approx|incl)\.", text, re.I)
        assert not match, f"{where}: write “such as”, “that is”, “and so on” for “{match[0]}”"


def test_numbers_one_to_nine_in_words_ranges_with_en_dashes(site, en):
    for act in site.activities:
        for where, text in ((f"activity {act.number} title", act.title[en]),
                            (f"activity {act.number} text", act.text[en])):
            single = re.search(r"(?<![\w.,–-])[1-9](?![\w.,–-]*\d)(?!\w)", text)
            assert not single, f"{where}: spell out “{single[0]}” (one to nine are words)"
            assert not re.search(r"\d-\d", text), f"{where}: a range takes an en dash (2020–2022)"


# --- Activity texts: one mood -----------------------------------------------------------------

def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s.strip()]


def test_every_sentence_of_an_activity_is_an_instruction(site, en):
    wrong = []
    for act in site.activities:
        text = act.text[en]
        if re.search(r"\b(will|shall|would)\b", text, re.I):
            wrong.append((act.number, "no future: the plan’s tasks are instructions, not forecasts"))
        for sentence in sentences(text):
            first = FIRST_WORD.match(sentence)
            word = first[1].lower() if first else ""
            if word in IMPERATIVES:
                continue
            if word in OPENERS and any(verb in IMPERATIVES for verb in re.findall(r", ([a-z]+)\b", sentence)):
                continue
            wrong.append((act.number, sentence[:60]))
    assert not wrong, f"sentences that are not instructions: {wrong}"


def test_titles_are_short_noun_phrases_in_sentence_case(site, en):
    for act in site.activities:
        title = act.title[en]
        first = FIRST_WORD.match(title)
        assert first and title[0].isupper(), (act.number, title)
        assert first[1].lower() not in IMPERATIVES, \
            f"activity {act.number}: a title names the activity (“Raising …”, “Training on …”); the text instructs"
        assert not title.endswith((".", ";", ":")), (act.number, title)
