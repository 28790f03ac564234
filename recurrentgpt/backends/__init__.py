"""Backends turn chat messages into labelled replies. Each registers a factory
under its name; the engine only ever sees `Backend`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from recurrentgpt.backends.base import Backend, ChatMessage, Reply
from recurrentgpt.errors import BackendUnavailable

if TYPE_CHECKING:
    from recurrentgpt.settings import Settings

Factory = Callable[["Settings"], Backend]
_factories: dict[str, Factory] = {}
# Built-in backends live in these modules and register on import, so that the
# hosted path never imports torch.
_builtin = {"openai": "recurrentgpt.backends.hosted", "local": "recurrentgpt.backends.local"}


def register(name: str) -> Callable[[Factory], Factory]:
    def add(factory: Factory) -> Factory:
        _factories[name] = factory
        return factory

    return add


def create_backend(settings: "Settings") -> Backend:
    name = settings.backend
    if name not in _factories and name in _builtin:
        import importlib

        importlib.import_module(_builtin[name])
    if name not in _factories:
        known = ", ".join(sorted(set(_factories) | set(_builtin)))
        raise BackendUnavailable(f"Unknown backend {name!r}; choose one of: {known} (RECURRENTGPT_BACKEND).")
    return _factories[name](settings)


__all__ = ["Backend", "ChatMessage", "Reply", "register", "create_backend"]
