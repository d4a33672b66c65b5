#!/usr/bin/env python3
"""Build the Quality Month site from content/ into site/.

  python build.py            build site/ (the last good site stays if the content has an error)
  python build.py serve      build, serve on 127.0.0.1 and rebuild + reload the browser on every save
  python build.py check      validate content/ only
  python build.py schema     regenerate the JSON Schemas in content/schema/ from the model and content

Exit status: 0 success, 1 content error, 2 usage or environment error, 3 a bug in the generator.
The recipe itself (load, validate, derive, render, write) is sitegen/pipeline.py."""
from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
from pathlib import Path

STOPPING = threading.Event()  # set by SIGTERM


def _stop_on_sigterm() -> None:
    """SIGTERM stops a build cleanly, as Ctrl+C does: every `finally` runs, so the staging folder
    is removed and site/ stays whole; the exit status is 130. Installed before anything else, so
    that no moment of a build is without it."""
    def interrupted(signum, frame):
        STOPPING.set()
        raise SystemExit(130)

    def unraisable(hook_args):
        # The signal can land inside a callback Python cannot raise from (an import lock's, during
        # an import): there the exit would be printed as "Exception ignored" with a traceback and
        # lost. Send the signal again instead; it is handled at the next step of the build.
        if isinstance(hook_args.exc_value, SystemExit):
            signal.raise_signal(signal.SIGTERM)
        else:
            sys.__unraisablehook__(hook_args)

    signal.signal(signal.SIGTERM, interrupted)
    sys.unraisablehook = unraisable


_stop_on_sigterm()

from sitegen.pipeline import ROOT, Project  # noqa: E402  (after the signal handler)

DEFAULT = Project()
DEFAULT_CACHE = ROOT / ".cache"  # parsed content, converted texts, compiled templates: reused across runs


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
    parser.add_argument("--content", type=Path, default=DEFAULT.content, help="content folder (default: content/)")
    parser.add_argument("--out", type=Path, default=DEFAULT.out, help="output folder (default: site/)")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="where the site is published, e.g. https://example.org/quality/ "
                             "(absolute canonical links, the sitemap, share links, QR codes); overrides site.yaml")
    parser.add_argument("--port", default="8000", help="port for serve (default: 8000; 0 picks a free one)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                        help="where builds keep what they can reuse (default: .cache/)")
    parser.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                        help="keep nothing between runs")
    parser.add_argument("--jobs", default=str(available_cores()), metavar="N",
                        help="processes that render pages in a build (default: the cores this process may use, "
                             f"here {available_cores()}; serve always renders in one, to keep its page cache)")
    args = parser.parse_args(argv)
    from sitegen.errors import usage
    from sitegen.validate import base_url_problem

    if args.base_url is not None and (problem := base_url_problem(args.base_url)):
        parser.error(usage("base_url", detail=problem))
    if not args.port.isdigit() or not 0 <= int(args.port) <= 65535:
        parser.error(usage("port", port=args.port))
    args.port = int(args.port)
    if not args.jobs.isdigit() or not 1 <= int(args.jobs) <= 256:
        parser.error(usage("jobs", jobs=args.jobs))
    args.jobs = int(args.jobs)
    if not args.content.is_dir():
        parser.error(usage("content_missing", path=args.content))
    if args.command in ("build", "serve") and (problem := unsafe_output(args.out, args.content)):
        parser.error(usage(problem, path=args.out, manifest=".sitegen-manifest.json"))
    return args


def unsafe_output(out: Path, content: Path) -> str:
    """Why writing the site to `out` could destroy something that is not a built site (the name of
    the message; '' when it is safe). A build replaces the whole output folder, so it must be new,
    empty, or one it wrote itself."""
    from sitegen.write import written_by_us

    out = out.resolve()
    sources = [content.resolve(), DEFAULT.templates, DEFAULT.assets]
    if out == ROOT or out in ROOT.parents or any(out == s or out in s.parents or s in out.parents for s in sources):
        return "out_is_source"
    if out.exists() and not out.is_dir():
        return "out_is_file"
    if out.is_dir() and any(out.iterdir()) and not written_by_us(out):
        return "out_not_ours"
    return ""


def available_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def project(args, processes: int = 1) -> Project:
    return Project(content=args.content, out=args.out, base_url=args.base_url, cache=args.cache, processes=processes)


def build_once(args) -> int:
    """Build site/ and print the summary line."""
    from sitegen.pipeline import build

    started = time.perf_counter()
    gc.disable()  # one short-lived build allocates much and frees little: skip collection
    result = build(project(args, processes=args.jobs))
    print(summary(result.files, result.site.languages, time.perf_counter() - started))
    if not result.site.config.base_url and not args.base_url:
        print("note: no base URL, so no sitemap.xml or share links, and the 404 page assumes the site is at "
              "the root of its host; give --base-url https://… (or base_url in site.yaml) for those")
    return 0


def serve(args) -> int:
    """Build, serve and rebuild on every save."""
    from sitegen.serve import serve as serve_forever

    return serve_forever(project(args), args.port)


def check(args) -> int:
    """Validate only."""
    from sitegen.validate import load_site

    site = load_site(args.content)
    print(f"content is valid: {len(site.agencies)} agencies, {len(site.activities)} activities")
    return 0


def schema(args) -> int:
    """Write the JSON Schemas that editors' IDEs use, generated from the model and the content."""
    from sitegen.model import write_schemas
    from sitegen.validate import load_site

    written = write_schemas(load_site(args.content), args.content / "schema")
    print(f"wrote {written} schemas to {args.content / 'schema'}")
    return 0


COMMANDS = {"build": build_once, "serve": serve, "check": check, "schema": schema}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sitegen.errors import ContentError, UsageError, display_path

    try:
        return COMMANDS[args.command](args)
    except ContentError as err:
        print(err.report(), file=sys.stderr)
        return 1
    except UsageError as err:
        print(f"build.py: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the output folder cannot be written
        where = display_path(str(err.filename)) if err.filename else ""
        print(f"build.py: {err.strerror or err}{': ' + where if where else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("build.py: interrupted; the output folder is as it was", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 (a bug: one clear line, not a traceback)
        if STOPPING.is_set():  # SIGTERM landed in a library that made an error of its own of it (opencc's import)
            print("build.py: interrupted; the output folder is as it was", file=sys.stderr)
            return 130
        from sitegen.errors import internal_error

        print(f"build.py: {internal_error(err)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
