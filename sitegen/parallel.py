"""Making the site's files, in one process or several: a one-off build on a machine with several
cores shares the work out to copies of itself made by fork(), which make and write their files
themselves and report back only what they wrote. The model is loaded once and shared by the fork,
never pickled. (A multiprocessing pool costs 21–25 ms to import, and its shutdown waits for running
tasks; a stopped build must kill its workers before its staging folder goes.) serve always makes
its files in its own process: it has threads, and it keeps the pages it renders for the next save."""
from __future__ import annotations

import os
import pickle
import signal
import threading
import traceback
from typing import Callable, Iterable, Iterator

MIN_FILES_PER_PROCESS = 4  # below this a fork costs more than it saves
QUEUE_CAPACITY = 4096  # job numbers in the queue: 16 KB, what a pipe holds on any system without a reader

Makers = dict[str, Callable[[], bytes]]  # a file's path in site/ → what makes its bytes
Failure = tuple[int, Exception]  # the number of the file in making order, and what went wrong


def make_files(makers: Makers, writer, processes: int = 1, notes: dict | None = None) -> None:
    """Make every file and hand it to the writer. The first failure in making order is raised,
    however many processes make them, so a mistake is reported as one process reports it.
    `notes`: a dict the makers fill in (what each page used); the other processes' are merged in."""
    notes = notes if notes is not None else {}
    jobs = list(makers.items())
    if processes < 2 or len(jobs) < MIN_FILES_PER_PROCESS * processes or not writer.parallel \
            or threading.active_count() > 1:  # fork() in a process with threads can deadlock the copy
        failure = _make_share(jobs, range(len(jobs)), writer)
        if failure:
            raise failure[1]
        return
    _return_free_memory()
    queue, batch = _job_queue(len(jobs))
    children: list[tuple[int, int]] = []
    try:
        children = [_fork(jobs, queue, batch, writer, notes) for _ in range(processes - 1)]
        failures = [_make_share(jobs, _taken(queue, batch, len(jobs)), writer)]
        while children:
            written, their_notes, failure = _collect(*children[0])
            children.pop(0)
            writer.written.update(written)
            notes.update(their_notes)
            failures.append(failure)
    finally:
        os.close(queue)
        for pid, pipe in children:  # stopped early (an error here, Ctrl+C, SIGTERM): stop them too
            _stop(pid, pipe)
    first = min((f for f in failures if f), key=lambda f: f[0], default=None)
    if first:
        raise first[1]


def _job_queue(count: int) -> tuple[int, int]:
    """A pipe holding the jobs' numbers in making order, for the processes to take one by one:
    whichever is free takes the next, so none sits idle while another works through a long share.
    (A read of one 4-byte number from a pipe is atomic.) Jobs go in batches when there are more
    than a small pipe holds: (the pipe's read end, jobs per number)."""
    batch = -(-count // QUEUE_CAPACITY)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as queue:
        queue.write(b"".join(n.to_bytes(4, "little") for n in range(-(-count // batch))))
    return read_end, batch


def _taken(queue: int, batch: int, count: int) -> Iterator[int]:
    """The numbers of the jobs this process takes from the queue, until it is empty."""
    while token := os.read(queue, 4):
        first = int.from_bytes(token, "little") * batch
        yield from range(first, min(first + batch, count))


def _return_free_memory() -> None:
    """Give the memory the process has freed (the caches, let go before the pages) back to the
    system before forking: otherwise each process reuses its own copy of it, page by page. At
    10,000 activities the processes together peak at 260 MB instead of 294 (PSS)."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _make_share(jobs: list[tuple[str, Callable[[], bytes]]], numbers: Iterable[int], writer) -> Failure | None:
    """Make and write these files; at the first failure, stop and return it."""
    for number in numbers:
        path, make = jobs[number]
        try:
            writer.add(path, make())
        except Exception as err:  # noqa: BLE001 (raised by make_files, in making order)
            return number, err
    return None


def _fork(jobs, queue: int, batch: int, writer, notes: dict) -> tuple[int, int]:
    """A child process that takes files from the queue and makes them, and sends back (files
    written, its notes, failure)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    status = 1
    try:  # the child: never returns into the parent's code (its `finally` blocks would run twice)
        os.close(read_end)
        writer.written = {}
        notes.clear()
        failure = _make_share(jobs, _taken(queue, batch, len(jobs)), writer)
        try:
            report = pickle.dumps((writer.written, notes, failure))
        except Exception:  # noqa: BLE001 (an exception that cannot be pickled: send its text)
            text = "".join(traceback.format_exception(failure[1])).strip()
            report = pickle.dumps((writer.written, notes, (failure[0], RuntimeError(text))))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(report)
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, pipe: int) -> tuple[dict[str, str], dict, Failure | None]:
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
