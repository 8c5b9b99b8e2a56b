"""The HotpotQA paragraph corpus as agentrt sees it: a knowledge base (built once and cached,
embedding 4,948 paragraphs takes minutes on a CPU) and a title look-up tool."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..documents import Document
from ..jsonl import read_records
from ..knowledge import KnowledgeBase
from ..knowledge_faiss import FaissStore
from ..live import progress_bar
from ..llm.model_source import cache_dir
from ..registry import Tool

# one paragraph per chunk: the longest in the corpus is under this, so recall counts paragraphs
PARAGRAPH_CHARS = 8000


def paragraphs(corpus: Path) -> dict[str, str]:
    """Title -> paragraph text (titles are unique in the corpus)."""
    return {row["title"]: row["text"] for row in read_records(corpus)}


def hotpot_knowledge_base(corpus: Path) -> KnowledgeBase:
    """A knowledge base of the corpus, one chunk per paragraph, cached by the file's content."""
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()[:16]
    path = cache_dir() / "evals" / f"hotpotqa-{digest}"
    if not (path / FaissStore.DB_FILE).exists():
        # built aside and renamed into place, so an interrupted build is never taken for a whole one
        staging = path.with_name(path.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        kb = KnowledgeBase.create(staging, chunk_size=PARAGRAPH_CHARS, chunk_overlap=0)
        with progress_bar() as progress:
            task = progress.add_task("embedding the HotpotQA corpus (once)", total=None)
            kb.add(*[Document(source=f"hotpotqa:{title}", title=title, text=text)
                     for title, text in paragraphs(corpus).items()],
                   progress=lambda done, total: progress.update(task, completed=done, total=total))
        kb.save()
        kb.close()
        os.replace(staging, path)
    return KnowledgeBase.open(path)


def title_search_tool(corpus: Path) -> Tool:
    """`search(entity)`: the paragraph whose title is `entity` (ignoring case), as the LLMCompiler
    authors' Wikipedia look-up returned an article's first paragraph."""
    by_title = {title.casefold(): text for title, text in paragraphs(corpus).items()}

    def search(entity: str) -> str:
        """Look an entity up by its exact title and return its paragraph.

        Args:
            entity: the title to look up, e.g. "Scott Derrickson"
        """
        return by_title.get(entity.strip().casefold(), f"Could not find {entity}. Similar: none.")

    return Tool(search, source="hotpotqa corpus")
