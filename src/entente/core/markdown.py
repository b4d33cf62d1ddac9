"""Members' Markdown (event descriptions, later advisories, practices) as HTML that cannot script.

Two independent lines of defence, so one library's bug is not enough for an XSS:

1. markdown-it-py, CommonMark plus tables and strikethrough, with raw HTML *off*: `<script>`
   or `<img onerror>` typed in a description comes out as visible text. Links and images keep
   only http, https and mailto URLs or relative ones (`validateLink` below); an image becomes a
   link to it, since a remote image would tell its server who reads a TLP:AMBER event (and the
   CSP's `img-src 'self' data:` would block it anyway).
2. nh3 (ammonia) re-parses that output and keeps only the tags and attributes Markdown makes,
   drops every other URL scheme again, and sets `rel="noopener noreferrer nofollow"` on links.
   No `target`: an external link opens like any other link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

from entente.core.errors import BadValue

# Event descriptions are validated to this length (sharing/schemas.py); markdown-it needs about
# a second on the worst 100,000-character inputs (thousands of unclosed `[`), so longer text
# is refused rather than rendered.
MAX_MARKDOWN_CHARS = 100_000

SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

# RFC 3986 section 3.1. A browser reads `foo:bar` as scheme `foo`, so anything shaped like a
# scheme must be an allowed one; text without one is a relative URL into Entente itself.
_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.\-]*):", re.IGNORECASE)

_ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li"}
    | {"pre", "code", "em", "strong", "s", "a"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
# Column alignment of a table arrives as `style="text-align:..."`; every other property goes.
_ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style"}),
    "td": frozenset({"style"}),
}


class _SafeLinksMarkdown(MarkdownIt):
    """markdown-it whose links and images accept only `SAFE_URL_SCHEMES` or relative URLs.

    The stock check refuses javascript:, vbscript: and file: but lets `data:image/...` through;
    an allow-list does not depend on knowing every dangerous scheme.
    """

    def validateLink(self, url: str) -> bool:
        scheme = _SCHEME.match(url)
        return scheme is None or scheme.group(1).lower() in SAFE_URL_SCHEMES


_IN_LINK = "entente_in_link"


def _image_as_link(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """`![alt](url)` as `<a href="url">alt</a>`: the reader chooses to fetch the image.

    Inside a link (a badge: `[![build](badge.svg)](ci-page)`) only the alt text stays, since a
    link cannot hold another link.
    """
    image = tokens[idx]
    label = escapeHtml(renderer.renderInlineAsText(image.children, options, env))
    if env.get(_IN_LINK):
        return label
    source = escapeHtml(str(image.attrGet("src") or ""))
    return f'<a href="{source}">{label or source}</a>'


def _link_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    # CommonMark links never nest, so a flag (not a depth) says whether an image is in one.
    env[_IN_LINK] = True
    return renderer.renderToken(tokens, idx, options, env)


def _link_close(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    env[_IN_LINK] = False
    return renderer.renderToken(tokens, idx, options, env)


@cache
def _markdown() -> MarkdownIt:
    parser = _SafeLinksMarkdown("commonmark", {"html": False}).enable(["table", "strikethrough"])
    parser.add_render_rule("image", _image_as_link)
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("link_close", _link_close)
    return parser


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        filter_style_properties=frozenset({"text-align"}),
        url_schemes=SAFE_URL_SCHEMES,
        link_rel=LINK_REL,
    )


def render_markdown(text: str) -> Markup:
    """Safe HTML of member-written Markdown; the Jinja filter `markdown`."""
    if len(text) > MAX_MARKDOWN_CHARS:
        raise BadValue(
            f"Markdown text is limited to {MAX_MARKDOWN_CHARS:,} characters",
            field="markdown",
            value=len(text),
        )
    return Markup(_cleaner().clean(_markdown().render(text)))
