"""The benchmark's content generator (tests/benchmark.py) at a tiny size: what it writes is valid
content with the right counts and numbering, builds, and can be edited as the benchmark edits it,
so the benchmark cannot rot silently while the content model changes."""
from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys

import pytest
import yaml

import benchmark
from conftest import LANGS, ROOT, SITE, build_site
from sitegen.pages import PAGE_KINDS
from sitegen.validate import load_site

N = 45  # three agencies: 20, 20 and 5 activities


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    content = tmp_path_factory.mktemp("bench") / "content"
    info = benchmark.generate_content(content, N)
    return content, info


def test_synthetic_content_is_valid_with_the_right_counts(synthetic):
    content, info = synthetic
    assert info == {"agencies": 3, "activities": N, "real": False}
    site = load_site(content)
    assert [a.number for a in site.agencies] == [1, 2, 3]
    assert [len(a.activities) for a in site.agencies] == [20, 20, 5]
    assert [a.number for a in site.activities] == list(range(1, N + 1))
    assert len({a.slug for a in site.agencies}) == 3
    assert sorted(p.name for p in (content / "agencies").iterdir()) == [
        f"{a.number:02d}-{a.slug}.yaml" for a in site.agencies]
    for name in ("site.yaml", "topics.yaml", "glossary.yaml"):
        assert (content / name).read_bytes() == (ROOT / "content" / name).read_bytes()
    assert sorted(p.name for p in (content / "schema").iterdir()) == sorted(
        p.name for p in (ROOT / "content" / "schema").iterdir())


def test_synthetic_text_is_drawn_from_the_real_content(synthetic):
    content, _ = synthetic
    site = load_site(content)
    real = load_site(ROOT / "content")
    real_titles = {a.title["en"] for a in real.activities}
    corpus = benchmark.read_corpus(ROOT / "content")
    zh = [len(a.text["zh"]) for a in site.activities]
    en = [len(a.text["en"].split()) for a in site.activities]
    assert 110 <= statistics.mean(zh) <= 190, zh
    assert 70 <= statistics.mean(en) <= 110, en
    for activity in site.activities:
        assert activity.title["en"] in real_titles
        assert any(activity.text["en"].startswith(s) for s in corpus.en_sentences)
        assert any(activity.text["zh"].startswith(s) for s in corpus.zh_sentences)


def test_synthetic_content_builds(synthetic, tmp_path):
    content, _ = synthetic
    files = build_site(content, tmp_path / "site").files
    pages = [name for name in files if name.endswith(".html")]
    per_language = sum(3 if kind.per_agency else 1 for kind in PAGE_KINDS)  # three agencies
    assert len(pages) == len(LANGS) * per_language
    pages_found, search = benchmark.page_weights(tmp_path / "site", content)
    assert len(pages_found) == len(pages)
    assert set(search) == set(LANGS)


def test_the_benchmark_edit_reaches_the_english_text(synthetic, tmp_path):
    content, _ = synthetic
    copy = tmp_path / "content"
    shutil.copytree(content, copy)
    edit = benchmark.Edit(copy)
    edit.apply("Smokeedit001")
    data = yaml.safe_load(edit.path.read_text(encoding="utf-8"))
    assert data["activities"][0]["text"]["en"].startswith("Smokeedit001 ")
    assert load_site(copy)  # still valid
    edit.restore()
    assert edit.path.read_text(encoding="utf-8") == edit.original


def test_real_size_copies_the_real_content(tmp_path):
    real = len(SITE.activities)
    info = benchmark.generate_content(tmp_path / "content", real)
    assert info["real"]
    for path in (ROOT / "content" / "agencies").iterdir():
        assert (tmp_path / "content" / "agencies" / path.name).read_bytes() == path.read_bytes()
    benchmark.Edit(tmp_path / "content")  # finds an English text to edit in the real files too


def test_file_names_are_padded_for_the_agency_count():
    assert benchmark.agency_file_name(7, 26, "x") == "07-x.yaml"
    assert benchmark.agency_file_name(7, 500, "x") == "007-x.yaml"
    assert benchmark.agency_file_name(7, 1000, "x") == "0007-x.yaml"


def test_compare_builds_times_a_checkout(tmp_path):
    """scripts/compare_builds.py, which the README's comparisons come from, runs and reports (on a
    copy of the project: each checkout builds with its own .cache/)."""
    checkout, sites = tmp_path / "checkout", tmp_path / "sites"
    for part in ("sitegen", "templates", "assets", "content"):
        shutil.copytree(ROOT / part, checkout / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "build.py", checkout)
    sites.mkdir()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_builds.py"), "--rounds", "1",
                             "--tmp", str(sites), str(checkout)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"{re.escape(str(checkout))} +wall +\d+ ms \(\d+–\d+\)  CPU +\d+ ms\n", result.stdout), \
        result.stdout
    assert list(sites.iterdir()) == []  # its sites are removed
