"""Report -> Markdown (jinja2 templates) or JSON. Templates see one ``Report`` object."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from advisor.memo import remember
from advisor.models.report import CitationOut, Report
from advisor.paths import templates_dir

FORMATS = ("md", "json")


def _value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "(none)"
    return str(value)


def _figure(value: float | int) -> str:
    """A number with thousands separators: 48,000 and 5.73."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}"


def _numbers(citations: Iterable[CitationOut]) -> list[int]:
    """The citations' source numbers, each once, in order of first appearance."""
    return list(dict.fromkeys([citation.number for citation in citations]))


# Rendered text by macro and the identities of the report objects it was given, with those
# objects (kept alive, so no other object can take their identities). A bounded cache.
_RENDERED: dict[tuple[object, ...], tuple[Sequence[BaseModel], str]] = {}


def _remembered(items: Sequence[BaseModel], macro: Callable[[Sequence[BaseModel]], str]) -> str:
    """``macro(items)``, rendered once for every list of the very same report objects.

    Report objects are frozen, and resolving shares one object between all reports that show
    the same values (``advisor.resolve``), so a list holding the same objects renders the same
    text. The macro must read nothing but ``items``."""
    key = (macro, *map(id, items))
    found = _RENDERED.get(key)
    if found is not None:
        return found[1]
    return remember(_RENDERED, key, (items, macro(items)))[1]


def _cell(text: Any) -> str:
    """Make text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def environment(directory: Path | None = None) -> jinja2.Environment:
    """A jinja2 environment over the template directory; undefined names are errors."""
    return _environment(str(directory or templates_dir()))


@functools.lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    # Cached in the process: compiling the templates costs far more than rendering a report.
    # Never across processes: compiled templates are code, and the disk cache holds only data
    # that cannot run anything when read (see advisor.cache); compiling costs ~0.1 s a start.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown output, not HTML
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change under a running process; skips a stat per use
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = _value
    env.filters["cell"] = _cell
    env.filters["figure"] = _figure
    env.filters["numbers"] = _numbers
    env.filters["remembered"] = _remembered
    return env


def render_markdown(report: Report, directory: Path | None = None) -> str:
    """The report as Markdown."""
    return tidy_markdown(environment(directory).get_template("report.md.j2").render(report=report))


def tidy_markdown(text: str) -> str:
    """Collapse runs of blank lines left by conditional template blocks and strip trailing
    spaces, so rendered output stays tidy and stable."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() == "" and lines and lines[-1] == "":
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"


def render_json(document: BaseModel) -> str:
    """A report (or any output model) as indented JSON with a trailing newline.

    Pydantic's own serializer writes the same bytes as ``json.dumps(model_dump(mode="json"),
    indent=2, ensure_ascii=False)`` (tests/test_render_json.py compares them) in a sixth of
    the CPU time (docs/benchmarks.md, *JSON rendering*)."""
    return document.model_dump_json(indent=2) + "\n"


def compact_json(document: BaseModel, extra: dict[str, str] | None = None) -> bytes:
    """An output model as compact JSON, with ``extra`` text fields added after its own, as the
    HTTP API sends it: the bytes ``json.dumps(model_dump(mode="json") | extra,
    ensure_ascii=False, separators=(",", ":"))`` writes (tests/test_render_json.py), in about
    two fifths of the CPU time (docs/benchmarks.md, *After the targets run*)."""
    text = document.model_dump_json()
    if extra:
        added = ",".join(f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
                         for key, value in extra.items())
        text = f"{text[:-1]}{',' if text != '{}' else ''}{added}}}"
    return text.encode("utf-8")


def render(report: Report, output_format: str, directory: Path | None = None) -> str:
    """Render in ``md`` or ``json``."""
    if output_format == "json":
        return render_json(report)
    if output_format == "md":
        return render_markdown(report, directory)
    raise ValueError(f"unknown format '{output_format}' (allowed: {', '.join(FORMATS)})")
