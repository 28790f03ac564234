"""Wrap a forward-only kernel so that autograd fails loudly instead of silently.

The Triton WKV-7 kernels are for generation (decode and prefill); they have no
backward pass. Without this wrapper a caller that trains through them would
get no gradient for r, w, k, v, a, b and no error, which is worse than a crash.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch

BACKWARD_MESSAGE = (
    "{name} is an inference-only Triton kernel and has no backward pass; "
    "use its naive twin (e.g. local_model.ops.wkv7.wkv7_naive) or run under "
    "torch.no_grad() when gradients are needed"
)


class InferenceOnlyError(RuntimeError):
    """Raised when something asks an inference-only kernel for gradients."""


def inference_only(name: str, forward: Callable) -> Callable:
    """Return `forward` wrapped in an autograd Function whose backward raises.

    Args:
        name: the public name of the kernel, quoted in the error message.
        forward: any function of tensors (and None / plain values) returning
            a tensor or a tuple of tensors, e.g. (r, w, k, v, a, b, state) -> (o, state).

    Returns:
        A function with the same signature; when any input requires grad its
        outputs are attached to a graph node that raises `InferenceOnlyError`.
    """

    class _Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):  # noqa: D401 - autograd hook
            return forward(*args)

        @staticmethod
        def backward(ctx, *grads):
            raise InferenceOnlyError(BACKWARD_MESSAGE.format(name=name))

    signature = inspect.signature(forward)

    def run(*args, **kwargs):
        # autograd.Function.apply takes positional arguments only.
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        args = bound.args
        needs_grad = any(isinstance(x, torch.Tensor) and x.requires_grad for x in args)
        if torch.is_grad_enabled() and needs_grad:
            return _Op.apply(*args)
        return forward(*args)

    run.__name__ = name
    run.__qualname__ = name
    run.__doc__ = forward.__doc__
    return run
