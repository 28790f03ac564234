"""Finding the weights: a path on disk, or a known model name fetched from
Hugging Face (BlinkDL/rwkv7-g1) into a local folder; and picking the device
and dtype to run them in."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from local_model.errors import WeightsNotFound

G1_REPO = "BlinkDL/rwkv7-g1"
# Names users may type (also spelled rwkv7-g1-0.1b, g1a-0.1b, ...); the newest
# file of that size in the G1 repository is used.
KNOWN_MODELS = ("g1-0.1b", "g1-0.4b", "g1-1.5b", "g1-2.9b", "g1-7.2b", "g1-13.3b")


def _size_of(name: str) -> str | None:
    match = re.fullmatch(r"(?:rwkv7-)?g1[a-z]?-(\d+(?:\.\d+)?b)", name.strip().lower())
    return match.group(1) if match else None


def is_known_name(name: str) -> bool:
    return _size_of(name) is not None


def _newest_matching(files: list[str], size: str) -> str | None:
    # Files look like rwkv7-g1a-0.1b-20250728-ctx4096.pth: newest date wins.
    pattern = re.compile(rf"rwkv7-g1[a-z]?-{re.escape(size)}-(\d{{8}})-.*\.pth$")
    dated = [(m.group(1), f) for f in files if (m := pattern.search(f.rsplit("/", 1)[-1]))]
    return max(dated)[1] if dated else None


def resolve_weights(name_or_path: str, models_dir: str | Path) -> Path:
    """Turn a path or a known name (`g1-0.1b`, `rwkv7-g1-1.5b`) into a local `.pth` path.

    A known name is looked up in `models_dir` first, then downloaded there from
    Hugging Face with a progress bar. Raises WeightsNotFound saying where to put
    the file when that is impossible.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".pth" or candidate.exists() or "/" in name_or_path:
        if candidate.is_file():
            return candidate
        if candidate.with_suffix(".pth").is_file():
            return candidate.with_suffix(".pth")
        raise WeightsNotFound(f"no model file at {candidate}; give the path of an RWKV-7 .pth file or a name such as g1-0.1b")
    size = _size_of(name_or_path)
    if size is None:
        raise WeightsNotFound(
            f"unknown model {name_or_path!r}: give the path of an RWKV-7 x070 .pth file, or one of "
            + ", ".join(KNOWN_MODELS)
        )
    models_dir = Path(models_dir).expanduser()
    local = _newest_matching([p.name for p in models_dir.glob("*.pth")], size) if models_dir.is_dir() else None
    if local:
        return models_dir / local
    return _download(size, models_dir)


def _download(size: str, models_dir: Path) -> Path:
    where = f"download a rwkv7-g1*-{size}-*.pth file from https://huggingface.co/{G1_REPO} into {models_dir}"
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError as exc:
        raise WeightsNotFound(f"huggingface_hub is not installed; {where}") from exc
    try:
        filename = _newest_matching(HfApi().list_repo_files(G1_REPO), size)
        if filename is None:
            raise WeightsNotFound(f"{G1_REPO} has no {size} model; {where}")
        models_dir.mkdir(parents=True, exist_ok=True)
        # hf_hub_download shows a tqdm progress bar while it fetches.
        return Path(hf_hub_download(G1_REPO, filename, local_dir=models_dir))
    except WeightsNotFound:
        raise
    except Exception as exc:  # offline, DNS, HTTP errors: all mean "not now"
        raise WeightsNotFound(f"could not download the {size} model ({type(exc).__name__}); offline? {where}") from exc


def pick_device_and_dtype(device: str | None, dtype: str | None = None) -> tuple[torch.device, torch.dtype]:
    """CUDA when present (fp16 by default, bf16 on request), else CPU in fp32
    (bf16 on request). The WKV state is fp32 whatever this returns."""
    if device is None or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    target = torch.device(device)
    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
             "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if dtype:
        if dtype.lower() not in names:
            raise ValueError(f"dtype {dtype!r} is not one of {', '.join(names)}")
        return target, names[dtype.lower()]
    return target, torch.float16 if target.type == "cuda" else torch.float32
