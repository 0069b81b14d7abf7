"""The application speaks the domain; Allegro's syntax stays inside the Allegro adapter.

Query parameters (`lineItems.boughtAt.gte`), sort keys (`-lineItems.boughtAt`) and field
names of Allegro's JSON are camelCase; the application's own strings and names are not. A
port that needs an Allegro notion says it in domain words (`order="oldest_first"`) and the
adapter translates. import-linter checks imports, not the text of code, hence this test.
Docstrings and comments may name Allegro's fields: they explain where a value comes from.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

APPLICATION = Path(__file__).resolve().parents[3] / "src" / "application"
# A camelCase word (Allegro's field and parameter names) or a range filter suffix.
ALLEGRO_STRING = re.compile(r"\b[a-z]+(?:[A-Z][a-z0-9]*)+\b|\.(?:gte|lte)\b")
# Names of Allegro's JSON or query syntax used as Python identifiers.
ALLEGRO_NAME = re.compile(r"lineItems|boughtAt|updatedAt|checkoutForms?\b|totalCount")


def allegro_syntax(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal or identifier in `source` that is Allegro's
    syntax; docstrings and comments are not code and are left alone."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and ALLEGRO_STRING.search(node.value):
                yield node.lineno, node.value
            continue
        name = _identifier(node)
        if name is not None and ALLEGRO_NAME.search(name):
            yield getattr(node, "lineno", 0), name


def _identifier(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.keyword):
        return node.arg
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    return None


@pytest.mark.parametrize(
    "path", sorted(APPLICATION.rglob("*.py")), ids=lambda p: str(p.relative_to(APPLICATION))
)
def test_application_code_holds_no_allegro_syntax(path: Path) -> None:
    found = list(allegro_syntax(path.read_text(encoding="utf-8")))

    assert found == [], f"{path.name}: Allegro syntax belongs in adapters/allegro: {found}"


@pytest.mark.parametrize(
    "code",
    [
        'CheckoutFormQuery(sort="-lineItems.boughtAt")',
        'params = {"updatedAt.gte": since}',
        "total = page.totalCount",
        'f"{field}.lte"',
        "def f(boughtAt): ...",
    ],
)
def test_the_check_finds_allegro_syntax(code: str) -> None:
    assert list(allegro_syntax(code))


@pytest.mark.parametrize(
    "code",
    [
        '"""Sliced by `lineItems.boughtAt`."""',
        'x = 1  # the `lineItems.boughtAt` filter\ny = "oldest_first"',
        'log = logging.getLogger(__name__)\nlog.warning("page unreadable, rest skipped")',
    ],
)
def test_the_check_leaves_comments_docstrings_and_prose_alone(code: str) -> None:
    assert list(allegro_syntax(code)) == []
