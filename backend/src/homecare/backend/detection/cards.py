"""Generated sections of a markdown card: the text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""

from __future__ import annotations

import json
import re
from typing import Any


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {re.escape(name)}:begin -->\n).*?(<!-- {re.escape(name)}:end -->)", re.DOTALL)


def has_section(card: str, name: str) -> bool:
    """Whether the card has the generated section ``name``."""
    return _section(name).search(card) is not None


def replace_section(card: str, name: str, body: str) -> str:
    """Swap the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` for ``body``."""
    if not has_section(card, name):
        raise ValueError(f"the card has no generated section {name!r}")
    return _section(name).sub(lambda match: match.group(1) + body + "\n" + match.group(2), card)


def section_json(card: str, name: str) -> Any:
    """The fenced JSON block that is the whole of the generated section ``name``."""
    found = _section(name).search(card)
    if found is None:
        raise ValueError(f"the card has no generated section {name!r}")
    body = card[found.end(1) : found.start(2)].strip()
    return json.loads(body.removeprefix("```json").removesuffix("```"))
