"""Content errors: what an editor sees when a file is wrong (file:line: field: what was expected)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake in one content file."""

    path: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = display_path(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ContentError(Exception):
    """The content cannot be built; holds every problem found in the run."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.path, p.line or 0, p.field or ""))
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        head = f"{count} content error{'s' if count != 1 else ''} (the site was not written):"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def display_path(path: str) -> str:
    """A path relative to the working directory when that is shorter, as editors typed it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return rel if not rel.startswith("../../") else path
