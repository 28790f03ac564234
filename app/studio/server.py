"""Serving the studio: loopback by default; anywhere else only behind a password."""

import ipaddress
import os
from pathlib import Path

from recurrentgpt.errors import RecurrentGPTError

CSS = (Path(__file__).with_name("studio.css")).read_text(encoding="utf-8")
AUTH_VAR = "RECURRENTGPT_AUTH"
# Uploads are bible JSON files and the like: small. A bigger one is refused
# before it reaches the disk.
MAX_UPLOAD = "5mb"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise RecurrentGPTError("--auth must be USER:PASSWORD (both non-empty), e.g. --auth mara:lighthouse.")
    return user, password


def check_exposure(host: str, auth: str | None) -> tuple[str, str] | None:
    """The credentials to require; refuse a non-loopback host without them."""
    credentials = parse_auth(auth or os.environ.get(AUTH_VAR))
    if credentials is None and not is_loopback(host):
        raise RecurrentGPTError(
            f"Refusing to serve the studio on {host} without a password: anyone who can reach it could read, "
            f"change and delete your stories. Give --auth USER:PASSWORD (or set {AUTH_VAR}), or use 127.0.0.1."
        )
    return credentials


def build(library=None):
    from app.studio.layout import build_studio
    from app.studio.session import Studio
    from recurrentgpt.library import Library

    return build_studio(Studio(library or Library()))


def launch(host: str = "127.0.0.1", port: int = 7860, auth: str | None = None, *, library=None,
           block: bool = True, quiet: bool = False):
    """Start the studio; with `block=False` return the running Blocks (tests)."""
    credentials = check_exposure(host, auth)
    demo = build(library)
    # Streams of different sessions run side by side; one session's are serialised by its own UI locks.
    demo.queue(default_concurrency_limit=16)
    demo.launch(server_name=host, server_port=port, auth=credentials, css=CSS, prevent_thread_lock=not block,
                quiet=quiet, show_error=False, max_file_size=MAX_UPLOAD, footer_links=["api"], inbrowser=False, ssr_mode=False)
    return demo
