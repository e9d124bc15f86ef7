"""The questionnaire in a browser: the page's files, the questionnaire state, the HTML report."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Every file the page loads, with its media type; nothing else is served from STATIC_DIR.
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
