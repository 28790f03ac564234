"""Our World tokenizer against the rwkv package's reference trie tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_model.tokenizer import WorldTokenizer, default_vocab_path

rwkv_tokenizer = pytest.importorskip("rwkv.rwkv_tokenizer")

PRIDE = Path(__file__).resolve().parents[3] / "shared" / "data" / "pride_and_prejudice.txt"
# Chapters 1-6, kept with the tests for machines without the shared data folder.
PRIDE_EXCERPT = Path(__file__).resolve().parents[1] / "data" / "pride_and_prejudice_ch1-6.txt"
CHINESE = "天下大势，分久必合，合久必分。周末七国分争，并入于秦。及秦灭之后，楚、汉分争，又并入于汉。🙂 Ünïcode ĀĒĪ"


@pytest.fixture(scope="module")
def ours():
    return WorldTokenizer()


@pytest.fixture(scope="module")
def reference():
    return rwkv_tokenizer.TRIE_TOKENIZER(str(default_vocab_path()))


@pytest.fixture(scope="module")
def pride():
    source = PRIDE if PRIDE.is_file() else PRIDE_EXCERPT
    return source.read_text(encoding="utf-8")[:150_000]


def test_ids_equal_the_reference_on_pride_and_prejudice(ours, reference, pride):
    ids = ours.encode(pride)
    assert ids == reference.encode(pride)
    assert ours.decode(ids) == pride


def test_ids_equal_the_reference_on_chinese(ours, reference):
    assert ours.encode(CHINESE) == reference.encode(CHINESE)
    assert ours.decode(ours.encode(CHINESE)) == CHINESE


def test_pure_python_fallback_gives_the_same_ids(ours, pride):
    slow = WorldTokenizer(use_fast=False)
    sample = pride[:20_000] + CHINESE
    assert slow.encode(sample) == ours.encode(sample)


def test_stream_decoding_never_emits_a_broken_character(ours):
    ids = ours.encode(CHINESE * 3)
    assert any(not ours.id_to_bytes[i].decode("utf-8", errors="ignore") for i in ids)  # some tokens split characters
    decoder = ours.stream_decoder()
    pieces = [decoder.feed(i) for i in ids] + [decoder.flush()]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == CHINESE * 3
