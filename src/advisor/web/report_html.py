"""The Markdown report as an HTML fragment, its Mermaid block drawn as inline SVG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

from advisor.diagram import architecture_svg
from advisor.models.report import Report


def _parser(report: Report) -> MarkdownIt:
    # Raw HTML in the Markdown (a requirement's free text, say) is shown as text, never run.
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")

    def fence(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any,
              env: Any) -> str:
        if tokens[index].info.strip() == "mermaid":
            svg = architecture_svg(report.graph, title=f"Architecture: {report.title}")
            return f'<figure class="diagram">\n{svg}</figure>\n'
        return RendererHTML.fence(renderer, tokens, index, options, env)

    parser.add_render_rule("fence", fence)
    return parser


def report_html(report: Report, markdown: str) -> str:
    """``markdown`` (the report rendered by ``advisor.render``) as an ``<article>`` element,
    with the architecture diagram as inline SVG in place of the Mermaid source."""
    body = _parser(report).render(markdown)
    return f'<article class="report">\n{body}</article>\n'
