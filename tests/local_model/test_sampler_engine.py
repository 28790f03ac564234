"""Sampling rules, stop strings, streaming and the prefix cache."""

from __future__ import annotations

import threading

import pytest
import torch

from local_model.engine import Engine, GenerationCancelled, PrefixCache
from local_model.model import RWKV7
from local_model.sampler import Sampler, SamplingOptions, StopMatcher
from local_model.tokenizer import WorldTokenizer


def logits_favouring(*preferred, vocab=10):
    logits = torch.zeros(vocab)
    for rank, token in enumerate(preferred):
        logits[token] = 5.0 - rank
    return logits


def test_same_seed_same_tokens_other_seed_other_tokens():
    logits = torch.randn(1000, generator=torch.Generator().manual_seed(0))

    def draw(seed):
        sampler = Sampler(SamplingOptions(temperature=1.5, top_p=1.0, seed=seed), 1000)
        return [sampler.sample(logits) for _ in range(30)]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_zero_temperature_and_top_k_1_are_greedy():
    logits = logits_favouring(3, 7)
    assert Sampler(SamplingOptions(temperature=0), 10).sample(logits) == 3
    sampler = Sampler(SamplingOptions(temperature=2.0, top_k=1, top_p=1.0, seed=0), 10)
    assert {sampler.sample(logits) for _ in range(20)} == {3}


def test_top_p_keeps_only_the_nucleus():
    logits = torch.tensor([10.0, 9.0, -10.0, -10.0])
    sampler = Sampler(SamplingOptions(temperature=1.0, top_p=0.5, seed=0), 4)
    assert {sampler.sample(logits) for _ in range(50)} == {0}


def test_presence_and_frequency_penalties_push_repeats_down_and_decay():
    logits = logits_favouring(3, 7)  # 3 leads by 1.0
    options = SamplingOptions(temperature=0, presence_penalty=0.6, frequency_penalty=0.5, penalty_decay=0.5)
    sampler = Sampler(options, 10)
    assert sampler.sample(logits) == 3  # first time: no penalty
    assert sampler.sample(logits) == 7  # 3 now costs 0.6 + 1 * 0.5 > 1.0
    assert sampler.occurrence[3] == pytest.approx(0.5)  # decayed once since
    assert sampler.sample(logits) == 3  # 3: 0.6 + 0.5*0.5 = 0.85 < 1.0 + (0.6 + 0.5) for 7


def test_mask_restricts_choices():
    sampler = Sampler(SamplingOptions(temperature=0), 10)
    allowed = torch.zeros(10, dtype=torch.bool)
    allowed[5] = True
    assert sampler.sample(logits_favouring(3), lambda logits: allowed) == 5


def test_stop_matcher_holds_back_partial_stops_and_cuts_before_the_stop():
    stops = StopMatcher(["\n\nUser:", "END"])
    assert stops.feed("Hello\n") == "Hello"  # "\n" may start "\n\nUser:"
    assert stops.feed("\nUs") == ""
    assert stops.feed("ually") == "\n\nUsually"  # it did not become a stop
    assert stops.feed(" fine. EN") == " fine. "
    assert stops.feed("Done") == "" and stops.stopped


@pytest.fixture(scope="module")
def engine(world_checkpoint):
    return Engine(RWKV7.from_checkpoint(world_checkpoint), WorldTokenizer())


def test_generation_respects_max_tokens_and_seed(engine):
    options = SamplingOptions(temperature=1.0, max_tokens=12, seed=5)
    first = list(engine.generate("User: hi\n\nAssistant:", options))
    second = list(engine.generate("User: hi\n\nAssistant:", options))
    assert first == second
    assert len(engine.tokenizer.encode("".join(first))) <= 12


def test_generation_stops_at_a_stop_string(engine):
    # A space-free stop that random text reaches quickly: any "e".
    text = "".join(engine.generate("User: hi\n\nAssistant:", SamplingOptions(max_tokens=200, stop=("e",), seed=1)))
    assert "e" not in text


def test_cancel_stops_generation(engine):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelled):
        list(engine.generate("User: hi\n\nAssistant:", SamplingOptions(max_tokens=5), cancel=cancel))


def test_prefix_cache_skips_the_shared_prefix_and_gives_the_same_state(engine):
    fresh = Engine(engine.model, engine.tokenizer, cache=PrefixCache())
    fixed = engine.tokenizer.encode("System: You write novels about the sea.\n\n")
    step1 = fixed + engine.tokenizer.encode("User: chapter one\n\nAssistant:")
    step2 = fixed + engine.tokenizer.encode("User: chapter two, longer\n\nAssistant:")
    fresh.prefill(step1, save_at=[len(fixed)])
    before = fresh.stats.computed_tokens
    cursor = fresh.prefill(step2, save_at=[len(fixed)])
    assert fresh.stats.computed_tokens - before == len(step2) - len(fixed)
    uncached, _ = engine.model.forward_sequence(torch.tensor([step2]))
    torch.testing.assert_close(cursor.logits, uncached[0], atol=1e-4, rtol=0)
    before = fresh.stats.computed_tokens
    fresh.prefill(step2)
    assert fresh.stats.computed_tokens == before  # the whole prompt was cached


def test_prefix_cache_evicts_beyond_its_byte_budget(engine):
    state = engine.model.zero_state()
    logits = torch.zeros(10)
    cache = PrefixCache(max_bytes=2 * (state.nbytes() + 40))
    for i in range(4):
        cache.put([i], state, logits)
    assert len(cache) == 2 and cache.longest_prefix([0, 5]) is None and cache.longest_prefix([3, 5])[0] == 1
