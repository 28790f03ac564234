"""Fixtures for export and import: a second, empty data home (and database)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def switch_home(tmp_path, monkeypatch, home):
    """Point the app at another, empty data home (a fresh database on
    PostgreSQL too), as if on another machine; returns its path."""
    from tests.conftest import _fresh_database

    def switch(name: str = "other-home"):
        other = tmp_path / name
        monkeypatch.setenv("RECURRENTGPT_HOME", str(other))
        if os.environ.get("RECURRENTGPT_TEST_DATABASE_URL"):
            monkeypatch.setenv("RECURRENTGPT_DATABASE_URL", _fresh_database(os.environ["RECURRENTGPT_TEST_DATABASE_URL"]))
        return other

    return switch
