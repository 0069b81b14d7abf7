"""A strict reader for the small subset of YAML our docker-compose.yml is written in.

PyYAML is not a dependency, and adding one to read one file would not earn its place.
Supported: block mappings and sequences, flow sequences of scalars (`[a, "b"]`), plain,
single- and double-quoted scalars, folded and literal block scalars (`>-`, `|`) and
comments. Anything else (anchors, tags, flow mappings, multi-document files) is refused
with the line number, so the file cannot silently mean something else to Docker.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(
    r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"\-?:,\[\]{}#&*!|>%@`][^:]*?):(?:\s+(.*))?$"""
)
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BLOCK_SCALAR = frozenset({">", ">-", "|", "|-"})
_RESERVED = tuple("&*!{%@`|>")


class YamlSubsetError(ValueError):
    pass


def load(text: str) -> Any:
    parser = _Parser(text)
    value = parser.block(0)
    if parser.next_significant() is not None:
        raise YamlSubsetError(f"line {parser.next_significant()}: unexpected indentation")
    return value


def _indent(line: str) -> int:
    if "\t" in line[: len(line) - len(line.lstrip())]:
        raise YamlSubsetError("tabs are not allowed for indentation")
    return len(line) - len(line.lstrip(" "))


def _strip_comment(text: str) -> str:
    quote: str | None = None
    for position, char in enumerate(text):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'" and (position == 0 or text[position - 1] in " [,"):
            quote = char
        elif char == "#" and (position == 0 or text[position - 1] == " "):
            return text[:position].rstrip()
    return text.rstrip()


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.index = 0
        if any(line.strip() in ("---", "...") for line in self.lines):
            raise YamlSubsetError("document markers (several documents) are not supported")

    def next_significant(self) -> int | None:
        for number in range(self.index, len(self.lines)):
            if _strip_comment(self.lines[number].strip()):
                return number
        return None

    def block(self, indent: int) -> Any:
        number = self.next_significant()
        if number is None:
            return None
        line = self.lines[number]
        actual = _indent(line)
        if actual < indent:
            return None
        content = _strip_comment(line.strip())
        if content == "-" or content.startswith("- "):
            return self.sequence(actual)
        return self.mapping(actual)

    def mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while (number := self.next_significant()) is not None:
            line = self.lines[number]
            if _indent(line) < indent:
                break
            if _indent(line) > indent:
                raise YamlSubsetError(f"line {number + 1}: unexpected indentation")
            content = _strip_comment(line.strip())
            match = _KEY.match(content)
            if match is None:
                raise YamlSubsetError(f"line {number + 1}: expected `key: value`: {content!r}")
            key = str(_scalar(match.group(1), number))
            if key in result:
                raise YamlSubsetError(f"line {number + 1}: duplicate key {key!r}")
            self.index = number + 1
            result[key] = self.value(match.group(2) or "", indent, number)
        return result

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while (number := self.next_significant()) is not None:
            line = self.lines[number]
            content = _strip_comment(line.strip())
            if _indent(line) < indent or not (content == "-" or content.startswith("- ")):
                break
            if _indent(line) > indent:
                raise YamlSubsetError(f"line {number + 1}: unexpected indentation")
            rest = content[1:].strip()
            if _KEY.match(rest) and not rest.startswith(("'", '"')):
                raise YamlSubsetError(f"line {number + 1}: mappings in sequences unsupported")
            self.index = number + 1
            items.append(self.value(rest, indent, number))
        return items

    def value(self, text: str, indent: int, number: int) -> Any:
        if text in _BLOCK_SCALAR:
            return self.block_scalar(text, indent)
        if text:
            return _inline(text, number)
        following = self.next_significant()
        if following is not None and _indent(self.lines[following]) > indent:
            return self.block(indent + 1)
        return None

    def block_scalar(self, style: str, indent: int) -> str:
        collected: list[str] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and _indent(line) <= indent:
                break
            collected.append(line)
            self.index += 1
        while collected and not collected[-1].strip():
            collected.pop()
        body = [line.strip() for line in collected]
        text = " ".join(body) if style.startswith(">") else "\n".join(body)
        return text if style.endswith("-") else text + "\n"


def _inline(text: str, number: int) -> Any:
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlSubsetError(f"line {number + 1}: a flow sequence must end on its line")
        return [_scalar(item, number) for item in _split_flow(text[1:-1], number)]
    return _scalar(text, number)


def _split_flow(text: str, number: int) -> list[str]:
    items, current, quote = [], "", None
    for char in text:
        if quote is not None:
            current += char
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current += char
        elif char == ",":
            items.append(current.strip())
            current = ""
        elif char in "[]{}":
            raise YamlSubsetError(f"line {number + 1}: nested flow collections unsupported")
        else:
            current += char
    if quote is not None:
        raise YamlSubsetError(f"line {number + 1}: unterminated quote")
    if current.strip():
        items.append(current.strip())
    return items


def _scalar(text: str, number: int) -> Any:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise YamlSubsetError(f"line {number + 1}: unterminated double quote")
        return json.loads(text)
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise YamlSubsetError(f"line {number + 1}: unterminated single quote")
        return text[1:-1].replace("''", "'")
    if text.startswith(_RESERVED):
        raise YamlSubsetError(f"line {number + 1}: unsupported YAML feature in {text!r}")
    if text in ("null", "~", ""):
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if ": " in text or text.endswith(":") or " #" in text:
        raise YamlSubsetError(f"line {number + 1}: ambiguous plain scalar {text!r}; quote it")
    return text
