"""Decode steppers: one model step per call, eagerly or replayed from a CUDA graph.

At batch 1 a decode step is a few hundred small kernels; on a fast GPU
launching them from Python costs more than running them. A CUDA graph records
the whole step once (every kernel and its arguments, over fixed buffers) and
replays it with one launch. The price is fixed addresses: the token and the
recurrent state live in static buffers that the caller copies into (`load`,
`step`) and out of (`state`), and the graph is tied to one batch size and one
kernel setting.

    steppers = DecodeSteppers(model)
    stepper = steppers.acquire(batch=1)      # graphed on CUDA, eager elsewhere
    try:
        stepper.load(state)                  # RecurrentState of batch 1
        logits = stepper.step(tokens)        # tokens (1,) -> logits (1, V) fp32
        state = stepper.state()              # a state the caller may keep
    finally:
        steppers.release(stepper)

    RECURRENTGPT_CUDA_GRAPH=0   never capture (eager steps everywhere)
"""

from __future__ import annotations

import logging
import os
import threading

import torch

from local_model.model import RWKV7
from local_model.ops.wkv7.dispatch import kernels_setting
from local_model.state import RecurrentState

GRAPH_ENV = "RECURRENTGPT_CUDA_GRAPH"
WARMUP_STEPS = 3  # compiles the Triton kernels and settles cuBLAS's workspace before capture

log = logging.getLogger(__name__)


def graphs_enabled(device: torch.device) -> bool:
    """Whether decode steps on `device` may be replayed from a CUDA graph."""
    return device.type == "cuda" and os.environ.get(GRAPH_ENV, "1").strip() not in ("0", "false", "no", "off")


class EagerStepper:
    """Runs `model.forward_step` per call; works on any device and batch size."""

    graphed = False

    def __init__(self, model: RWKV7, batch: int):
        self.model, self.batch = model, batch
        self._state: RecurrentState | None = None

    def load(self, state: RecurrentState | None) -> None:
        """Start from `state` (batch `self.batch`; None for zeros)."""
        if state is not None and state.batch != self.batch:
            raise ValueError(f"state has batch {state.batch}, this stepper {self.batch}")
        self._state = state if state is not None else self.model.zero_state(self.batch)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed tokens (B,), one per sequence; returns the next-token logits (B, V) fp32."""
        logits, self._state = self.model.forward_step(tokens, self._state)
        return logits

    def state(self) -> RecurrentState:
        """The state after the last step; the caller may keep it."""
        return self._state


class GraphedStepper:
    """One decode step captured in a CUDA graph for a fixed batch size.

    Static buffers: `tokens` (B,) long, `static_state` (a RecurrentState of
    batch B) and `logits` (B, V) fp32. The graph reads tokens and state and
    writes the new state back over `static_state`, so replaying it again and
    again is the decode loop.
    """

    graphed = True

    def __init__(self, model: RWKV7, batch: int):
        device = model.device
        if device.type != "cuda":
            raise ValueError("CUDA graphs need the model on a CUDA device")
        self.model, self.batch = model, batch
        self.tokens = torch.zeros(batch, dtype=torch.long, device=device)
        with torch.inference_mode():
            self.static_state = model.zero_state(batch)
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            # Warm-up off the default stream, as torch advises before a capture:
            # first calls compile kernels and allocate workspaces, which a capture forbids.
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    model.forward_step(self.tokens, self.static_state)
            torch.cuda.current_stream(device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                logits, new_state = model.forward_step(self.tokens, self.static_state)
                # The new state is computed in full before these copies, so
                # overwriting the inputs here is safe.
                self.static_state.copy_(new_state)
            self.logits = logits
        self.kernels = kernels_setting()

    def load(self, state: RecurrentState | None) -> None:
        """Copy `state` (batch B; None for zeros) into the static state."""
        with torch.inference_mode():
            if state is None:
                for layer in self.static_state.layers:
                    layer.att_shift.zero_(), layer.ffn_shift.zero_(), layer.wkv.zero_()
            else:
                self.static_state.copy_(state.to(self.model.device))

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed tokens (B,); returns logits (B, V) fp32 in a static buffer
        that the next step overwrites (clone what you keep)."""
        with torch.inference_mode():
            self.tokens.copy_(tokens.view(-1), non_blocking=True)
            self.graph.replay()
        return self.logits

    def state(self) -> RecurrentState:
        """A copy of the state after the last step (the static one is reused)."""
        with torch.inference_mode():
            return self.static_state.clone()


class DecodeSteppers:
    """Hands out steppers for one model: a captured graph per batch size on
    CUDA, captured on first use and reused; eager steppers elsewhere, when
    graphs are off, when a capture failed, or when the graph for that batch
    is in use by another generation (its static state holds that one's)."""

    def __init__(self, model: RWKV7):
        self.model = model
        self._graphs: dict[tuple[int, str], GraphedStepper] = {}
        self._busy: set[int] = set()
        self._failed = False
        self._lock = threading.Lock()

    def acquire(self, batch: int = 1) -> EagerStepper | GraphedStepper:
        """A stepper for `batch` sequences; give it back with `release`."""
        if self._failed or not graphs_enabled(self.model.device):
            return EagerStepper(self.model, batch)
        key = (batch, kernels_setting())  # the graph replays the kernels chosen when it was captured
        with self._lock:
            graph = self._graphs.get(key)
            if graph is not None and id(graph) in self._busy:
                return EagerStepper(self.model, batch)
            if graph is None:
                try:
                    graph = GraphedStepper(self.model, batch)
                except Exception as error:  # a capture can fail on any op that syncs or allocates oddly
                    log.warning("CUDA graph capture of the decode step failed, decoding eagerly: %s", error)
                    self._failed = True
                    return EagerStepper(self.model, batch)
                self._graphs[key] = graph
            self._busy.add(id(graph))
            return graph

    def release(self, stepper: EagerStepper | GraphedStepper) -> None:
        with self._lock:
            self._busy.discard(id(stepper))
