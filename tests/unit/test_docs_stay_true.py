"""Docs that stay true: comments cite only documents in the repository, a citation of
docs/allegro-api.md names one of its sections, and the README's package map ("How it is
built") names every package of the tree and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src", "bench", "tools", "tests")
API_FACTS = ROOT / "docs" / "allegro-api.md"
# Documents that live outside the repository (the specification the project started from),
# and the shorthand comments used for them.
OUTSIDE = re.compile(
    r"/work/|allegro-api-facts|integration-brief|product\.md|product spec|API facts|facts file"
    r"|facts sheet|§",
    re.IGNORECASE,
)
# A comment wrapped over lines: the newline, the indentation and a `#` continuing it.
WRAP = re.compile(r"\s*\n\s*(?:#\s*)?")


def _python_files() -> list[Path]:
    this = Path(__file__).resolve()  # it names the patterns it looks for
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py") if p.resolve() != this)


def test_comments_cite_only_documents_in_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _python_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert outside == []


def test_citations_of_the_api_facts_name_one_of_its_sections() -> None:
    sections = re.findall(r"^## (.+)$", API_FACTS.read_text(), re.MULTILINE)
    assert sections
    wrong = []
    cited = 0
    for path in _python_files():
        text = WRAP.sub(" ", path.read_text())
        for match in re.finditer(r"docs/allegro-api\.md, ", text):
            cited += 1
            after = text[match.end() :]
            if not any(after.startswith(section) for section in sections):
                wrong.append(f"{path.relative_to(ROOT)}: {after[:40]!r}")
    assert cited > 0
    assert wrong == []


def _package_map() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    return {line.split()[0].rstrip("/") for line in block.splitlines() if line[:1].strip()}


def _packages() -> set[str]:
    found = {"contracts", "bench", "docs"}
    for init in (ROOT / "src").rglob("__init__.py"):
        package = init.parent.relative_to(ROOT)
        if len(package.parts) <= 3:  # src/<layer>/<package>
            found.add(str(package))
    found.update(
        str(module.relative_to(ROOT))
        for module in (ROOT / "src" / "sandbox").glob("*.py")
        if module.name != "__init__.py"
    )
    found.update(str(init.parent.relative_to(ROOT)) for init in ROOT.glob("tests/*/__init__.py"))
    if (ROOT / "tools").is_dir():
        found.add("tools")
    # A layer's line covers the package itself; its subpackages get lines of their own.
    return found - {"src/adapters", "src/sandbox"}


def test_the_package_map_names_every_package_and_only_those() -> None:
    listed = _package_map()
    assert sorted(_packages() - listed) == []  # packages the README does not describe
    assert sorted(p for p in listed if not (ROOT / p).exists()) == []  # lines for nothing
