"""The vector index of a story's long-term memory: derived data, rebuilt
from the embeddings stored in the database whenever it does not match the
story's head, and otherwise updated one paragraph at a time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


# A paragraph's vectors get the faiss ids number * STRIDE + 0, 1, 2, ...
STRIDE = 1024


class ParagraphIndex:
    """faiss inner-product index over paragraph vectors (several per
    paragraph: see memory.passages), keyed by paragraph number; a paragraph
    scores by its best vector."""

    def __init__(self, dim: int):
        import faiss

        self.dim = dim
        self._faiss = faiss
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.paragraph_ids: dict[int, int] = {}  # number -> paragraph row id
        self.step_id: int | None = None  # the head step the index reflects

    def __len__(self) -> int:
        """The number of paragraphs held."""
        return len(self.paragraph_ids)

    def put(self, number: int, paragraph_id: int, vectors: np.ndarray) -> None:
        """Hold paragraph `number` as `vectors` (passages, dim), replacing what it had."""
        if number in self.paragraph_ids:
            self.remove(number)
        self.add_many([number], [paragraph_id], [vectors])

    def add_many(self, numbers: list[int], paragraph_ids: list[int], vectors: list[np.ndarray]) -> None:
        """Add paragraphs not held yet, each with its (passages, dim) vectors, in one call."""
        if not numbers:
            return
        matrices = [np.asarray(v, dtype=np.float32).reshape(-1, self.dim)[: STRIDE] for v in vectors]
        ids = np.concatenate([number * STRIDE + np.arange(len(m), dtype=np.int64) for number, m in zip(numbers, matrices)])
        self._index.add_with_ids(np.ascontiguousarray(np.concatenate(matrices)), ids)
        self.paragraph_ids.update(zip(numbers, paragraph_ids))

    def remove(self, number: int) -> None:
        if self.paragraph_ids.pop(number, None) is not None:
            self._index.remove_ids(self._faiss.IDSelectorRange(number * STRIDE, (number + 1) * STRIDE))

    def search(self, query: np.ndarray, k: int, exclude: set[int] = frozenset()) -> list[tuple[int, float]]:
        """Top `k` (number, cosine score) for each of the query rows, best first;
        several queries are merged by their best score."""
        if len(self) == 0 or k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1, self.dim)
        total = self._index.ntotal
        wanted = min(total, 8 * (k + len(exclude)))
        while True:
            scores, ids = self._index.search(query, wanted)
            best: dict[int, float] = {}
            for row_scores, row_ids in zip(scores, ids):
                for score, vector_id in zip(row_scores, row_ids):
                    if vector_id < 0:
                        continue
                    number = int(vector_id) // STRIDE
                    if number not in exclude:
                        best[number] = max(best.get(number, -1.0), float(score))
            # Several hits may be passages of one paragraph: widen until k paragraphs are found.
            if len(best) >= k or wanted >= total:
                return sorted(best.items(), key=lambda item: -item[1])[:k]
            wanted = min(total, wanted * 4)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + f".{os.getpid()}.tmp")
        self._faiss.write_index(self._index, str(temp))
        os.replace(temp, path)
        meta = {"step_id": self.step_id, "paragraph_ids": {str(n): p for n, p in self.paragraph_ids.items()}}
        meta_path = path.with_suffix(".json")
        temp_meta = meta_path.with_name(meta_path.name + f".{os.getpid()}.tmp")
        temp_meta.write_text(json.dumps(meta))
        os.replace(temp_meta, meta_path)

    @classmethod
    def load(cls, path: Path, dim: int) -> "ParagraphIndex | None":
        """The saved index, or None when it is missing or unreadable."""
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            index = cls(dim)
            index._index = index._faiss.read_index(str(path))
            index.paragraph_ids = {int(n): int(p) for n, p in meta["paragraph_ids"].items()}
            index.step_id = meta["step_id"]
        except Exception:
            return None
        if index._index.ntotal < len(index.paragraph_ids) or index._index.d != dim:
            return None
        return index
