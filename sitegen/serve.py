"""`build.py serve`: build, serve site/ on 127.0.0.1, and rebuild on every save.

File-system events (watchdog) trigger a rebuild by the same Builder a one-off build uses, kept in
memory: it reuses parsed YAML, converted texts, compiled templates and rendered pages, serves the
new site from memory and tells open pages to reload through a server-sent event as soon as it is
made, then writes the files that changed to site/ (the browser need not wait for the disk). A content
error is printed and shown in the browser; site/ keeps the last good build. (python-livereload
polls every 800 ms and injects an inline script that our Content-Security-Policy forbids, hence
this small server instead.)

The server is for the editor's own browser: it answers only requests addressed to 127.0.0.1 or
localhost (a web page elsewhere cannot read it through DNS rebinding), serves only files of the
built site (no folder listings), and says what each file is (charset, nosniff)."""
from __future__ import annotations

import html
import http.server
import mimetypes
import posixpath
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import ContentError, UsageError, display_path, internal_error
from .pipeline import Builder, Project

RELOAD_SCRIPT = b"""(function () {
  var source = new EventSource("/__events");
  source.onmessage = function () { source.close(); window.location.reload(); };
})();
"""
ERROR_CSS = b"""body{font:1.1rem/1.6 system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{color:#a4262c}code{white-space:pre-wrap;font-size:1rem}li{margin:.5rem 0}"""
IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".part")
TEXT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".json": "application/json",
              ".csv": "text/csv", ".xml": "application/xml", ".txt": "text/plain", ".svg": "image/svg+xml",
              ".webmanifest": "application/manifest+json", ".md": "text/markdown"}


class Watcher:
    """Rebuilds the site on request and remembers the outcome for the HTTP handler."""

    def __init__(self, project: Project):
        self.builder = Builder(project)
        self.out = project.out.absolute()
        self.error: list[str] | None = None  # the lines of the current error, if the last build failed
        self.files: dict[str, bytes] | None = None  # a build's files, served until they are in site/
        self.generation = 0
        self.changed = threading.Condition()
        self.told = False  # whether open pages have been told of this build

    def build(self) -> str:
        """One build; returns the line to print. On any error site/ is left as it was."""
        started = time.perf_counter()
        self.told = False
        try:
            result = self.builder.build(ready=self.show)
            self.files = None  # site/ holds them now: at 10,000 activities they are 150 MB
            self.error = None
            line = f"rebuilt in {(time.perf_counter() - started) * 1000:.0f} ms"
            if result.notice:
                line = f"{result.notice}\n{line}"
        except ContentError as err:
            self.error = [str(p) for p in err.problems]
            line = err.report() + "\nThe browser shows this error; site/ still holds the last good build."
        except UsageError as err:
            self.error = [str(err)]
            line = f"build.py serve: {err}"
        except OSError as err:  # e.g. site/ cannot be written: say so, and keep serving
            self.error = [f"cannot write {display_path(str(err.filename or self.out))}: {err.strerror or err}"]
            line = self.error[0]
        except Exception as err:  # noqa: BLE001 (a bug: say where, show it in the browser, keep serving)
            self.error = [internal_error(err)]
            line = self.error[0]
        if not self.told or self.error:  # a first build, or an error (perhaps in writing what was shown)
            self.tell()
        if self.error is None:  # once the browser has been told: writing the caches to disk takes a while
            self.builder.save_caches()
        return line

    def show(self, files: dict[str, bytes] | None) -> None:
        """A build's files are made: serve them from memory at once and tell open pages to reload,
        while they are written to site/ (a first build's are not held in memory: they are shown
        once written)."""
        self.files = files  # None: from site/ (also when another build has written it since)
        if files is not None:
            self.error = None
            self.tell()

    def tell(self) -> None:
        with self.changed:
            self.generation += 1
            self.told = True
            self.changed.notify_all()


def site_parts(path: str) -> list[str] | None:
    """The parts of a URL path inside the site; None for a path that would leave it (.. included)."""
    parts = [part for part in posixpath.normpath(path).split("/") if part]
    if any(part in ("..", ".") or "\\" in part or "\0" in part for part in parts):
        return None
    return parts


def error_page(lines: list[str]) -> bytes:
    """What the browser shows while the last build failed."""
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
    count = len(lines)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Build error</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<link rel='stylesheet' href='/__error.css'></head><body><main>"
            f"<h1>The site has {count} error{'s' if count != 1 else ''}</h1>"
            f"<p>Fix the file and save: this page reloads by itself. The last good site is still in site/.</p>"
            f"<ul>{items}</ul></main><script src='/__reload.js'></script></body></html>"
            ).encode("utf-8", "backslashreplace")


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves the built site: files only, with their types, plus the reload script and events."""

    watcher: Watcher
    allowed_hosts: frozenset[str]
    server_version = "sitegen-serve"

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self.respond(head=True)

    def do_GET(self) -> None:
        self.respond(head=False)

    def respond(self, head: bool) -> None:
        if self.headers.get("Host", "").lower() not in self.allowed_hosts:
            return self.send(b"Only requests for this computer's own address are served.\n", ".txt", 403, head)
        if not self.path.startswith("/"):
            return self.send(b"Bad request.\n", ".txt", 400, head)
        path = unquote(urlsplit(self.path).path)
        if path == "/__events" and not head:
            return self.stream_events()
        if path == "/__reload.js":
            return self.send(RELOAD_SCRIPT, ".js", 200, head)
        if path == "/__error.css":
            return self.send(ERROR_CSS, ".css", 200, head)
        if self.watcher.error and (path.endswith("/") or path.endswith(".html")):
            return self.send(error_page(self.watcher.error), ".html", 500, head)
        files, parts = self.watcher.files, site_parts(path)
        if files is not None and parts is not None:  # the last build, from memory
            name = "/".join(parts)
            index = f"{name}/index.html" if name else "index.html"
            if name in files:
                return self.send_file(files[name], name, head)
            if index in files:
                return self.send_file(files[index], index, head) if path.endswith("/") else self.redirect(path + "/", head)
        file = self.site_file(path)
        if file is None:
            return self.not_found(head)
        if file.is_dir():
            if not path.endswith("/"):
                return self.redirect(path + "/", head)
            file = file / "index.html"
            if not file.is_file():
                return self.not_found(head)
        return self.send_file(file.read_bytes(), file.name, head)

    def send_file(self, body: bytes, name: str, head: bool) -> None:
        suffix = posixpath.splitext(name)[1]
        if suffix == ".html":
            body = body.replace(b"</body>", b'<script src="/__reload.js"></script></body>', 1)
        return self.send(body, suffix, 200, head)

    def site_file(self, path: str) -> Path | None:
        """The file or folder of the site at a URL path; None for anything else (.. included)."""
        parts = site_parts(path)
        if parts is None:
            return None
        target = self.watcher.out.joinpath(*parts)
        try:
            if not target.resolve().is_relative_to(self.watcher.out.resolve()) or not target.exists():
                return None
        except (OSError, ValueError):
            return None
        return target

    def not_found(self, head: bool) -> None:
        page = self.watcher.out / "404.html"
        body = page.read_bytes() if page.is_file() else b"Not found.\n"
        self.send(body, ".html" if page.is_file() else ".txt", 404, head)

    def redirect(self, location: str, head: bool) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send(self, body: bytes, suffix: str, status: int, head: bool) -> None:
        content_type = TEXT_TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0] or "application/octet-stream"
        if suffix in TEXT_TYPES:
            content_type += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def stream_events(self) -> None:
        """Server-sent events: one 'reload' message after the next build, then the page reloads."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        watcher = self.watcher
        with watcher.changed:
            seen = watcher.generation
            while watcher.generation == seen:
                if not watcher.changed.wait(timeout=15):
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


class Server(http.server.ThreadingHTTPServer):
    """Threads per request, a listen backlog for bursts, and quiet about clients that hang up."""

    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # the browser went away (a reload, a closed tab): nothing to report
        super().handle_error(request, client_address)


def watch(watcher: Watcher, folders: list[Path]):
    """Rebuild shortly after any change under the folders (a save often makes several events)."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    pending = threading.Event()

    class OnChange(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.is_directory and event.event_type == "modified":
                return  # a folder's entries changed: the entry's own event says which, and is filtered below
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
                print(watcher.build(), flush=True)
            except Exception as err:  # noqa: BLE001 (Watcher.build catches its own; this is the printing)
                print(internal_error(err), file=sys.stderr, flush=True)  # one line, and the watching goes on

    observer = Observer()
    for folder in folders:
        observer.schedule(OnChange(), str(folder), recursive=True)
    observer.start()
    threading.Thread(target=rebuild_loop, daemon=True).start()
    return observer


def serve(project: Project, port: int) -> int:
    """Build, then serve and rebuild until interrupted."""
    watcher = Watcher(project)
    print(watcher.build(), flush=True)
    try:
        server = Server(("127.0.0.1", port), Handler)
    except OSError as err:
        raise UsageError("cannot_listen", port=port, reason=err.strerror) from None
    port = server.server_address[1]
    hosts = frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))
    server.RequestHandlerClass = type("BoundHandler", (Handler,), {"watcher": watcher, "allowed_hosts": hosts})
    observer = watch(watcher, project.sources())
    print(f"Serving {display_path(str(watcher.out))} at http://127.0.0.1:{port}/ — edits to content/, "
          "templates/ and assets/ rebuild and reload. Ctrl+C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        observer.stop()
        server.server_close()
    return 0

