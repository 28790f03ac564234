"""Run the Triton kernels on CPU tensors when there is no GPU.

TRITON_INTERPRET must be set before any `@triton.jit` function is defined
(triton reads it when decorating), so it is set here, at the top of the
conftest, before pytest imports the test modules of this folder.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
