"""The source document (tests/source.txt, a copy of the seed) parsed into agencies and activities,
so tests can hold the content to the original wording and numbering."""
from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).with_name("source.txt")
_AGENCY = re.compile(r"^([一二三四五六七八九十]+)、(.+)开展的活动$")
_ACTIVITY = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)](.+)$")
_NUMERALS = dict(zip("一二三四五六七八九", range(1, 10)))


def numeral_value(numeral: str) -> int:
    """一 → 1, 十 → 10, 二十三 → 23 (the numerals the document uses, up to 99)."""
    if "十" not in numeral:
        return _NUMERALS[numeral]
    tens, _, ones = numeral.partition("十")
    return (_NUMERALS[tens] if tens else 1) * 10 + (_NUMERALS[ones] if ones else 0)


def normalize(text: str) -> str:
    """What a faithful copy may change: whitespace, and the width of ASCII punctuation."""
    text = re.sub(r"\s+", "", text)
    return text.translate({ord(a): b for a, b in zip(",;:()!?", "，；：（）！？")})


def parse() -> list[dict]:
    """[{number, name, activities: [{number, text}]}] in document order."""
    agencies: list[dict] = []
    for line in SOURCE.read_text("utf-8").splitlines():
        line = line.strip()
        if match := _AGENCY.match(line):
            agencies.append({"number": numeral_value(match[1]), "name": match[2], "activities": []})
        elif match := _ACTIVITY.match(line):
            agencies[-1]["activities"].append({"number": numeral_value(match[1]), "text": match[2]})
    return agencies
