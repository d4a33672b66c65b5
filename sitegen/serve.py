"""`build.py serve`: build, serve site/ on 127.0.0.1, and rebuild on every save.

File-system events (watchdog) trigger a rebuild that reuses parsed YAML, converted Markdown and
compiled templates, writes only the files that changed, and tells open pages to reload through a
server-sent event. A content error is printed and shown in the browser; site/ keeps the last
good build. (python-livereload polls every 800 ms and injects an inline script that our
Content-Security-Policy forbids, hence this small server instead.)"""
from __future__ import annotations

import html
import http.server
import sys
import threading
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Callable

from .errors import ContentError
from .render import PageCache, make_environment
from .validate import load_site
from .write import write_changes, write_site

RELOAD_SCRIPT = b"""(function () {
  var source = new EventSource("/__events");
  source.onmessage = function () { source.close(); window.location.reload(); };
})();
"""
IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".part")


class Builder:
    """Rebuilds the site, keeping what did not change between builds."""

    def __init__(self, content: Path, out: Path, templates: Path, assets: Path, base_url: str | None,
                 recipe: Callable[..., dict[str, bytes]]):
        self.content, self.out, self.templates, self.assets = content, out, templates, assets
        self.base_url, self.recipe = base_url, recipe
        self.env = make_environment(templates)
        self.yaml_cache: dict = {}
        self.markdown_cache: dict = {}
        self.page_cache = PageCache(templates, assets)
        self.files: dict[str, bytes] | None = None  # what site/ holds, as this builder wrote it
        self.error: ContentError | None = None
        self.generation = 0
        self.changed = threading.Condition()

    def build(self) -> str:
        """One build; returns the line to print. On a content error site/ is left as it was."""
        started = time.perf_counter()
        try:
            site = load_site(self.content, self.yaml_cache)
            base_url = self.base_url if self.base_url is not None else site.config.base_url
            files = self.recipe(site, self.templates, self.assets, base_url,
                                env=self.env, markdown_cache=self.markdown_cache, page_cache=self.page_cache)
            if self.files is None:
                write_site(files, self.out)
            else:
                write_changes(self.files, files, self.out)
            self.files, self.error = files, None
            line = f"rebuilt in {(time.perf_counter() - started) * 1000:.0f} ms"
        except ContentError as err:
            self.error = err
            line = err.report() + "\nThe browser shows this error; site/ still holds the last good build."
        except OSError as err:  # e.g. site/ cannot be written: say so, and keep serving
            line = f"cannot write {self.out}: {err.strerror or err}"
        with self.changed:
            self.generation += 1
            self.changed.notify_all()
        return line


def error_page(error: ContentError) -> bytes:
    """What the browser shows while the content has an error."""
    items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in error.problems)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Content error</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<link rel='stylesheet' href='/__error.css'></head><body><main>"
            f"<h1>The content has {len(error.problems)} error{'s' if len(error.problems) != 1 else ''}</h1>"
            f"<p>Fix the file and save: this page reloads by itself. The last good site is still in site/.</p>"
            f"<ul>{items}</ul></main><script src='/__reload.js'></script></body></html>").encode("utf-8")


ERROR_CSS = b"""body{font:1.1rem/1.6 system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{color:#a4262c}code{white-space:pre-wrap;font-size:1rem}li{margin:.5rem 0}"""


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves site/ (the path is looked up on every request, so a swapped folder is seen), adds the
    reload script to HTML pages, and streams reload events."""

    builder: Builder

    def log_message(self, *args) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/__events":
            return self.stream_events()
        if path == "/__reload.js":
            return self.send_bytes(RELOAD_SCRIPT, "text/javascript")
        if path == "/__error.css":
            return self.send_bytes(ERROR_CSS, "text/css")
        if self.builder.error and (path.endswith("/") or path.endswith(".html")):
            return self.send_bytes(error_page(self.builder.error), "text/html; charset=utf-8", 500)
        file = Path(self.translate_path(path))
        if file.is_dir():
            if not path.endswith("/"):
                return super().do_GET()  # the standard redirect to the folder's URL
            file = file / "index.html"
        if file.suffix == ".html" and file.is_file():
            page = file.read_bytes().replace(b"</body>", b"<script src=\"/__reload.js\"></script></body>", 1)
            return self.send_bytes(page, "text/html; charset=utf-8")
        if not file.exists() and (self.builder.out / "404.html").is_file():
            return self.send_bytes((self.builder.out / "404.html").read_bytes(), "text/html; charset=utf-8", 404)
        return super().do_GET()

    def send_bytes(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream_events(self) -> None:
        """Server-sent events: one 'reload' message after the next build, then the page reloads."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        builder = self.builder
        with builder.changed:
            seen = builder.generation
            while builder.generation == seen:
                if not builder.changed.wait(timeout=15):
                    try:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                    except OSError:
                        return
        try:
            self.wfile.write(b"data: reload\n\n")
            self.wfile.flush()
        except OSError:
            pass


def watch(builder: Builder, folders: list[Path]):
    """Rebuild shortly after any change under the folders (a save often makes several events)."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    pending = threading.Event()

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            name = Path(str(event.src_path)).name
            if name.startswith(".") or name.endswith(IGNORED_SUFFIXES) or name.isdigit():
                return  # editors' swap and backup files (vim also probes with a file named 4913)
            pending.set()

    def rebuild_loop() -> None:
        while True:
            pending.wait()
            time.sleep(0.015)  # let the rest of a multi-event save arrive
            pending.clear()
            try:
                print(builder.build(), flush=True)
            except Exception:  # a bug in a rebuild must not stop the watching: report it, go on
                traceback.print_exc()

    observer = Observer()
    for folder in folders:
        observer.schedule(OnChange(), str(folder), recursive=True)
    observer.start()
    threading.Thread(target=rebuild_loop, daemon=True).start()
    return observer


def serve(args, templates: Path, assets: Path, recipe) -> int:
    """Build, then serve and rebuild until interrupted."""
    builder = Builder(args.content.resolve(), args.out.resolve(), templates, assets, args.base_url, recipe)
    print(builder.build(), flush=True)
    handler = type("BoundHandler", (Handler,), {"builder": builder})
    try:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), partial(handler, directory=str(builder.out)))
    except OSError as err:
        print(f"build.py serve: cannot listen on 127.0.0.1:{args.port}: {err.strerror}; "
              "choose another port with --port", file=sys.stderr)
        return 2
    server.daemon_threads = True
    observer = watch(builder, [args.content, templates, assets])
    print(f"Serving {builder.out} at http://127.0.0.1:{server.server_address[1]}/ "
          "— edits to content/, templates/ and assets/ rebuild and reload. Ctrl+C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        observer.stop()
        server.server_close()
    return 0
