"""What a paragraph is looked up by: the paragraph itself and its sentences.

One vector for a whole paragraph is an average: a fact told in one sentence
of a long paragraph barely moves it, and the embedder only reads the first
256 word pieces anyway. So a paragraph is stored as several vectors (the
whole paragraph, then each sentence, very short ones joined to the next),
and scores by its best one.
"""

from __future__ import annotations

import re

import numpy as np

MAX_PASSAGES = 48  # per paragraph, the whole included; longer paragraphs get wider windows
MIN_WORDS = 6  # a shorter sentence is joined to the next ("Yes," said he. ...)

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|(?<=[。！？；])")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, short ones joined to the next."""
    pieces = [p.strip() for p in _SENTENCE_END.split(text.strip()) if p and p.strip()]
    joined: list[str] = []
    carry = ""
    for piece in pieces:
        carry = f"{carry} {piece}".strip() if carry else piece
        if len(carry.split()) >= MIN_WORDS or len(carry) >= 24:
            joined.append(carry)
            carry = ""
    if carry:
        if joined:
            joined[-1] = f"{joined[-1]} {carry}"
        else:
            joined.append(carry)
    return joined


def passages(text: str) -> list[str]:
    """The texts to embed for one paragraph: the paragraph, then its
    sentences (grouped when there are too many); just the paragraph when it
    is a single sentence."""
    parts = sentences(text)
    if len(parts) <= 1:
        return [text.strip()]
    width = -(-len(parts) // (MAX_PASSAGES - 1))
    windows = [" ".join(parts[i : i + width]) for i in range(0, len(parts), width)]
    return [text.strip(), *windows]


def embed_paragraphs(embedder, texts: list[str]) -> list[np.ndarray]:
    """One (passages, dim) float32 array per paragraph, in one batched call
    to `embedder.embed`."""
    groups = [passages(text) for text in texts]
    flat = [p for group in groups for p in group]
    vectors = embedder.embed(flat) if flat else np.zeros((0, embedder.dim), dtype=np.float32)
    result, start = [], 0
    for group in groups:
        result.append(np.ascontiguousarray(vectors[start : start + len(group)], dtype=np.float32))
        start += len(group)
    return result
