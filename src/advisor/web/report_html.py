"""The Markdown report as an HTML fragment, its Mermaid block drawn as inline SVG.

The Markdown holds text the user typed (a system's name, a constraint's reason) as it was
typed, so Markdown in it would become markup. Raw HTML is shown as text; a link is live only
when it is written as the report writes its references (``<address>``) and points at one of
them, and an image is never shown: anything else is written out as the Markdown source it came
from.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

from advisor.diagram import architecture_svg
from advisor.models.report import Report


def _parser(report: Report) -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    # The only links the report itself writes: its references' addresses, as autolinks.
    own_links = {parser.normalizeLink(reference.location) for reference in report.references
                 if reference.kind != "seed"}

    def fence(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any,
              env: Any) -> str:
        if tokens[index].info.strip() == "mermaid":
            svg = architecture_svg(report.graph, title=f"Architecture: {report.title}")
            return f'<figure class="diagram">\n{svg}</figure>\n'
        return RendererHTML.fence(renderer, tokens, index, options, env)

    def shown_target(token: Token, attribute: str) -> str:
        target = parser.normalizeLinkText(str(token.attrGet(attribute) or ""))
        title = token.attrGet("title")
        return f'{target} "{title}"' if title else target

    def link_open(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any,
                  env: Any) -> str:
        token = tokens[index]
        # An autolink shows its address, so a live one cannot pose as another link.
        live = token.markup == "autolink" and token.attrGet("href") in own_links
        # link_close comes after the link text's tokens; it learns here how to close.
        env.setdefault("links", []).append(None if live else token)
        if live:
            return renderer.renderToken(tokens, index, options, env)
        return escape("<" if token.markup == "autolink" else "[")

    def link_close(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any,
                   env: Any) -> str:
        opened = env["links"].pop()
        if opened is None:
            return renderer.renderToken(tokens, index, options, env)
        if opened.markup == "autolink":
            return escape(">")
        return escape(f"]({shown_target(opened, 'href')})")

    def image(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: Any,
              env: Any) -> str:
        token = tokens[index]
        return escape(f"![{token.content}]({shown_target(token, 'src')})")

    parser.add_render_rule("fence", fence)
    parser.add_render_rule("link_open", link_open)
    parser.add_render_rule("link_close", link_close)
    parser.add_render_rule("image", image)
    return parser


def report_html(report: Report, markdown: str) -> str:
    """``markdown`` (the report rendered by ``advisor.render``) as an ``<article>`` element,
    with the architecture diagram as inline SVG in place of the Mermaid source; a link or image
    that the report itself did not write is shown as its Markdown text."""
    body = _parser(report).render(markdown, {})
    return f'<article class="report">\n{body}</article>\n'
