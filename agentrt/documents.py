"""Reading user documents and cutting them into chunks. Does not embed or index.

Formats: plain text, Markdown, JSON Lines (`{"title", "text"}` per line) and HTML. Anything else,
and anything binary or undecodable, is skipped with a reason the caller can report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from .jsonl import numbered_lines

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
MAX_FILE_BYTES = 50 * 1024 * 1024

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Document:
    """One text with where it came from."""

    source: str
    title: str
    text: str
    file: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, small enough to embed and to quote in a prompt."""

    source: str
    title: str
    position: int
    text: str


def read_path(path: Path) -> Iterator[Document | Skipped]:
    """Documents from a file, or from every file under a directory (sorted, hidden ones skipped)."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if not any(part.startswith(".") for part in child.relative_to(path).parts):
                yield from read_file(child)
    elif path.is_file():
        yield from read_file(path)
    else:
        yield Skipped(str(path), "no such file or directory")


def read_file(path: Path) -> Iterator[Document | Skipped]:
    """The documents in one file (one per line for JSON Lines), or why it was skipped."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        supported = ", ".join(sorted(SUPPORTED))
        yield Skipped(source, f"unsupported type {suffix or '(no extension)'!r}; supported: {supported}")
        return
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        yield Skipped(source, f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit; split the file")
        return
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        yield Skipped(source, "binary content")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Skipped(source, f"not UTF-8 (byte {exc.start}); re-save the file as UTF-8")
        return
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_documents(source, text)
    elif suffix in HTML_SUFFIXES:
        title, body = _html_text(text)
        yield Document(source, title or path.stem, body, file=source)
    else:
        yield Document(source, _markdown_title(text) or path.stem, text, file=source)


def _jsonl_documents(source: str, text: str) -> Iterator[Document | Skipped]:
    for number, line in numbered_lines(text):
        try:
            record = json.loads(line)
            body = record["text"]
            if not isinstance(body, str):
                raise TypeError("'text' is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            yield Skipped(f"{source}:{number}", f"not a {{\"title\", \"text\"}} JSON object: {exc}")
            continue
        title = str(record.get("title") or f"{Path(source).stem} {number}")
        yield Document(f"{source}:{number}", title, body, file=source)


def _markdown_title(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


class _HTMLText(HTMLParser):
    _SKIP = {"script", "style", "head"}
    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._stack.append(tag)
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            del self._stack[len(self._stack) - 1 - self._stack[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        if "title" in self._stack:
            self.title += data
        elif not self._SKIP & set(self._stack):
            self.parts.append(data)


def _html_text(html: str) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(html)
    body = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return parser.title.strip(), re.sub(r"\n\s*\n\s*", "\n\n", body).strip()


def chunk(document: Document, *, size: int = 800, overlap: int = 100) -> list[Chunk]:
    """Cut at paragraph breaks, then at sentence ends, into chunks of at most ~`size` characters;
    each chunk repeats up to `overlap` characters of whole sentences from the one before it."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap={overlap} must be at least 0 and below size={size}")
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(document.text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        for sentence in _SENTENCE_END.split(paragraph) if len(paragraph) > size else [paragraph]:
            # a sentence longer than a chunk is cut hard: nothing else can keep it under `size`
            pieces.extend(sentence[i : i + size] for i in range(0, len(sentence), size))
    chunks: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and len(" ".join(current + [piece])) > size:
            chunks.append(" ".join(current))
            current = _tail(current, overlap)
            while current and len(" ".join(current + [piece])) > size:
                current.pop(0)
        current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return [Chunk(document.source, document.title, i, text) for i, text in enumerate(chunks)]


def _tail(pieces: list[str], budget: int) -> list[str]:
    """The last whole pieces whose total length fits in `budget`."""
    kept: list[str] = []
    for piece in reversed(pieces):
        if len(piece) + sum(len(p) + 1 for p in kept) > budget:
            break
        kept.insert(0, piece)
    return kept
