"""Long-term memory: the story's paragraphs, searchable by meaning.

Each paragraph is embedded once, the first time it is needed, as several
vectors (the paragraph and its sentences, see memory.passages) stored with
the paragraph in the database. The faiss index is derived: it
follows the head incrementally, and is rebuilt from stored vectors (never by
re-embedding) when it was saved for another head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memory.embedder import Embedder
from memory.index import ParagraphIndex
from memory.passages import embed_paragraphs
from memory.store import StoryStore


class LongTermMemory:
    def __init__(self, store: StoryStore, embedder: Embedder, index_dir: Path, story_id: str):
        self.store = store
        self.embedder = embedder
        self.story_id = story_id
        self.path = Path(index_dir) / f"{story_id}.faiss"
        self.index: ParagraphIndex | None = None

    def sync(self, head_step_id: int, changed: dict[int, int | None] | None = None) -> None:
        """Bring the index to `head_step_id`. `changed` (number -> new
        paragraph id, None when deleted) lets an index that was at the
        previous head catch up without reading the whole story."""
        if self.index is not None and self.index.step_id == head_step_id:
            return
        if self.index is None:
            self.index = ParagraphIndex.load(self.path, self.embedder.dim)
        if self.index is not None and changed is not None and self.index.step_id is not None:
            self._apply(changed)
        elif self.index is None or self.index.step_id != head_step_id:
            self._rebuild()
        self.index.step_id = head_step_id

    def _apply(self, changed: dict[int, int | None]) -> None:
        for number, paragraph_id in changed.items():
            if paragraph_id is None:
                self.index.remove(number)
        wanted = {n: p for n, p in changed.items() if p is not None}
        if wanted:
            numbers, ids, blobs = self._vectors_for(wanted)
            # The index was at the previous head, so only the changed paragraphs can
            # lack a vector: embed those (not a query over the whole story).
            missing = [i for i, (pid, blob) in enumerate(zip(ids, blobs)) if blob is None]
            if missing:
                texts = self.store.texts_of([ids[i] for i in missing])
                vectors = embed_paragraphs(self.embedder, [texts[ids[i]] for i in missing])
                self.store.save_embeddings({ids[i]: vec for i, vec in zip(missing, vectors)})
                for i, vec in zip(missing, vectors):
                    blobs[i] = vec.tobytes()
            for number, paragraph_id, blob in zip(numbers, ids, blobs):
                self.index.put(number, paragraph_id, self._vectors(blob))

    def _vectors_for(self, wanted: dict[int, int]):
        from sqlalchemy import select

        from memory.models import Paragraph

        with self.store.db.session() as s:
            rows = s.execute(select(Paragraph.id, Paragraph.embedding).where(Paragraph.id.in_(list(wanted.values())))).all()
        blobs = dict(rows)
        numbers = list(wanted)
        return numbers, [wanted[n] for n in numbers], [blobs[wanted[n]] for n in numbers]

    def _rebuild(self) -> None:
        self._embed_pending()
        numbers, ids, blobs = self.store.live_embeddings(self.story_id)
        index = ParagraphIndex(self.embedder.dim)
        index.add_many(numbers, ids, [self._vectors(blob) for blob in blobs])
        self.index = index

    def _vectors(self, blob: bytes) -> np.ndarray:
        """A paragraph's stored vectors, (passages, dim)."""
        return np.frombuffer(blob, dtype=np.float32).reshape(-1, self.embedder.dim)

    def _embed_pending(self) -> None:
        pending = self.store.unembedded(self.story_id)
        if pending:
            vectors = embed_paragraphs(self.embedder, [text for _, _, text in pending])
            self.store.save_embeddings({pid: vec for (pid, _, _), vec in zip(pending, vectors)})

    def search(self, queries: list[str], k: int, exclude: set[int] = frozenset()) -> list[tuple[int, float]]:
        """(paragraph number, score) of the `k` paragraphs closest to any query."""
        assert self.index is not None, "sync() first"
        if len(self.index) == 0:
            return []
        return self.index.search(self.embedder.embed(queries), k, exclude)

    def save(self) -> None:
        if self.index is not None:
            self.index.save(self.path)

    def check(self, head_step_id: int) -> list[str]:
        """Problems between the saved index and the database (empty: they agree)."""
        saved = ParagraphIndex.load(self.path, self.embedder.dim)
        if saved is None:
            return []  # no saved index: it will be built from the database when needed
        if saved.step_id != head_step_id:
            return []  # saved for another step: rebuilt from the database on next use
        live = self.store.live_paragraph_ids(self.story_id)
        if saved.paragraph_ids != live:
            return ["the saved vector index does not hold the story's paragraphs (run `recurrentgpt memory STORY --reindex`)"]
        return []

    def forget(self) -> None:
        """Drop the saved index (after the head jumped to another branch)."""
        self.index = None
        for path in (self.path, self.path.with_suffix(".json")):
            path.unlink(missing_ok=True)

    def reindex(self, head_step_id: int) -> int:
        """Rebuild the index from the stored vectors; returns its size."""
        self.index = None
        self._rebuild()
        self.index.step_id = head_step_id
        self.save()
        return len(self.index)
