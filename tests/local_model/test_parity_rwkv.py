"""Our RWKV-7 against an implementation we did not write: the `rwkv` package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from local_model.model import RWKV7

pytest.importorskip("rwkv")

TOKENS = torch.randint(0, 1000, (50,), generator=torch.Generator().manual_seed(7)).tolist()

# Runs in a subprocess: the rwkv package reads its switches from the
# environment at import time and changes global torch settings.
REFERENCE = textwrap.dedent(
    """
    import sys, torch
    from rwkv.model import RWKV
    ckpt, tokens, out = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], sys.argv[3]
    model = RWKV(ckpt[: -len(".pth")], strategy="cpu fp32")
    result = {}
    state = None
    for i, t in enumerate(tokens):
        logits, state = model.forward([t], state)
        if i == 0:
            result["decode_1"] = logits.clone()
    result["decode_50"] = logits.clone()
    result["decode_state"] = [s.clone() for s in state]
    logits, state = model.forward(tokens, None)
    result["prefill_50"] = logits.clone()
    result["prefill_state"] = [s.clone() for s in state]
    torch.save(result, out)
    """
)


@pytest.fixture(scope="module")
def reference(tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "reference.pt"
    env = dict(os.environ, RWKV_V7_ON="1", RWKV_JIT_ON="0", RWKV_CUDA_ON="0", OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", REFERENCE, str(tiny_checkpoint), ",".join(map(str, TOKENS)), str(out)],
                   check=True, env=env, capture_output=True)
    return torch.load(out)


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    model = RWKV7.from_checkpoint(tiny_checkpoint)
    model.prefill_dtype = "fp32"  # parity is an fp32 claim: never the bf16 prefill matmuls
    return model


def assert_same_state(ours, theirs):
    for i, layer in enumerate(ours.layers):
        torch.testing.assert_close(layer.att_shift[0], theirs[3 * i], atol=1e-5, rtol=0)
        torch.testing.assert_close(layer.wkv[0], theirs[3 * i + 1], atol=1e-4, rtol=0)
        torch.testing.assert_close(layer.ffn_shift[0], theirs[3 * i + 2], atol=1e-5, rtol=0)


def test_decode_logits_match_after_1_and_50_tokens(model, reference):
    state = None
    for i, t in enumerate(TOKENS):
        logits, state = model.forward_step(torch.tensor([t]), state)
        if i == 0:
            assert (logits[0] - reference["decode_1"]).abs().max() < 1e-4
    assert (logits[0] - reference["decode_50"]).abs().max() < 1e-4
    assert_same_state(state, reference["decode_state"])


def test_prefill_logits_match_after_1_and_50_tokens(model, reference):
    logits, _ = model.forward_sequence(torch.tensor([TOKENS[:1]]))
    assert (logits[0] - reference["decode_1"]).abs().max() < 1e-4
    logits, state = model.forward_sequence(torch.tensor([TOKENS]))
    assert (logits[0] - reference["prefill_50"]).abs().max() < 1e-4
    assert_same_state(state, reference["prefill_state"])
