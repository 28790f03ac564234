"""RWKV-7 "Goose" (x070) in plain PyTorch, top to bottom like the paper:
time mix, channel mix, block, model, head.

Parameter names equal the keys of the official BlinkDL checkpoints, so loading
needs no renaming. Shapes in comments: B batch, T tokens, C width, H heads,
N head size (C = H * N), V vocabulary.

Both entry points run the same modules: `forward_sequence` feeds a whole prompt
(every matmul over all T tokens at once, the WKV recurrence through
`local_model.ops.wkv7`), `forward_step` feeds one token per sequence.

Mixed-precision prefill on CPU (bf16 matmuls where the CPU has them, state
and decode in fp32): see `local_model.precision`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from local_model.checkpoint import load_checkpoint
from local_model.config import RWKV7Config
from local_model.ops import group_norm_bonus, token_shift_mix, wkv7
from local_model.ops.wkv7.dispatch import use_triton
from local_model.precision import prefill_dtype_setting, resolve_prefill_dtype
from local_model.state import LayerState, RecurrentState

# The decay of each channel lies in (exp(-e^-0.5), 1): log decay = -e^-0.5 * sigmoid(.).
EXP_MINUS_HALF = 0.606531
# Matrices kept in (in, out) memory order on CPU (see RWKV7.from_weights).
CPU_TRANSPOSED = ("head.weight", "att.receptance.weight", "att.key.weight", "att.value.weight",
                  "att.output.weight", "ffn.key.weight", "ffn.value.weight")
# Group norm epsilon: 1e-5 per channel of a 64-wide head, as the model was trained.
GROUP_NORM_EPS = 64e-5

def _linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """F.linear in the weight's dtype, the result in x's dtype (no casts when they agree)."""
    return F.linear(x.to(weight.dtype), weight).to(x.dtype)


def _mm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight in the weight's dtype, the result in x's dtype (no casts when they agree)."""
    return (x.to(weight.dtype) @ weight).to(x.dtype)


def _matrices(module: nn.Module, names: tuple[str, ...], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """The named matrices of `module`: its parameters themselves, or for
    `dtype` copies in that dtype, made once and kept until a parameter is
    replaced or changed in place (same rule as `TimeMix.mixes`)."""
    params = {name: module.get_parameter(name) for name in names}
    if dtype is None or all(p.dtype == dtype for p in params.values()):
        return params
    key = (dtype, tuple((p.data_ptr(), _version(p)) for p in params.values()))
    cached = module.__dict__.get("_low_precision")
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, {name: p.detach().to(dtype) for name, p in params.items()})
        module.__dict__["_low_precision"] = cached
    return cached[1]


def token_shift(x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """The previous token's vector for each position: (B, T, C), from x (B, T, C)
    and the last vector of the previous call `last` (B, C)."""
    if x.shape[1] == 1:
        return last.unsqueeze(1)
    return torch.cat((last.unsqueeze(1), x[:, :-1]), dim=1)


def _version(t: torch.Tensor) -> int:
    """The in-place edit counter of `t` (inference tensors have none: they cannot be edited outside inference mode)."""
    try:
        return t._version
    except RuntimeError:
        return 0


class TimeMix(nn.Module):
    """Mixes information across tokens through the WKV-7 state (the "attention")."""

    # The matrices a prefill multiplies by (v1, v2 last: layer 0 has none).
    MATRICES = ("receptance.weight", "key.weight", "value.weight", "output.weight",
                "w1", "w2", "a1", "a2", "g1", "g2", "v1", "v2")

    def __init__(self, config: RWKV7Config, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        self.n_head, self.head_size = config.n_head, config.head_size
        C = config.n_embd

        def vector() -> nn.Parameter:
            return nn.Parameter(torch.empty(C))

        # How much of the previous token each projection sees (token shift).
        self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g = (vector() for _ in range(6))
        # Data-dependent decay w, in-context learning rate a, value residual v,
        # gate g: each a bias plus a low-rank function of the token.
        self.w0, self.w1, self.w2 = vector(), nn.Parameter(torch.empty(C, config.decay_lora)), nn.Parameter(torch.empty(config.decay_lora, C))
        self.a0, self.a1, self.a2 = vector(), nn.Parameter(torch.empty(C, config.iclr_lora)), nn.Parameter(torch.empty(config.iclr_lora, C))
        if layer_id > 0:
            self.v0, self.v1, self.v2 = vector(), nn.Parameter(torch.empty(C, config.value_lora)), nn.Parameter(torch.empty(config.value_lora, C))
        self.g1, self.g2 = nn.Parameter(torch.empty(C, config.gate_lora)), nn.Parameter(torch.empty(config.gate_lora, C))
        self.k_k = vector()  # scales the key before it is normalised into the removal key kk
        self.k_a = vector()  # how much the learning rate also scales the key written
        self.r_k = nn.Parameter(torch.empty(self.n_head, self.head_size))  # bonus for the current token
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(self.n_head, C, eps=GROUP_NORM_EPS)

    def forward(
        self, x: torch.Tensor, last_x: torch.Tensor, v_first: torch.Tensor | None, wkv_state: torch.Tensor,
        matmul_dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, T, C) normalised input; last_x: (B, C); v_first: (B, T, C) layer 0's
        values (None in layer 0); wkv_state: (B, H, N, N) fp32; matmul_dtype: run
        the matmuls on copies of the weights in this dtype (None: as stored).

        Returns the output (B, T, C), the new token shift (B, C), v_first and the new WKV state.
        """
        B, T, C = x.shape
        H, N = self.n_head, self.head_size
        m = _matrices(self, self.MATRICES if self.layer_id > 0 else self.MATRICES[:-2], matmul_dtype)
        # One fused pass on the Triton path (13 small kernels in plain torch).
        xr, xw, xk, xv, xa, xg = token_shift_mix(x, last_x, self.mixes())

        r = _linear(xr, m["receptance.weight"])
        k = _linear(xk, m["key.weight"])
        v = _linear(xv, m["value.weight"])
        log_decay = -EXP_MINUS_HALF * torch.sigmoid((self.w0 + _mm(torch.tanh(_mm(xw, m["w1"])), m["w2"])).float())
        iclr = torch.sigmoid(self.a0 + _mm(_mm(xa, m["a1"]), m["a2"]))  # in-context learning rate, (B, T, C)
        gate = _mm(torch.sigmoid(_mm(xg, m["g1"])), m["g2"])

        # The delta rule removes from the state what it holds under the unit key kk,
        # then writes v under k (scaled by the learning rate where k_a says so).
        kk = F.normalize((k * self.k_k).view(B, T, H, N), dim=-1, p=2.0)
        k = k * (1 + (iclr - 1) * self.k_a)
        if self.layer_id == 0:
            v_first = v
        else:  # value residual: every layer may pull its values towards layer 0's
            v = v + (v_first - v) * torch.sigmoid(self.v0 + _mm(_mm(xv, m["v1"]), m["v2"]))

        heads = (B, T, H, N)
        o, wkv_state = wkv7(
            r.view(heads), log_decay.view(heads), k.view(heads), v.view(heads),
            -kk, kk * iclr.view(heads), wkv_state,
        )
        # Group norm per head, the current token's bonus (r · (k ⊙ r_k)) v and the
        # gate: one fused pass on the Triton path (about 10 kernels in plain torch).
        out = group_norm_bonus(
            o.view(heads), r.view(heads), k.view(heads), v.view(heads), self.r_k,
            self.ln_x.weight, self.ln_x.bias, gate, GROUP_NORM_EPS,
        )
        return _linear(out, m["output.weight"]), x[:, -1], v_first, wkv_state

    def step(
        self, x: torch.Tensor, last_x: torch.Tensor, v_first: torch.Tensor | None, wkv_state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` for one token per sequence on the torch path (CPU decode):
        x, last_x, v_first (B, C); wkv_state (B, H, N, N) fp32, not modified.

        The same maths with as few kernels as torch allows (fused multiply-adds,
        2-D matmuls, the WKV update as two rank-1 updates), since at batch 1
        the time goes into launching small ops, not into the arithmetic.
        """
        B, C = x.shape
        H, N = self.n_head, self.head_size
        xr, xw, xk, xv, xa, xg = torch.addcmul(x, last_x - x, self.mixes()[:, None]).unbind(0)

        r = F.linear(xr, self.receptance.weight)
        k = F.linear(xk, self.key.weight)
        v = F.linear(xv, self.value.weight)
        log_decay = torch.sigmoid(torch.addmm(self.w0, torch.tanh(xw @ self.w1), self.w2).float()).mul_(-EXP_MINUS_HALF)
        iclr = torch.sigmoid(torch.addmm(self.a0, xa @ self.a1, self.a2))
        gate = torch.sigmoid(xg @ self.g1) @ self.g2

        kk = F.normalize((k * self.k_k).view(B, H, N), dim=-1, p=2.0)
        k = k * (1 + (iclr - 1) * self.k_a)
        if self.layer_id == 0:
            v_first = v
        else:
            v = torch.lerp(v, v_first, torch.sigmoid(torch.addmm(self.v0, xv @ self.v1, self.v2)))

        # S' = S diag(decay) + (S a) bᵀ + v kᵀ with a = -kk, b = kk * iclr (per head).
        rf, kf, vf, kkf = r.float().view(B, H, N, 1), k.float().view(B, H, 1, N), v.float().view(B, H, N, 1), kk.float()
        removed = wkv_state @ kkf.unsqueeze(-1)  # S kk: (B, H, N, 1)
        state = wkv_state * log_decay.exp_().view(B, H, 1, N)
        state.addcmul_(removed, (kkf * iclr.float().view(B, H, N)).unsqueeze(-2), value=-1.0)
        state.addcmul_(vf, kf)
        o = (state @ rf).view(B, C)

        out = F.group_norm(o, H, self.ln_x.weight.float(), self.ln_x.bias.float(), GROUP_NORM_EPS)
        bonus = (rf.view(B, H, N) * kf.view(B, H, N) * self.r_k.float()).sum(dim=-1, keepdim=True) * vf.view(B, H, N)
        out = ((out + bonus.view(B, C)) * gate.float()).to(gate.dtype)
        return F.linear(out, self.output.weight), x, v_first, state

    def mixes(self) -> torch.Tensor:
        """The six token-shift mixes stacked (6, C): x_r, x_w, x_k, x_v, x_a, x_g.

        Kept between calls so a decode step does not pay a stack kernel per
        layer; rebuilt when a mix is replaced or changed in place.
        """
        params = (self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g)
        key = tuple((p.data_ptr(), _version(p)) for p in params)
        cached = self.__dict__.get("_mixes")
        if cached is None or cached[0] != key:
            cached = (key, torch.stack(params))
            self.__dict__["_mixes"] = cached
        return cached[1]


class ChannelMix(nn.Module):
    """The feed-forward part: a squared-ReLU MLP on a token-shifted input."""

    def __init__(self, config: RWKV7Config):
        super().__init__()
        self.x_k = nn.Parameter(torch.empty(config.n_embd))
        self.key = nn.Linear(config.n_embd, config.ffn_dim, bias=False)
        self.value = nn.Linear(config.ffn_dim, config.n_embd, bias=False)

    def forward(
        self, x: torch.Tensor, last_x: torch.Tensor, matmul_dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, C), last_x: (B, C) -> output (B, T, C), new token shift (B, C).
        matmul_dtype: as in `TimeMix.forward`; the hidden layer stays in it."""
        m = _matrices(self, ("key.weight", "value.weight"), matmul_dtype)
        mixed = x + (token_shift(x, last_x) - x) * self.x_k
        hidden = torch.relu_(F.linear(mixed.to(m["key.weight"].dtype), m["key.weight"])).square_()
        return F.linear(hidden, m["value.weight"]).to(x.dtype), x[:, -1]

    def step(self, x: torch.Tensor, last_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` for one token per sequence: x, last_x (B, C) -> output (B, C), new token shift (B, C)."""
        hidden = torch.relu_(F.linear(torch.addcmul(x, last_x - x, self.x_k), self.key.weight))
        return F.linear(hidden.square_(), self.value.weight), x


class Block(nn.Module):
    """Pre-norm residual block: x += TimeMix(ln1 x); x += ChannelMix(ln2 x)."""

    def __init__(self, config: RWKV7Config, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(config.n_embd)  # normalises the embedding
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.att = TimeMix(config, layer_id)
        self.ffn = ChannelMix(config)

    def forward(
        self, x: torch.Tensor, state: LayerState, v_first: torch.Tensor | None,
        matmul_dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, LayerState, torch.Tensor]:
        """x: (B, T, C) -> (B, T, C), this layer's new state, v_first (B, T, C).
        matmul_dtype: as in `TimeMix.forward`."""
        if self.layer_id == 0:
            x = self.ln0(x)
        mixed, att_shift, v_first, wkv = self.att(self.ln1(x), state.att_shift, v_first, state.wkv, matmul_dtype)
        x = x + mixed
        mixed, ffn_shift = self.ffn(self.ln2(x), state.ffn_shift, matmul_dtype)
        return x + mixed, LayerState(att_shift, ffn_shift, wkv), v_first

    def step(
        self, x: torch.Tensor, state: LayerState, v_first: torch.Tensor | None
    ) -> tuple[torch.Tensor, LayerState, torch.Tensor]:
        """`forward` for one token per sequence: x (B, C) -> (B, C), this layer's new state, v_first (B, C)."""
        C = x.shape[-1]
        if self.layer_id == 0:
            x = F.layer_norm(x, (C,), self.ln0.weight, self.ln0.bias)
        mixed, att_shift, v_first, wkv = self.att.step(
            F.layer_norm(x, (C,), self.ln1.weight, self.ln1.bias), state.att_shift, v_first, state.wkv)
        x = x + mixed
        mixed, ffn_shift = self.ffn.step(F.layer_norm(x, (C,), self.ln2.weight, self.ln2.bias), state.ffn_shift)
        return x + mixed, LayerState(att_shift, ffn_shift, wkv), v_first


class RWKV7(nn.Module):
    """The whole model: embedding, blocks, final norm and the vocabulary head."""

    def __init__(self, config: RWKV7Config):
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_out = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # "auto", "fp32" or "bf16": the matmul dtype of CPU prefill (see the module docstring).
        self.prefill_dtype = prefill_dtype_setting()

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.head.weight.dtype

    def zero_state(self, batch: int = 1) -> RecurrentState:
        c = self.config
        return RecurrentState.zeros(c.n_layer, c.n_embd, c.n_head, c.head_size, batch=batch,
                                    dtype=self.dtype, device=self.device)

    def prefill_matmul_dtype(self, setting: str | None = None) -> torch.dtype | None:
        """The dtype `forward_sequence` runs its matmuls in under `setting`
        (None: `self.prefill_dtype`), or None for the model's own dtype."""
        return resolve_prefill_dtype(self.prefill_dtype if setting is None else setting,
                                     self.device.type, self.dtype)

    @torch.inference_mode()
    def forward_sequence(
        self, tokens: torch.Tensor, state: RecurrentState | None = None, *, all_logits: bool = False,
        prefill_dtype: str | None = None,
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Prefill: feed tokens (B, T) after `state` (zeros if None).

        Returns fp32 logits (B, V) for the last token, or (B, T, V) with
        `all_logits`, and the state after the last token (in the model's dtype,
        the WKV matrices fp32, whatever `prefill_dtype`, None: `self.prefill_dtype`).
        """
        if state is None:
            state = self.zero_state(tokens.shape[0])
        matmul_dtype = self.prefill_matmul_dtype(prefill_dtype)
        x = self.emb(tokens.to(self.device))
        v_first = None
        new_layers = []
        for block, layer_state in zip(self.blocks, state.layers):
            x, layer_state, v_first = block(x, layer_state, v_first, matmul_dtype)
            new_layers.append(layer_state)
        if not all_logits:
            x = x[:, -1]  # the head is the largest matmul: only pay it where needed
        x = self.ln_out(x)
        if x.dim() == 2 or x.shape[1] == 1:
            # One row per sequence: a matrix-vector product, memory-bound, faster in fp32 here.
            return self.head(x).float(), RecurrentState(tuple(new_layers))
        return _linear(x, _matrices(self, ("head.weight",), matmul_dtype)["head.weight"]).float(), \
            RecurrentState(tuple(new_layers))

    def forward_step(self, tokens: torch.Tensor, state: RecurrentState | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """Decode: feed one token per sequence, tokens (B,), after `state` of batch B.
        Returns logits (B, V) fp32 and the new state.

        The B sequences never mix (every op is per row), so several stories or
        plan candidates decode together: `RecurrentState.stack` their states,
        step, and `select(i)` each one back. On CUDA the engine replays this
        step from a CUDA graph (`local_model.cuda_graph`).

        Where the Triton kernels run this is `forward_sequence` over one token;
        on the torch path (CPU) each block's `step` works on (B, C) rows.
        """
        if use_triton(self.device.type):
            return self.forward_sequence(tokens.view(-1, 1), state)
        with torch.inference_mode():
            if state is None:
                state = self.zero_state(tokens.numel())
            x = self.emb(tokens.view(-1).to(self.device))
            v_first = None
            new_layers = []
            for block, layer_state in zip(self.blocks, state.layers):
                x, layer_state, v_first = block.step(x, layer_state, v_first)
                new_layers.append(layer_state)
            x = F.layer_norm(x, (x.shape[-1],), self.ln_out.weight, self.ln_out.bias)
            return F.linear(x, self.head.weight).float(), RecurrentState(tuple(new_layers))

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> "RWKV7":
        """Load an official x070 `.pth` file (checked key by key) onto `device` in `dtype`."""
        config, weights = load_checkpoint(path)
        return cls.from_weights(config, weights, device=device, dtype=dtype)

    @classmethod
    def from_weights(
        cls, config: RWKV7Config, weights: dict[str, torch.Tensor], *,
        device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
    ) -> "RWKV7":
        with torch.device("meta"):
            model = cls(config)
        targets = dict(model.named_parameters())
        # Official files store mixing vectors as (1, 1, C): reshape to our (C,).
        converted = {
            name: weights[name].reshape(param.shape).to(device=device, dtype=dtype).contiguous()
            for name, param in targets.items()
        }
        if torch.device(device).type == "cpu":
            # Same values, stored (in, out): a one-token matmul streams these
            # from memory faster that way with MKL (the head 17 -> 9 ms at
            # 0.1B); the parameter stays (out, in), a transposed view.
            for key in converted:
                if key.endswith(CPU_TRANSPOSED):
                    converted[key] = converted[key].t().contiguous().t()
        model.load_state_dict(converted, strict=True, assign=True)
        return model.requires_grad_(False).eval()
