"""Streaming generation with a cache of states keyed by token prefix.

RecurrentGPT sends the same instructions (and often the same outline) at every
step; a recurrent model's state after them is a fixed-size object, so we keep
it and only run the tokens that changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch

from local_model.cuda_graph import DecodeSteppers
from local_model.model import RWKV7
from local_model.precision import prefill_dtype_setting
from local_model.sampler import Sampler, SamplingOptions, StopMatcher
from local_model.state import RecurrentState
from local_model.tokenizer import END_OF_TEXT, WorldTokenizer


class GenerationCancelled(Exception):
    """The caller's cancel event was set during generation."""


@dataclass
class Cursor:
    """Where a generation stands: the state after every token fed so far and
    the logits (V,) for the next one."""

    state: RecurrentState
    logits: torch.Tensor
    tokens: list[int] = field(default_factory=list)  # every token fed, prompt included
    unfed_text: str = ""  # text already emitted whose token the model has not seen yet
    sampled: int = 0  # tokens generated from this cursor and its predecessors


@dataclass
class CacheStats:
    prompt_tokens: int = 0  # tokens of prompts asked for
    computed_tokens: int = 0  # tokens actually run through the model
    reused_tokens: int = 0  # tokens whose state came from the cache


class PrefixCache:
    """LRU map from a token prefix to (state, next-token logits), bounded in bytes."""

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, ...], tuple[RecurrentState, torch.Tensor]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def longest_prefix(self, tokens: Sequence[int]) -> tuple[int, RecurrentState, torch.Tensor] | None:
        """The longest cached prefix of `tokens`: (its length, state, logits), or None."""
        for length in sorted({len(k) for k in self._entries}, reverse=True):
            if length <= len(tokens):
                key = tuple(tokens[:length])
                if key in self._entries:
                    self._entries.move_to_end(key)
                    state, logits = self._entries[key]
                    return length, state, logits
        return None

    def put(self, tokens: Sequence[int], state: RecurrentState, logits: torch.Tensor) -> None:
        key = tuple(tokens)
        if not key or key in self._entries:
            return
        size = state.nbytes() + logits.numel() * logits.element_size()
        if size > self.max_bytes:
            return
        self._entries[key] = (state, logits)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (old_state, old_logits) = self._entries.popitem(last=False)
            self._bytes -= old_state.nbytes() + old_logits.numel() * old_logits.element_size()


class Engine:
    """Runs a model and tokenizer: prefill with the prefix cache, then stream tokens."""

    def __init__(self, model: RWKV7, tokenizer: WorldTokenizer, *, cache: PrefixCache | None = None,
                 prefill_chunk: int = 1024, prefill_dtype: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.cache = cache if cache is not None else PrefixCache()
        self.prefill_chunk = prefill_chunk  # bounds activation memory on long prompts
        # Matmul dtype of prompt prefill on CPU: "auto", "fp32" or "bf16"; None
        # follows the model's `prefill_dtype` (RECURRENTGPT_PREFILL_DTYPE).
        # Decode steps always run in the model's dtype.
        self.prefill_dtype = None if prefill_dtype is None else prefill_dtype_setting(prefill_dtype)
        self.stats = CacheStats()
        self.lock = threading.Lock()  # one generation at a time per model
        # Decode steps replay a CUDA graph on CUDA (captured on first use), eager elsewhere.
        self.steppers = DecodeSteppers(model)
        self._start_mask: torch.Tensor | None = None

    def start_mask(self) -> torch.Tensor:
        """`visible_start_mask` for this tokenizer and model, built once (a pass over the vocabulary)."""
        if self._start_mask is None:
            self._start_mask = visible_start_mask(self.tokenizer, self.model.config.vocab_size)
        return self._start_mask

    def run(self, cursor: Cursor | None, tokens: Sequence[int]) -> Cursor:
        """Feed `tokens` after `cursor` (from the empty state if None), without the cache."""
        if not tokens:
            if cursor is None:
                raise ValueError("nothing to run: no cursor and no tokens")
            return cursor
        state = cursor.state if cursor else None
        logits = None
        for start in range(0, len(tokens), self.prefill_chunk):
            piece = torch.tensor([list(tokens[start : start + self.prefill_chunk])], dtype=torch.long)
            logits, state = self.model.forward_sequence(piece, state, prefill_dtype=self.prefill_dtype)
        self.stats.computed_tokens += len(tokens)
        return Cursor(state, logits[0], (cursor.tokens if cursor else []) + list(tokens),
                      sampled=cursor.sampled if cursor else 0)

    def prefill(self, tokens: Sequence[int], *, save_at: Sequence[int] = ()) -> Cursor:
        """Start from the state of `tokens`, reusing the longest cached prefix.

        `save_at` lists prefix lengths worth caching (the ends of the fixed
        parts of a prompt); the full prompt is always cached.
        """
        tokens = list(tokens)
        self.stats.prompt_tokens += len(tokens)
        hit = self.cache.longest_prefix(tokens)
        cursor = None
        if hit:
            length, state, logits = hit
            cursor = Cursor(state, logits, tokens[:length])
            self.stats.reused_tokens += length
        marks = sorted({m for m in save_at if len(cursor.tokens if cursor else []) < m < len(tokens)} | {len(tokens)})
        for mark in marks:
            done = len(cursor.tokens) if cursor else 0
            cursor = self.run(cursor, tokens[done:mark])
            self.cache.put(cursor.tokens, cursor.state, cursor.logits)
        return cursor

    def feed_text(self, cursor: Cursor, text: str) -> Cursor:
        """Feed text the caller writes itself (a section label), after any text
        the model produced but has not read yet."""
        return self.run(cursor, self.tokenizer.encode(cursor.unfed_text + text)) if (cursor.unfed_text + text) else cursor

    def stream(
        self,
        cursor: Cursor,
        options: SamplingOptions,
        *,
        cancel: threading.Event | None = None,
        allowed: Callable[[str, torch.Tensor], torch.Tensor | None] | None = None,
    ) -> Iterator[str]:
        """Yield text pieces sampled after `cursor` until a stop string, the end
        of text token or `options.max_tokens`. `cursor` is updated in place so
        the caller can continue from it. `allowed(text_so_far, logits)` may
        return a bool mask (V,) of the tokens allowed next (None: all).
        """
        sampler = Sampler(options, self.model.config.vocab_size)
        decoder = self.tokenizer.stream_decoder()
        stops = StopMatcher(options.stop)
        stepper = self.steppers.acquire(1)
        stepper.load(cursor.state)
        try:
            yield from self._stream_steps(cursor, options, sampler, decoder, stops, stepper, cancel, allowed)
        finally:
            # The stepper held the state while decoding (a graph's static buffers):
            # hand the cursor a state of its own, also when cancelled or closed early.
            cursor.state = stepper.state()
            self.steppers.release(stepper)

    def _stream_steps(self, cursor, options, sampler, decoder, stops, stepper, cancel, allowed) -> Iterator[str]:
        """The body of `stream`, decoding through `stepper` (loaded with cursor.state)."""
        emitted, fed_text = "", ""
        for _ in range(options.max_tokens):
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled()
            mask = (lambda logits: allowed(emitted, logits)) if allowed else None
            token = sampler.sample(cursor.logits, mask)
            cursor.sampled += 1
            if token == END_OF_TEXT:
                break
            piece = stops.feed(decoder.feed(token))
            if piece:
                emitted += piece
                yield piece
            if stops.stopped:
                break
            logits = stepper.step(torch.tensor([token]))
            self.stats.computed_tokens += 1
            # A graph's logits buffer is overwritten by its next replay.
            cursor.logits = logits[0].clone() if stepper.graphed else logits[0]
            cursor.tokens.append(token)
            fed_text += self.tokenizer.id_to_bytes.get(token, b"").decode("utf-8", errors="replace")
        if not stops.stopped:  # the end of text or the token cap: let out what was held back
            tail = stops.feed(decoder.flush())
            if not stops.stopped:
                tail += stops.flush()
            if tail:
                emitted += tail
                yield tail
        # Text out that the model has not read (the stopping token's text before the stop).
        cursor.unfed_text = emitted[len(fed_text):] if emitted.startswith(fed_text) else ""

    def generate_batch(
        self, cursors: Sequence[Cursor], options: SamplingOptions, *, cancel: threading.Event | None = None
    ) -> list[str]:
        """Sample a continuation after each of several cursors (the plan
        candidates of one step, several stories), decoding them together: one
        model step of batch len(cursors) per token, each sequence with its own
        state, sampler and stop strings. Returns the texts in cursor order and
        updates each cursor in place, as `stream` does.

        A sequence that has stopped is fed a dummy token until the others stop
        (the batch stays fixed, so a CUDA graph serves every step); its state
        was taken when it stopped, so the dummies never reach its cursor.
        """
        cursors = list(cursors)
        if not cursors:
            return []
        n = len(cursors)
        samplers = [Sampler(options, self.model.config.vocab_size) for _ in cursors]
        decoders = [self.tokenizer.stream_decoder() for _ in cursors]
        stops = [StopMatcher(options.stop) for _ in cursors]
        emitted, fed_text = [""] * n, [""] * n
        running = [True] * n
        stepper = self.steppers.acquire(n)
        stepper.load(RecurrentState.stack([c.state for c in cursors]).to(self.model.device))

        def stop(i: int, state: RecurrentState) -> None:
            running[i] = False
            cursors[i].state = state.select(i).clone()  # its own tensors, not views of the batch
            if not stops[i].stopped:  # end of text or the token cap: let out what was held back
                tail = stops[i].feed(decoders[i].flush())
                emitted[i] += tail + ("" if stops[i].stopped else stops[i].flush())
            cursors[i].unfed_text = emitted[i][len(fed_text[i]):] if emitted[i].startswith(fed_text[i]) else ""

        try:
            for _ in range(options.max_tokens):
                if cancel is not None and cancel.is_set():
                    raise GenerationCancelled()
                feed = [0] * n
                state = None
                for i, cursor in enumerate(cursors):
                    if not running[i]:
                        continue
                    token = samplers[i].sample(cursor.logits)
                    cursor.sampled += 1
                    if token != END_OF_TEXT:
                        emitted[i] += stops[i].feed(decoders[i].feed(token))
                    if token == END_OF_TEXT or stops[i].stopped:
                        state = state or stepper.state()
                        stop(i, state)
                    else:
                        feed[i] = token
                if not any(running):
                    break
                logits = stepper.step(torch.tensor(feed))
                self.stats.computed_tokens += sum(running)
                for i, cursor in enumerate(cursors):
                    if running[i]:
                        cursor.logits = logits[i].clone()
                        cursor.tokens.append(feed[i])
                        fed_text[i] += self.tokenizer.id_to_bytes.get(feed[i], b"").decode("utf-8", errors="replace")
        finally:
            if any(running):  # the token cap, a cancel, or an error: keep each state where it got to
                state = stepper.state()
                for i in range(n):
                    if running[i]:
                        stop(i, state)
            self.steppers.release(stepper)
        return emitted

    def generate(self, prompt: str, options: SamplingOptions, *, cancel: threading.Event | None = None) -> Iterator[str]:
        """Prefill `prompt` (through the cache) and stream the continuation."""
        with self.lock:
            cursor = self.prefill(self.tokenizer.encode(prompt))
            yield from self.stream(cursor, options, cancel=cancel)


def visible_start_mask(tokenizer: WorldTokenizer, vocab_size: int) -> torch.Tensor:
    """Bool (V,): tokens that can open a section, i.e. that print something
    besides whitespace and hold no newline (so the section cannot end empty)."""
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    for token_id, raw in tokenizer.id_to_bytes.items():
        if token_id < vocab_size and raw.strip() and b"\n" not in raw and b"\r" not in raw:
            mask[token_id] = True
    return mask


@dataclass(frozen=True)
class Section:
    """One labelled part of a structured answer and its own token cap."""

    label: str
    max_tokens: int


def write_sections(
    engine: Engine,
    cursor: Cursor,
    sections: Sequence[Section],
    options: SamplingOptions,
    *,
    on_text: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[str, int]:
    """Write "Label:" for each section ourselves and let the model fill it.

    A section ends at the end of its line (a newline, so also a blank line),
    at the end-of-text token or at its token cap; its first token must be
    visible text. So every label appears once, at the start of a line, followed
    by non-empty text on the same line, whatever the model (a tiny random one
    included). Returns the whole text (also streamed piece by piece to
    `on_text`) and the number of tokens the model generated.
    """
    start_mask = engine.start_mask()

    def allowed(text_so_far: str, logits: torch.Tensor) -> torch.Tensor | None:
        return None if text_so_far.strip() else start_mask

    parts: list[str] = []

    def emit(piece: str) -> None:
        parts.append(piece)
        if on_text:
            on_text(piece)

    for i, section in enumerate(sections):
        header = f"{section.label}:" if i == 0 else f"\n\n{section.label}:"
        emit(header)
        # After "Assistant:" the model expects a space before the first word.
        cursor = engine.feed_text(cursor, (" " if i == 0 else "") + header)
        section_options = SamplingOptions(**{**options.__dict__, "max_tokens": section.max_tokens,
                                             "stop": tuple(options.stop) + ("\n",)})
        for piece in engine.stream(cursor, section_options, cancel=cancel, allowed=allowed):
            emit(piece)
    return "".join(parts), cursor.sampled
