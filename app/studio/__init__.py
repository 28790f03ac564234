"""The co-writing studio in the browser (Gradio). `launch(host, port, auth)` serves it."""

from app.studio.server import check_exposure, launch

__all__ = ["launch", "check_exposure"]
