"""The loader names what is wrong with a checkpoint."""

from __future__ import annotations

import pytest
import torch

from local_model.checkpoint import load_checkpoint, random_weights, write_random_checkpoint
from local_model.config import RWKV7Config
from local_model.errors import CheckpointError


@pytest.fixture
def weights(tiny_checkpoint):
    return dict(torch.load(tiny_checkpoint, weights_only=True))


def save(tmp_path, weights):
    path = tmp_path / "edited.pth"
    torch.save(weights, path)
    return path


def test_config_is_inferred_from_the_tensors(tiny_checkpoint):
    config, _ = load_checkpoint(tiny_checkpoint)
    assert (config.n_layer, config.n_embd, config.n_head, config.head_size, config.vocab_size) == (2, 128, 2, 64, 1000)
    assert config.ffn_dim == 512 and config.decay_lora == 32


def test_official_lora_sizes_for_a_0_1b_shape():
    config = RWKV7Config(12, 768, 65536, 64, 64, 64, 32, 128, 3072)
    weights = random_weights(RWKV7Config(2, 768, 16, 64, 64, 64, 32, 128, 3072))
    assert tuple(weights["blocks.1.att.g1"].shape) == (768, 128) and config.n_head == 12


def test_missing_key_is_named(tmp_path, weights):
    del weights["blocks.1.att.k_a"]
    with pytest.raises(CheckpointError, match=r"missing keys: blocks\.1\.att\.k_a"):
        load_checkpoint(save(tmp_path, weights))


def test_unexpected_key_is_named(tmp_path, weights):
    weights["blocks.0.att.mystery"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected keys: blocks\.0\.att\.mystery"):
        load_checkpoint(save(tmp_path, weights))


def test_wrong_shape_is_named_with_both_shapes(tmp_path, weights):
    weights["blocks.1.ffn.value.weight"] = torch.zeros(128, 100)
    with pytest.raises(CheckpointError, match=r"blocks\.1\.ffn\.value\.weight: expected \(128, 512\), found \(128, 100\)"):
        load_checkpoint(save(tmp_path, weights))


def test_deepembed_checkpoints_are_refused_clearly(tmp_path, weights):
    weights["blocks.0.ffn.s_emb.weight"] = torch.zeros(1000, 1024)
    weights["blocks.0.ffn.s1"] = torch.zeros(128, 32)
    with pytest.raises(CheckpointError, match="DeepEmbed"):
        load_checkpoint(save(tmp_path, weights))


def test_older_rwkv_generations_are_refused(tmp_path, weights):
    weights["blocks.0.att.time_maa_x"] = torch.zeros(1, 1, 128)
    with pytest.raises(CheckpointError, match="RWKV-6"):
        load_checkpoint(save(tmp_path, weights))


def test_unused_layer0_value_residual_is_accepted(tmp_path, weights):
    weights["blocks.0.att.v0"] = torch.zeros(1, 1, 128)
    weights["blocks.0.att.v1"] = torch.zeros(128, 32)
    weights["blocks.0.att.v2"] = torch.zeros(32, 128)
    _, loaded = load_checkpoint(save(tmp_path, weights))
    assert "blocks.0.att.v0" not in loaded


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.pth")


def test_random_checkpoint_is_stored_in_bf16_when_asked(tmp_path):
    path = tmp_path / "bf16.pth"
    write_random_checkpoint(path, n_layer=1, n_embd=64, vocab=32, dtype=torch.bfloat16)
    config, loaded = load_checkpoint(path)
    assert config.n_layer == 1 and loaded["emb.weight"].dtype == torch.bfloat16


def test_known_names_resolve_to_a_local_file_and_unknown_ones_explain(tmp_path):
    from local_model.errors import WeightsNotFound
    from local_model.weights import resolve_weights

    (tmp_path / "rwkv7-g1a-0.1b-20250728-ctx4096.pth").write_bytes(b"")
    (tmp_path / "rwkv7-g1-0.1b-20250307-ctx4096.pth").write_bytes(b"")
    assert resolve_weights("g1-0.1b", tmp_path).name == "rwkv7-g1a-0.1b-20250728-ctx4096.pth"
    with pytest.raises(WeightsNotFound, match="g1-0.1b"):
        resolve_weights("gpt-5", tmp_path)
