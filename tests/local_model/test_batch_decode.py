"""Several sequences decoded together by the engine, and the decode steppers on CPU."""

from __future__ import annotations

import pytest
import torch

from local_model.cuda_graph import DecodeSteppers, EagerStepper
from local_model.engine import Engine
from local_model.model import RWKV7
from local_model.sampler import SamplingOptions
from local_model.tokenizer import WorldTokenizer


@pytest.fixture(scope="module")
def engine(world_checkpoint):
    # fp32 prefill: a test below compares a stream's logits with a fresh prefill at 1e-4.
    return Engine(RWKV7.from_checkpoint(world_checkpoint), WorldTokenizer(), prefill_dtype="fp32")


PROMPTS = ["Once upon a time", "The ship", "Chapter one. The rain had not stopped for"]


def check_batch_equals_alone(engine, options):
    alone = []
    for prompt in PROMPTS:
        cursor = engine.run(None, engine.tokenizer.encode(prompt))
        text = "".join(engine.stream(cursor, options))
        alone.append((text, cursor))
    cursors = [engine.run(None, engine.tokenizer.encode(p)) for p in PROMPTS]

    texts = engine.generate_batch(cursors, options)

    for (text, single), batched, got in zip(alone, cursors, texts):
        assert got == text
        assert batched.tokens == single.tokens and batched.unfed_text == single.unfed_text
        assert batched.state.batch == 1
        torch.testing.assert_close(batched.logits, single.logits, atol=1e-4, rtol=1e-4)
        for ours, theirs in zip(batched.state.layers, single.state.layers):
            torch.testing.assert_close(ours.wkv, theirs.wkv, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(ours.att_shift, theirs.att_shift, atol=1e-4, rtol=1e-4)
    return [text for text, _ in alone]


def test_batch_generation_equals_each_prompt_alone(engine):
    check_batch_equals_alone(engine, SamplingOptions(max_tokens=12, temperature=0.0))


def test_a_sequence_that_stops_early_keeps_its_own_state(engine):
    texts = check_batch_equals_alone(engine, SamplingOptions(max_tokens=10, temperature=0.0))
    # Stop the first sequence on a piece of its own text: it ends early while
    # the others run on, fed dummies that must not reach its cursor.
    stop = texts[0][2:4]
    assert stop and all(stop not in t for t in texts[1:]), "pick another slice for this checkpoint"
    check_batch_equals_alone(engine, SamplingOptions(max_tokens=10, temperature=0.0, stop=[stop]))


def test_steppers_are_eager_on_cpu_and_the_stream_leaves_the_cursor_its_own_state(engine):
    stepper = DecodeSteppers(engine.model).acquire(2)
    assert isinstance(stepper, EagerStepper) and not stepper.graphed
    cursor = engine.run(None, engine.tokenizer.encode("Hello"))
    start = cursor.state
    list(engine.stream(cursor, SamplingOptions(max_tokens=4, temperature=0.0)))
    assert cursor.state is not start and len(cursor.tokens) > 1
    logits, _ = engine.model.forward_sequence(torch.tensor([cursor.tokens]), prefill_dtype="fp32")
    torch.testing.assert_close(cursor.logits, logits[0], atol=1e-4, rtol=1e-4)
