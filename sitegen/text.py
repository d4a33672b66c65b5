"""Numbering and text helpers shared by pages and data files."""
from __future__ import annotations

from functools import lru_cache

_DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]


@lru_cache(maxsize=None)
def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 23 → 二十三, 66 → 六十六, 105 → 一百零五 (as numbered in the document)."""
    if not 0 < n < 10000:
        return str(n)
    digits = [int(d) for d in str(n)]
    out, zero = "", False
    for position, digit in enumerate(digits):
        unit = _UNITS[len(digits) - position - 1]
        if digit == 0:
            zero = True
            continue
        if zero and out:
            out += "零"
        zero = False
        out += ("" if digit == 1 and unit == "十" and not out else _DIGITS[digit]) + unit
    return out


def activity_label(number: int, numerals: str) -> str:
    """How the document numbers an activity: （一） in Chinese, 1. in Arabic numerals."""
    return f"（{chinese_numeral(number)}）" if numerals == "chinese" else f"{number}."


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def format_date(day, pattern: str) -> str:
    """A date as a language writes it (site.yaml's date_format): %Y, %m and %d (%-m and %-d without a
    leading zero), %B for the English month name. Made here, not by strftime, so that the result
    does not depend on the machine's locale or system."""
    parts = {"%Y": str(day.year), "%-m": str(day.month), "%-d": str(day.day), "%m": f"{day.month:02d}",
             "%d": f"{day.day:02d}", "%B": _MONTHS[day.month - 1]}
    out, i = "", 0
    while i < len(pattern):
        token = next((t for t in ("%-m", "%-d", "%Y", "%m", "%d", "%B") if pattern.startswith(t, i)), None)
        out += parts[token] if token else pattern[i]
        i += len(token) if token else 1
    return out


def activity_range(first: int, last: int, numerals: str) -> str:
    """The activities a section holds, for a contents list: （一）–（五） in Chinese, 1–5 in Arabic."""
    if numerals == "chinese":
        return activity_label(first, numerals) + (f"–{activity_label(last, numerals)}" if last != first else "")
    return f"{first}–{last}" if last != first else str(first)


def agency_label(number: int, numerals: str, name: str = "") -> str:
    """How the document numbers an agency's section, before its name if given:
    一、市发改委 in Chinese numerals (no space after 、), 1. Tianjin … in Arabic numerals."""
    if numerals == "chinese":
        return f"{chinese_numeral(number)}、{name}"
    return f"{number}. {name}" if name else f"{number}."
