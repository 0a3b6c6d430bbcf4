"""The README and docs link only to files inside the repository (a newcomer has nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.newcomer.conftest import REPO

DOCUMENTS = sorted([REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("bench/*.md")])
# [text](target), up to a space, a closing bracket or a '#', and autolinks <scheme:...>.
LINK = re.compile(r"\]\(\s*<?([^)\s>#]*)|<([a-z][a-z+.-]*:[^>\s]+)>")
OUTSIDE = re.compile(r"(?<![\w.])\.\./|/work/|file://")


def links(text: str) -> list[str]:
    found = [a or b for a, b in LINK.findall(text)]
    return [link for link in found if link and not link.startswith(("!--", "/"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_links_stay_in_the_repository(document: Path) -> None:
    text = document.read_text()
    assert not OUTSIDE.findall(text), f"{document}: a path outside the repository"
    for link in links(text):
        if re.match(r"[a-z][a-z+.-]*:", link):  # a URL: http(s), mailto, ...
            assert link.startswith(("http://", "https://", "mailto:")), link
            continue
        target = (document.parent / link).resolve()
        assert target.is_relative_to(REPO), f"{document}: {link} leaves the repository"
        assert target.exists(), f"{document}: {link} does not exist"


def test_a_link_outside_is_caught() -> None:
    assert OUTSIDE.findall("see [the spec](../shared/spec.md)")
    assert links("see [the spec](docs/x.md#part) and <https://example.com>") == [
        "docs/x.md",
        "https://example.com",
    ]
