"""Settings: from the environment, overridable per call (CLI flags, studio)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


def default_home() -> Path:
    env = os.environ.get("RECURRENTGPT_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "recurrentgpt"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None  # default: SQLite file under home
    backend: Literal["openai", "local"] = "openai"
    # hosted
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    timeout: float = 120.0
    retries: int = 3
    # local
    local_model: str | None = None
    device: str | None = None
    # writing
    temperature: float = 0.8
    max_tokens: int = 1500
    retrieval_k: int = 3
    repair_attempts: int = 2
    short_term_words: int = 180
    # story bible (recurrentgpt/bible.py): the prompt's bible block is at most
    # bible_tokens; an entry is "close" to the plan at cosine >= bible_similarity
    # (1.0 turns semantic selection off), at most bible_similar_k of those.
    bible_tokens: int = Field(600, ge=0)
    bible_similarity: float = 0.4
    bible_similar_k: int = Field(4, ge=0)
    # After a step, one short extra call proposes an entry for a new name.
    # auto: on for the hosted backend (a ~400-token request, made only when the
    # paragraph has a capitalised name the bible and recent text do not know),
    # off for the local one (it would hold the GPU for a second generation).
    bible_suggest: Literal["auto", "on", "off"] = "auto"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        pairs = {
            "database_url": "RECURRENTGPT_DATABASE_URL",
            "backend": "RECURRENTGPT_BACKEND",
            "base_url": "OPENAI_BASE_URL",
            "api_key": "OPENAI_API_KEY",
            "model": "RECURRENTGPT_MODEL",
            "timeout": "RECURRENTGPT_TIMEOUT",
            "retries": "RECURRENTGPT_RETRIES",
            "local_model": "RECURRENTGPT_LOCAL_MODEL",
            "device": "RECURRENTGPT_DEVICE",
            "temperature": "RECURRENTGPT_TEMPERATURE",
            "max_tokens": "RECURRENTGPT_MAX_TOKENS",
            "retrieval_k": "RECURRENTGPT_RETRIEVAL_K",
            "repair_attempts": "RECURRENTGPT_REPAIR_ATTEMPTS",
            "bible_tokens": "RECURRENTGPT_BIBLE_TOKENS",
            "bible_similarity": "RECURRENTGPT_BIBLE_SIMILARITY",
            "bible_suggest": "RECURRENTGPT_BIBLE_SUGGEST",
        }
        for field_name, var in pairs.items():
            if env.get(var):
                values[field_name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def suggests_bible(self) -> bool:
        return self.bible_suggest == "on" or (self.bible_suggest == "auto" and self.backend != "local")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'recurrentgpt.db'}"
