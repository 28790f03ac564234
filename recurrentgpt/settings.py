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
            "retrieval_k": "RECURRENTGPT_RETRIEVAL_K",
            "repair_attempts": "RECURRENTGPT_REPAIR_ATTEMPTS",
        }
        for field_name, var in pairs.items():
            if env.get(var):
                values[field_name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'recurrentgpt.db'}"
