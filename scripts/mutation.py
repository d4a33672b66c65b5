#!/usr/bin/env python3
"""Mutation testing of sitegen/ with cosmic-ray: do the fast tests notice when the generator is wrong?

  python scripts/mutation.py                     draw the seeded sample, run it, print the figures
  python scripts/mutation.py --seed 7 --sample 50
  python scripts/mutation.py --report-only       print the figures of the last run again (.mutation/report.json)
  python scripts/mutation.py --rerun-survivors   run the last run's survivors again (after adding tests)
  python scripts/mutation.py --fast-tests        run the fast tests once, un-mutated, and time them

Needs requirements-dev.txt (cosmic-ray is pinned there). Not run by CI: a run of the default sample
took 68 minutes on a 2-core machine (2026-11-26).

How it works
  1. The working tree (with uncommitted edits) is copied to a temporary folder, and everything
     happens there: cosmic-ray rewrites source files in place, so a run, even one killed half-way,
     never leaves a mutated file in this checkout.
  2. `cosmic-ray init` lists every mutant of every module of sitegen/ (CONFIG below: all operators,
     no excluded module). The only mutants set aside are those in annotations that Python never
     evaluates (see `unevaluated_annotations`): they cannot change behaviour, so no test can kill them.
  3. A seeded random sample (SEED, SAMPLE; --seed, --sample) of the rest is drawn; every other
     mutant is marked skipped in the session, and cosmic-ray's local distributor runs the sample,
     one mutant at a time, against the fast tests (FAST_TESTS) with a per-mutant timeout.
     The tests that run the mutated line (from one run of the fast tests under coverage, with a
     context per test) go first, then all the others: every mutant still meets every fast test,
     but one that a test kills is usually killed within seconds, which makes a run of the default
     sample about four times shorter.
  4. A mutant "crashed at once" when importing sitegen's modules fails, or a plain build of the real
     content (sitegen.pipeline.build, as `build.py --no-cache` does) raises or does not finish
     within PROBE_SECONDS: anything at all kills it, not a test that checks behaviour. This probe
     runs first, for every mutant; one that crashes is killed without running the tests (which
     saves minutes on mutants that hang), reported, and not counted.
  5. Figures: sampled, crashed at once, counted (= sampled - crashed - mutants cosmic-ray could not
     run), killed, survived, score = killed / counted; then each survivor (module, line, operator,
     the line as mutated), with the verdict of HARMLESS when one was given.

The sample and the results go to .mutation/ (session.sqlite, report.json): --report-only prints
them again, --rerun-survivors re-runs only the survivors with the current tests (refused when
sitegen/ changed since, as the mutants would no longer be the same)."""
from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import os
import random
import re
import shlex
import signal
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".mutation"  # session and report of the last run (not committed)
SEED = 20200901
SAMPLE = 200
PROBE_SECONDS = 30  # a plain build takes a second or two; one that has not finished by then never will

# --- The fast tests --------------------------------------------------------------------------
# In this order: with -x a killed mutant costs only the tests up to the first failure, so the
# quick in-process tests come first and the slow ones (subprocesses, serve) last.
FAST_TESTS = [
    "tests/test_units.py",
    "tests/test_errors.py",
    "tests/test_build.py",
    "tests/test_data.py",
    "tests/test_traditional.py",
    "tests/test_security.py",
    "tests/test_links.py",
    "tests/test_print.py",
    "tests/test_sharing.py",
    "tests/test_search.py",
    "tests/test_english.py",
    "tests/test_content.py",
    "tests/test_benchmark_smoke.py",
    "tests/test_hardening.py",
    "tests/test_serve.py",
    "tests/test_search_core.py",
]
# Left out, each for a reason (tests/ files not in FAST_TESTS are left out too):
LEFT_OUT = {
    "tests/test_hosting.py": "needs nginx",
    "tests/test_bad_edits.py": "40 runs of build.py in a subprocess, each timed against a 1-second limit: about a "
                               "minute, and on a busy machine a slow run fails it, a false kill; "
                               "tests/test_units.py runs the same corpus in process, without the clock",
    "tests/test_html_valid.py": "needs Java and vnu.jar, and checks every page of three builds: minutes",
    "tests/test_accessibility.py tests/test_layout_shift.py tests/test_reading.py":
        "Chromium only ('browser' marker: -m 'not browser' deselects them)",
}
DESELECTED = {
    "tests/test_content.py::test_yamllint_is_clean_with_the_projects_config":
        "lints content/ files; sitegen plays no part",
    "tests/test_hardening.py::test_sigterm_during_a_build_leaves_the_old_site_whole_and_nothing_beside_it":
        "times SIGTERMs against build.py subprocesses: timing-dependent (a false kill under load), and what it "
        "tests is build.py's signal handler, which is outside sitegen/",
    "tests/test_hardening.py::test_readers_never_find_the_home_page_missing_while_the_site_is_rebuilt":
        "5 builds against a busy reader thread, 6-10 s; tests/test_units.py checks the atomic exchange directly",
    "tests/test_hardening.py::test_hostile_or_mistaken_content_is_a_message_with_exit_1":
        "7 runs of build.py in a subprocess (~8 s); the same mistakes are checked in process by tests/test_errors.py "
        "and tests/test_units.py",
    "tests/test_hardening.py::test_usage_mistakes_exit_2_with_a_message":
        "build.py's command line (argparse, exit status) in subprocesses: outside sitegen/",
    "tests/test_build.py::test_usage_errors_exit_2": "build.py's command line in subprocesses: outside sitegen/",
    "tests/test_build.py::test_cli_prints_one_summary_line": "build.py's summary line, in a subprocess: outside sitegen/",
    "tests/test_build.py::test_check_validates_only": "build.py's check command, in a subprocess: outside sitegen/",
}

# cosmic-ray's configuration: every module of sitegen/, every core operator.
CONFIG = """\
[cosmic-ray]
module-path = "sitegen"
excluded-modules = []
timeout = {timeout}
test-command = "{test_command}"

[cosmic-ray.distributor]
name = "local"
"""

# Survivors judged harmless, so that a later run says so next to them:
# (module, operator, the original line stripped) → why.
HARMLESS: dict[tuple[str, str, str], str] = {
    ("sitegen/derive.py", "core/ReplaceComparisonOperator_Eq_LtE",
     "pairs = {a + b for a, b in zip(text, converted) if a != b} if len(converted) == len(text) else set()"):
        "differs only for a conversion shorter than its text, which OpenCC's character-based configurations "
        "(s2tw, the site's) never make",
    ("sitegen/derive.py", "core/ReplaceComparisonOperator_Lt_Eq",
     "if rb in corpus and (ra not in corpus or rb < ra):"):
        "only chooses which of two characters of the written text stands for their class; search folds the query "
        "and the texts with the same table, so it finds the same activities",
    ("sitegen/derive.py", "core/ReplaceComparisonOperator_Lt_IsNot",
     "if rb in corpus and (ra not in corpus or rb < ra):"):
        "only chooses which of two characters of the written text stands for their class (see the Lt_Eq mutant)",
    ("sitegen/derive.py", "core/ReplaceComparisonOperator_NotEq_IsNot", "while start != -1:"):
        "equivalent: str.find returns the int -1, which CPython keeps as one object, so `is not -1` is `!= -1`",
    ("sitegen/model.py", "core/NumberReplacer",
     "index: int = 0  # its position in its agency's file, for error messages"):
        "equivalent: the default is never used, validate.py passes every activity's index",
    ("sitegen/serve.py", "core/NumberReplacer", "line = self.error[0]"):
        "equivalent when it is self.error[-1]: that list always holds one line",
    ("sitegen/serve.py", "core/NumberReplacer",
     "body = body.replace(b\"</body>\", b'<script src=\"/__reload.js\"></script></body>', 1)"):
        "equivalent when the count becomes 2 (0 is killed): a page has one </body>, content being escaped",
    ("sitegen/serve.py", "core/ReplaceComparisonOperator_Eq_Is",
     "if event.is_directory and event.event_type == \"modified\":"):
        "equivalent: watchdog's event type is its constant EVENT_TYPE_MODIFIED, the same interned string",
    ("sitegen/text.py", "core/ReplaceComparisonOperator_Eq_LtE",
     "out += (\"\" if digit == 1 and unit == \"十\" and not out else _DIGITS[digit]) + unit"):
        "equivalent: a zero digit never reaches this line (it is skipped just above)",
    ("sitegen/write.py", "core/ReplaceBinaryOperator_BitOr_BitXor",
     "handle = os.open(folder / relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)"):
        "equivalent: the three flags are distinct bits, so ^ combines them as | does",
    ("sitegen/validate.py", "core/NumberReplacer", "stand_in = Agency(0, named[2], {}, {}, str(path))"):
        "equivalent: nothing reads the stand-in agency's number; its file already has an error, and only its "
        "activities' own fields are checked",
    ("sitegen/write.py", "core/NumberReplacer",
     "handle = os.open(folder / relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)"):
        "equivalent: the next line sets the mode to 0o644 whatever open made",
    ("sitegen/validate.py", "core/NumberReplacer",
     "_STAND_IN = {\"number\": 1, \"topics\": [\"x\"], \"title\": {}, \"text\": {}}"):
        "equivalent: any valid number serves, the stand-in only lets the file's other fields be checked",
}

CANNOT_APPLY = ("cosmic-ray cannot apply it: its ExceptionReplacer fails on a dotted exception name such as "
                "msgspec.DecodeError (AttributeError: 'PythonNode' object has no attribute 'value'); tried in memory "
                "for every ExceptionReplacer mutant when the session is made")
SKIP_REASON = ("in an annotation that is never evaluated: every sitegen module has `from __future__ import "
               "annotations`, so a function's or a variable's annotation stays a string that nothing reads "
               "(class-level annotations are kept: msgspec and typing.get_type_hints evaluate those)")


def fast_test_command(python: str = sys.executable) -> list[str]:
    return [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not browser", "-rfE",
            "--no-header", *FAST_TESTS, *(arg for test in DESELECTED for arg in ("--deselect", test))]


# --- The working copy ------------------------------------------------------------------------

def copy_tree(target: Path) -> Path:
    """The working tree as it is (uncommitted edits included), without what builds and tools keep."""
    skipped = {".git", ".venv", ".cache", ".mutation", "site", "__pycache__", ".pytest_cache", "bench-out",
               "node_modules"}

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in skipped or name.startswith(".site.")}
    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    if (ROOT / "tests" / "node_modules").is_dir():  # large, and only read
        (target / "tests" / "node_modules").symlink_to(ROOT / "tests" / "node_modules")
    return target


def sitegen_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in sorted((root / "sitegen").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# --- Which mutants are set aside -------------------------------------------------------------

def unevaluated_annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The spans (line, column in characters, as cosmic-ray counts) of the annotations Python never
    evaluates in a module with `from __future__ import annotations`: those of function parameters
    and return values, and of variables outside a class body. Empty for a module without it."""
    tree = ast.parse(source)
    future = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                 and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    if not future:
        return []
    lines = source.splitlines()

    def position(line: int, byte_col: int) -> tuple[int, int]:
        return line, len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace"))

    in_class = {id(stmt) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                for stmt in node.body if isinstance(stmt, ast.AnnAssign)}
    annotations = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg,
                        arguments.kwarg]:
                if arg is not None and arg.annotation is not None:
                    annotations.append(arg.annotation)
            if node.returns is not None:
                annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign) and id(node) not in in_class:
            annotations.append(node.annotation)
    return [(position(a.lineno, a.col_offset), position(a.end_lineno, a.end_col_offset)) for a in annotations]


def applies(mutation) -> bool:
    """Whether cosmic-ray can make this mutant (only its ExceptionReplacer is known to fail, on dotted names)."""
    if mutation.operator_name != "core/ExceptionReplacer":
        return True
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    operator = cosmic_ray.plugins.get_operator(mutation.operator_name)(**(mutation.operator_args or {}))
    try:
        return mutate_code(Path(mutation.module_path).read_text("utf-8"), operator, mutation.occurrence) is not None
    except Exception:  # noqa: BLE001 (cosmic-ray's own failure, whatever it is)
        return False


def inside(start, end, spans) -> bool:
    return any(tuple(a) <= tuple(start) and tuple(end) <= tuple(b) for a, b in spans)


# --- Running ---------------------------------------------------------------------------------

def run_fast_tests(cwd: Path, timeout: float | None = None, command: list[str] | None = None
                   ) -> tuple[int, str, float]:
    """The fast tests once: (exit status, output, seconds); status -1 when they ran out of time."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)  # under CI some tests fail instead of skipping when a tool is missing
    try:
        proc = subprocess.run(command or fast_test_command(), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, env=env)
        return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - started
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode("utf-8", "replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        return -1, out, time.perf_counter() - started


# Beside the working copy (not in it, where a test could see them):
COVERAGE_MAP = "coverage-map.json"  # {module: {line: [test ids]}}
PRISTINE = "pristine-sitegen"  # sitegen/ as it was, to find the lines a mutant changed


def map_coverage(tree: Path) -> int:
    """Run the fast tests once under coverage with one context per test, and keep, for every line
    of sitegen/, the tests that ran it. Returns the number of lines mapped."""
    from coverage import CoverageData

    data_file = tree.parent / "coverage-data"
    command = fast_test_command() + ["--cov=sitegen", "--cov-context=test", "--cov-report=",
                                     "--durations=0", "--durations-min=0"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COVERAGE_FILE": str(data_file)}
    env.pop("CI", None)
    proc = subprocess.run(command, cwd=tree, capture_output=True, text=True, env=env, check=True)
    seconds: dict[str, float] = {}  # each test's own time (setup, call, teardown), quickest first later
    for found in re.finditer(r"(?m)^([\d.]+)s (?:setup|call|teardown) +(\S.*)$", proc.stdout):
        seconds[found[2]] = seconds.get(found[2], 0.0) + float(found[1])
    data = CoverageData(str(data_file))
    data.read()
    mapped: dict[str, dict[str, list[str]]] = {}
    for filename in data.measured_files():
        module = Path(filename).resolve().relative_to(tree).as_posix()
        by_line = data.contexts_by_lineno(filename)
        mapped[module] = {str(line): sorted({c.rsplit("|", 1)[0] for c in contexts if c},
                                            key=lambda test: (seconds.get(test, 60.0), test))
                          for line, contexts in by_line.items()}
    (tree.parent / COVERAGE_MAP).write_text(json.dumps(mapped), "utf-8")
    shutil.copytree(tree / "sitegen", tree.parent / PRISTINE, ignore=shutil.ignore_patterns("__pycache__"))
    return sum(len(lines) for lines in mapped.values())


def tests_of_mutated_lines(cwd: Path) -> list[str]:
    """The fast tests that ran the lines the applied mutant changed, quickest first (empty without
    a coverage map)."""
    if not (cwd.parent / COVERAGE_MAP).is_file():
        return []
    mapped = json.loads((cwd.parent / COVERAGE_MAP).read_text("utf-8"))
    selected: dict[str, None] = {}
    for pristine in (cwd.parent / PRISTINE).glob("*.py"):
        before = pristine.read_text("utf-8").splitlines()
        after = (cwd / "sitegen" / pristine.name).read_text("utf-8").splitlines()
        if before == after:
            continue
        lines = mapped.get(f"sitegen/{pristine.name}", {})
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        for tag, start, end, _, _ in matcher.get_opcodes():
            if tag != "equal":
                for line in range(start + 1, max(end, start + 1) + 1):
                    selected.update(dict.fromkeys(lines.get(str(line), ())))
    return list(selected)


PROBE = """\
import importlib, pathlib, pkgutil, sys, tempfile
sys.path.insert(0, ".")
import sitegen
for module in pkgutil.iter_modules(sitegen.__path__):
    importlib.import_module("sitegen." + module.name)
from sitegen.pipeline import Project, build
with tempfile.TemporaryDirectory(prefix="probe-") as folder:
    build(Project(out=pathlib.Path(folder) / "site"))
"""


def probe(cwd: Path) -> str:
    """Why the generator fails at once ('' when it imports and builds the real content)."""
    try:
        proc = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, capture_output=True, text=True,
                              timeout=PROBE_SECONDS, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired:
        return f"a plain build did not finish in {PROBE_SECONDS} s"
    if proc.returncode == 0:
        return ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit {proc.returncode}")[:300]


def test_mutant(timeout: float) -> int:
    """What cosmic-ray runs for each mutant (cwd: the working copy, the mutant applied). First the
    probe: a mutant that breaks importing or a plain build crashed at once; it is killed without
    running the tests (anything kills it, and it is not counted). Otherwise the fast tests. Markers
    in the output (which cosmic-ray keeps) carry the verdicts to the report."""
    cwd = Path.cwd()
    reason = probe(cwd)
    if reason:
        print(f"@@seconds 0\n@@killed-by probe\n@@crashed {reason}")
        return 1
    first = tests_of_mutated_lines(cwd)
    status, output, seconds = 0, "", 0.0
    if first:  # the tests that run the mutated line, then the others (each test runs once)
        base = fast_test_command()
        status, output, seconds = run_fast_tests(cwd, timeout, base[:base.index(FAST_TESTS[0])] + first)
        if status in (2, 3, 4, 5):  # pytest could not run them as named (not a test failing): no order
            first, status, output = [], 0, output + "\n(the tests of the line could not be run first)\n"
    if status == 0:
        rest = [arg for test in first for arg in ("--deselect", test)]
        status, more, spent = run_fast_tests(cwd, timeout and timeout - seconds, fast_test_command() + rest)
        output, seconds = output + more, seconds + spent
    print(output[-3000:])
    print(f"@@seconds {seconds:.1f}")
    if status == 0:
        print("@@survived")
        return 0
    print(f"@@killed-by {'timeout' if status == -1 else killer(output)}\n@@not-crashed")
    return 1


def killer(output: str) -> str:
    """The first failing test named in pytest's output (or what went wrong before any test ran)."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0].split(" ", 1)[1]
    if "ImportError while loading conftest" in output:
        return "conftest import"
    tail = [line for line in output.splitlines() if line.strip()]
    return tail[-1][:200] if tail else "no output"


def mutated_line(source: str, operator_name: str, args: dict, occurrence: int, line: int) -> tuple[str, str]:
    """(original line, mutated line) of one mutant, by applying it in memory."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    operator = cosmic_ray.plugins.get_operator(operator_name)(**(args or {}))
    mutated = mutate_code(source, operator, occurrence)
    original_lines = source.splitlines()
    original = original_lines[line - 1].strip() if line <= len(original_lines) else ""
    if mutated is None:
        return original, "(no mutation)"
    new = [l for l in difflib.unified_diff(original_lines, mutated.splitlines(), lineterm="", n=0)
           if l.startswith("+") and not l.startswith("+++")]
    return original, " / ".join(l[1:].strip() for l in new) or "(line removed)"


def parse_output(output: str | None) -> dict:
    output = output or ""
    found = {"seconds": None, "killed_by": "", "crashed": None}
    for line in output.splitlines():
        if line.startswith("@@seconds "):
            found["seconds"] = float(line.split()[1])
        elif line.startswith("@@killed-by "):
            found["killed_by"] = line[len("@@killed-by "):]
        elif line.startswith("@@crashed "):
            found["crashed"] = line[len("@@crashed "):]
        elif line.startswith("@@not-crashed"):
            found["crashed"] = ""
    if output.strip() == "timeout":  # cosmic-ray's own timeout: even the probe had no time
        found["killed_by"] = "timeout"
    return found


def run(args) -> int:
    from cosmic_ray.commands.init import init
    from cosmic_ray.config import deserialize_config
    from cosmic_ray.modules import filter_paths, find_modules
    from cosmic_ray.plugins import get_distributor
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    started = time.perf_counter()
    STATE.mkdir(exist_ok=True)
    session, meta_path = STATE / "session.sqlite", STATE / "session.json"
    resume = args.resume or args.rerun_survivors
    if resume:
        if not (session.is_file() and meta_path.is_file()):
            print("no session to resume in .mutation/; run without --resume", file=sys.stderr)
            return 2
        meta = json.loads(meta_path.read_text("utf-8"))
        if meta["sitegen_digest"] != sitegen_digest():
            print("sitegen/ changed since the session was made: its mutants are not the same; run without --resume",
                  file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="sitegen-mutation-"))
    try:
        tree = copy_tree(work / "tree")
        print(f"working copy: {tree}", flush=True)
        status, output, baseline = (0, "", 0.0) if args.no_baseline else run_fast_tests(tree)
        print(f"fast tests, un-mutated: exit {status} in {baseline:.0f} s", flush=True)
        if status != 0:
            print(output[-5000:], file=sys.stderr)
            print("the fast tests must pass before mutants can be judged by them", file=sys.stderr)
            return 2
        if reason := probe(tree):
            print(f"the un-mutated generator fails the probe: {reason}", file=sys.stderr)
            return 2
        print(f"coverage of the fast tests: {map_coverage(tree)} lines of sitegen/ mapped to the tests that run them",
              flush=True)
        timeout = args.timeout or max(180.0, round(3 * baseline))
        test_command = f"{sys.executable} {tree / 'scripts' / 'mutation.py'} _test --timeout {timeout}"
        config = deserialize_config(CONFIG.format(timeout=timeout + PROBE_SECONDS + 60, test_command=test_command))
        os.chdir(tree)  # cosmic-ray names modules relative to here, and mutates them here
        if resume:
            if args.rerun_survivors:
                import sqlite3

                harmless = [m["job_id"] for m in make_report()["mutants"] if m["outcome"] == "survived"
                            and (m["module"], m["operator"], m["original"]) in HARMLESS]
                with sqlite3.connect(session) as connection:  # no result: cosmic-ray runs them again
                    connection.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED' AND job_id NOT IN "
                                       f"({','.join('?' * len(harmless))})", harmless)
        else:
            if session.exists():
                session.unlink()
            with use_db(str(session)) as db:
                modules = sorted(filter_paths(find_modules([Path(config["module-path"])]),
                                               config.get("excluded-modules", ())))
                init(modules, db, config.operators_config)
                items = sorted(db.work_items, key=lambda w: (str(w.mutations[0].module_path),
                                                              w.mutations[0].operator_name, w.mutations[0].occurrence))
                spans = {m: unevaluated_annotations(m.read_text("utf-8")) for m in modules}
                rule_out = [w.job_id for w in items
                            if inside(w.mutations[0].start_pos, w.mutations[0].end_pos, spans[w.mutations[0].module_path])]
                cannot = [w.job_id for w in items if not applies(w.mutations[0])]
                eligible = [w.job_id for w in items if w.job_id not in set(rule_out) | set(cannot)]
                sampled_ids = set(random.Random(args.seed).sample(eligible, min(args.sample, len(eligible))))
                db.set_multiple_results(rule_out, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=SKIP_REASON))
                db.set_multiple_results(cannot, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=CANNOT_APPLY))
                db.set_multiple_results([j for j in eligible if j not in sampled_ids],
                                        WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not in the sample"))
            meta = {"seed": args.seed, "sample": len(sampled_ids), "total_mutants": len(items),
                    "skipped_by_rule": {SKIP_REASON: len(rule_out), CANNOT_APPLY: len(cannot)},
                    "sitegen_digest": sitegen_digest(), "runs": []}
        aside = meta["skipped_by_rule"]
        print(f"{meta['total_mutants']} mutants; set aside {aside[SKIP_REASON]} in annotations and "
              f"{aside[CANNOT_APPLY]} that cosmic-ray cannot apply; sample of {meta['sample']} (seed {meta['seed']}); "
              f"timeout {timeout:.0f} s a mutant", flush=True)

        with use_db(str(session), WorkDB.Mode.open) as db:
            pending = sorted(db.pending_work_items, key=lambda w: (str(w.mutations[0].module_path),
                                                                   w.mutations[0].start_pos))
            print(f"running {len(pending)}" + (" (the rest were run before)" if resume else ""), flush=True)
            by_id = {w.job_id: w.mutations[0] for w in pending}
            done = 0

            def on_task_complete(job_id, result):
                nonlocal done
                done += 1
                db.set_result(job_id, result)
                found = parse_output(result.output)
                verdict = ("survived" if result.test_outcome == TestOutcome.SURVIVED else
                           "crashed at once" if found["crashed"] else
                           f"killed by {found['killed_by']}" if result.test_outcome == TestOutcome.KILLED else
                           (result.test_outcome or result.worker_outcome).value)
                mutation = by_id[job_id]
                print(f"[{done}/{len(pending)}] {mutation.module_path}:{mutation.start_pos[0]} "
                      f"{mutation.operator_name}: {verdict} "
                      f"({found['seconds'] or 0:.0f} s; {time.perf_counter() - started:.0f} s in all)", flush=True)

            def stop(signum, frame):
                raise KeyboardInterrupt
            signal.signal(signal.SIGTERM, stop)
            interrupted = False
            try:
                get_distributor(config.distributor_name)(pending, config.test_command, config.timeout,
                                                         config.distributor_config, on_task_complete=on_task_complete)
            except KeyboardInterrupt:  # what was done is kept: --resume goes on from there
                interrupted = True
                print("interrupted: the results so far are kept; --resume runs the rest", flush=True)
        kind = "rerun of survivors" if args.rerun_survivors else "resumed" if resume else "run"
        meta["runs"].append({"kind": kind + (", interrupted" if interrupted else ""), "mutants": done, "baseline_seconds": round(baseline, 1), "timeout_seconds": timeout,
                             "elapsed_seconds": round(time.perf_counter() - started),
                             "test_command": shlex.join(fast_test_command("python"))})
        meta_path.write_text(json.dumps(meta, indent=1) + "\n", "utf-8")
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    report = make_report()
    print_report(report)
    return 0


def make_report() -> dict:
    """The figures and every sampled mutant, from the session in .mutation/ (also written to report.json)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    meta = json.loads((STATE / "session.json").read_text("utf-8"))
    with use_db(str(STATE / "session.sqlite"), WorkDB.Mode.open) as db:
        completed = db.completed_work_items
        pending = len(db.pending_work_items)
    sources: dict[str, str] = {}
    mutants = []
    for item, result in completed:
        if result.worker_outcome == WorkerOutcome.SKIPPED:
            continue
        mutation = item.mutations[0]
        module = str(mutation.module_path)
        if module not in sources:
            sources[module] = (ROOT / module).read_text("utf-8")
        found = parse_output(result.output)
        original, mutated = mutated_line(sources[module], mutation.operator_name, mutation.operator_args,
                                         mutation.occurrence, mutation.start_pos[0])
        crashed = found["crashed"]
        if result.test_outcome == TestOutcome.KILLED and crashed is None:  # cosmic-ray's timeout cut it off
            crashed = ""
        mutants.append({
            "job_id": item.job_id, "module": module, "line": mutation.start_pos[0], "operator": mutation.operator_name,
            "occurrence": mutation.occurrence, "original": original, "mutated": mutated,
            "outcome": (result.test_outcome or result.worker_outcome).value,
            "killed_by": found["killed_by"], "crashed": crashed or "", "seconds": found["seconds"],
        })
    report = {**meta, "pending": pending, "current": meta["sitegen_digest"] == sitegen_digest(),
              "mutants": sorted(mutants, key=lambda m: (m["module"], m["line"], m["operator"]))}
    (STATE / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return report


def figures(report: dict) -> dict:
    mutants = report["mutants"]
    crashed = [m for m in mutants if m["outcome"] == "killed" and m["crashed"]]
    not_run = [m for m in mutants if m["outcome"] not in ("killed", "survived")]
    counted = [m for m in mutants if m not in crashed and m not in not_run]
    killed = [m for m in counted if m["outcome"] == "killed"]
    survived = [m for m in counted if m["outcome"] == "survived"]
    return {"sampled": len(mutants), "crashed": crashed, "not_run": not_run, "counted": counted,
            "killed": killed, "survived": survived,
            "score": len(killed) / len(counted) if counted else 0.0}


def print_report(report: dict) -> None:
    f = figures(report)
    aside = report["skipped_by_rule"]
    print()
    print(f"cosmic-ray on sitegen/: {report['total_mutants']} mutants; set aside {aside[SKIP_REASON]} in annotations "
          f"never evaluated and {aside[CANNOT_APPLY]} that cosmic-ray cannot apply; "
          f"a sample of {report['sample']} of the rest with seed {report['seed']}")
    if not report["current"]:
        print("  (sitegen/ has changed since: the lines below are of the current files and may be off)")
    for run in report["runs"]:
        print(f"  {run['kind']}: {run['mutants']} mutants in {run['elapsed_seconds'] / 60:.0f} min "
              f"(fast tests un-mutated {run['baseline_seconds']:.0f} s, timeout {run['timeout_seconds']:.0f} s a mutant)")
    if report["runs"]:
        print(f"  fast tests: {report['runs'][-1]['test_command']}")
    print(f"  sampled          {f['sampled']}" + (f"   ({report['pending']} not run yet: --resume runs them)"
                                                 if report["pending"] else ""))
    print(f"  crashed at once  {len(f['crashed'])}   (import or a plain build fails: killed by anything, not counted)")
    if f["not_run"]:
        print(f"  not run          {len(f['not_run'])}   (cosmic-ray could not apply or run them: not counted)")
    print(f"  counted          {len(f['counted'])}")
    print(f"  killed           {len(f['killed'])}")
    print(f"  survived         {len(f['survived'])}")
    print(f"  score            {f['score']:.1%} (killed / counted)")
    if f["survived"]:
        print("\nsurvivors (module:line operator: the line as mutated):")
        for m in f["survived"]:
            why = HARMLESS.get((m["module"], m["operator"], m["original"]))
            print(f"  {m['module']}:{m['line']} {m['operator'].removeprefix('core/')}")
            print(f"      was: {m['original']}")
            print(f"      now: {m['mutated']}")
            if why:
                print(f"      judged harmless: {why}")
    for m in f["not_run"]:
        print(f"  not run: {m['module']}:{m['line']} {m['operator']} ({m['outcome']})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_test"]:  # what cosmic-ray runs for one mutant
        timeout = float(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else None
        return test_mutant(timeout)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=SEED, help=f"the sample's seed (default {SEED})")
    parser.add_argument("--sample", type=int, default=SAMPLE, help=f"how many mutants to run (default {SAMPLE})")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds for the fast tests on one mutant (default: 3 × an un-mutated run, at least 180)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not run the fast tests un-mutated first (for trying the script out)")
    parser.add_argument("--report-only", action="store_true", help="print the last run's report again")
    parser.add_argument("--resume", action="store_true",
                        help="run the session's mutants that have no result yet (after an interruption)")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="run the session's survivors again, with the current tests (and any not run yet); "
                             "those judged HARMLESS keep their verdict")
    parser.add_argument("--fast-tests", action="store_true", help="run the fast tests once, un-mutated, and time them")
    args = parser.parse_args(argv)
    if args.report_only:
        if not (STATE / "session.json").is_file():
            print("no session yet in .mutation/; run without --report-only", file=sys.stderr)
            return 2
        print_report(make_report())
        return 0
    if args.fast_tests:
        print(shlex.join(fast_test_command("python")))
        status, output, seconds = run_fast_tests(ROOT)
        print(output[-2500:])
        print(f"exit {status} in {seconds:.0f} s")
        return 0 if status == 0 else 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
