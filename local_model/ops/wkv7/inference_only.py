"""Wrap a forward-only kernel so that autograd fails loudly instead of silently.

The Triton WKV-7 kernels are for generation (decode and prefill); they have no
backward pass. Without this wrapper a caller that trains through them would
get no gradient for r, w, k, v, a, b and no error, which is worse than a crash.
"""

from __future__ import annotations

from typing import Callable

import torch

BACKWARD_MESSAGE = (
    "{name} is an inference-only Triton kernel and has no backward pass; "
    "use local_model.ops.wkv7.wkv7_naive (or run under torch.no_grad()) "
    "when gradients are needed"
)


class InferenceOnlyError(RuntimeError):
    """Raised when something asks an inference-only kernel for gradients."""


def inference_only(name: str, forward: Callable) -> Callable:
    """Return `forward` wrapped in an autograd Function whose backward raises.

    Args:
        name: the public name of the kernel, quoted in the error message.
        forward: (r, w, k, v, a, b, state) -> (o, final_state), all tensors.

    Returns:
        A function with the same signature; when any input requires grad its
        outputs are attached to a graph node that raises `InferenceOnlyError`.
    """

    class _Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, r, w, k, v, a, b, state):  # noqa: D401 - autograd hook
            return forward(r, w, k, v, a, b, state)

        @staticmethod
        def backward(ctx, grad_o, grad_state):
            raise InferenceOnlyError(BACKWARD_MESSAGE.format(name=name))

    def run(r, w, k, v, a, b, state=None):
        tensors = (r, w, k, v, a, b) + (() if state is None else (state,))
        if torch.is_grad_enabled() and any(x.requires_grad for x in tensors):
            return _Op.apply(r, w, k, v, a, b, state)
        return forward(r, w, k, v, a, b, state)

    run.__name__ = name
    run.__qualname__ = name
    run.__doc__ = forward.__doc__
    return run
