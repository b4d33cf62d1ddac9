"""Members' Markdown renders as HTML that cannot run script, whatever they type.

`assert_inert` is the oracle: it parses the output the way a browser's tokenizer would (entities
in attributes decoded, tab and newline dropped from URLs as the URL standard does) and accepts
only the tags Markdown makes, no event-handler attributes and no URL scheme outside http,
https and mailto. The payloads are the classic ones (OWASP's XSS filter evasion list); the
Hypothesis properties mix them into arbitrary text so broken and nested syntax is covered too.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from entente.core.errors import BadValue
from entente.core.markdown import (
    LINK_REL,
    MAX_MARKDOWN_CHARS,
    SAFE_URL_SCHEMES,
    _cleaner,
    render_markdown,
)
from entente.web.templating import make_templates

MARKDOWN_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol"}
MARKDOWN_TAGS |= {"li", "pre", "code", "em", "strong", "s", "a", "table", "thead", "tbody"}
MARKDOWN_TAGS |= {"tr", "th", "td"}
SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
ALIGNMENT = re.compile(r"^text-align:(left|right|center)$")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def url_scheme(url: str) -> str | None:
    # What a browser does before it reads the scheme (URL standard, "basic URL parser").
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("\x00- ")
    match = SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def assert_inert(html: str) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in elements(html):
        assert tag in MARKDOWN_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, html)
            assert name in {"href", "title", "rel", "start", "style"}, (name, html)
            if name == "href":
                assert url_scheme(value or "") in SAFE_URL_SCHEMES | {None}, (value, html)
            if name == "style":
                assert ALIGNMENT.match(value or ""), (value, html)


def links(html: str) -> list[dict[str, str | None]]:
    return [dict(attrs) for tag, attrs in elements(html) if tag == "a"]


# --- what Markdown is for ---------------------------------------------------------------------


def test_headings_emphasis_and_strikethrough() -> None:
    html = render_markdown("# Phishing wave\n\n## Timeline\n\n**bold**, *italic*, ~~retracted~~")

    assert "<h1>Phishing wave</h1>" in html
    assert "<h2>Timeline</h2>" in html
    assert "<strong>bold</strong>, <em>italic</em>, <s>retracted</s>" in html


def test_lists_keep_their_order_and_start() -> None:
    html = render_markdown("- a\n- b\n\n3. third\n4. fourth\n\n> quoted")

    assert "<ul>\n<li>a</li>\n<li>b</li>\n</ul>" in html
    assert '<ol start="3">\n<li>third</li>\n<li>fourth</li>\n</ol>' in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html


def test_tables_keep_column_alignment() -> None:
    html = render_markdown("| ip | hits |\n|:---|---:|\n| 192.0.2.1 | 12 |\n")

    assert '<th style="text-align:left">ip</th>' in html
    assert '<th style="text-align:right">hits</th>' in html
    assert '<td style="text-align:left">192.0.2.1</td>' in html
    assert '<td style="text-align:right">12</td>' in html


def test_code_shows_html_as_text() -> None:
    html = render_markdown("Run `curl <url>`:\n\n```sh\necho '<script>' && rm -rf /\n```\n")

    assert "<code>curl &lt;url&gt;</code>" in html
    assert "<pre><code>echo '&lt;script&gt;' &amp;&amp; rm -rf /\n</code></pre>" in html


def test_raw_html_is_shown_as_text_not_dropped() -> None:
    html = render_markdown("Payload seen: <img src=x onerror=alert(1)>")

    assert html == "<p>Payload seen: &lt;img src=x onerror=alert(1)&gt;</p>\n"


def test_result_is_markup_so_jinja_does_not_escape_it_again() -> None:
    assert isinstance(render_markdown("*x*"), Markup)


def test_empty_text_renders_nothing() -> None:
    assert render_markdown("") == ""


# --- links and images --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown, href",
    [
        ("[advisory](https://cert.example/a?b=1&c=2)", "https://cert.example/a?b=1&c=2"),
        ("<http://cert.example/feed>", "http://cert.example/feed"),
        ("<soc@cert.example>", "mailto:soc@cert.example"),
        ("[event](/sharing/events/12)", "/sharing/events/12"),
        ("[below](#timeline)", "#timeline"),
    ],
)
def test_safe_links_are_kept_with_rel_and_open_normally(markdown: str, href: str) -> None:
    (link,) = links(render_markdown(markdown))

    assert link == {"href": href, "rel": LINK_REL}  # no target: opens like any link


def test_link_title_is_kept() -> None:
    (link,) = links(render_markdown('[spec](https://example.org "RFC 9116")'))

    assert link["title"] == "RFC 9116"


def test_image_becomes_a_link_to_it() -> None:
    html = render_markdown("![loader screenshot](https://cert.example/shot.png)")

    assert "<img" not in html
    assert links(html) == [{"href": "https://cert.example/shot.png", "rel": LINK_REL}]
    assert ">loader screenshot</a>" in html


def test_image_inside_a_link_leaves_its_alt_text() -> None:
    html = render_markdown("[![build status](https://ci.example/b.svg)](https://ci.example)")

    assert html == (f'<p><a href="https://ci.example" rel="{LINK_REL}">build status</a></p>\n')


# --- what must never execute -------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<style>*{background:url(javascript:alert(1))}</style>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1)  )",
    "[x](<java\tscript:alert(1)>)",
    "[x](<java\nscript:alert(1)>)",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](\x01javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](javascript:alert(1))",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "[ref]\n\n[ref]: data:text/html,x",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    '[x](https://a.example/" onclick="alert(1))',
    '[x](https://a.example "t\\" onmouseover=\\"alert(1)")',
    '![x" onerror="alert(1)](https://a.example/i.png)',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--><script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`</code><script>alert(1)</script>`",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    '| a |\n|:-" onclick="x|\n| b |',
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<a href=https://ok.example onmouseover=alert(1)>x</a>",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "**<script>**alert(1)**</script>**",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_inert(payload: str) -> None:
    assert_inert(render_markdown(payload))


@pytest.mark.parametrize(
    "payload",
    [p for p in XSS_PAYLOADS if "javascript" in p.lower() or "data:" in p.lower()],
)
def test_no_link_to_a_dangerous_scheme_is_made(payload: str) -> None:
    for link in links(render_markdown(payload)):
        assert url_scheme(link["href"] or "") in SAFE_URL_SCHEMES | {None}


def test_refused_link_stays_readable_as_text() -> None:
    html = render_markdown("[click](javascript:alert(1))")

    assert html == "<p>[click](javascript:alert(1))</p>\n"


def test_sanitiser_alone_strips_what_markdown_should_never_emit() -> None:
    # The second line of defence, tested without the first: were markdown-it to pass raw HTML
    # through, nh3 would still remove it.
    html = _cleaner().clean(
        '<p onclick="x">a</p><script>alert(1)</script><img src=x onerror=y>'
        '<a href="javascript:alert(1)" target="_blank">j</a><a href="data:text/html,x">d</a>'
        '<td style="position:fixed;text-align:left">c</td><iframe src="/"></iframe>'
    )

    assert_inert(html)
    assert "alert" not in html
    assert 'target="' not in html
    assert links(html) == [{"rel": LINK_REL}, {"rel": LINK_REL}]


# Fragments that open, close or smuggle markup, for Hypothesis to splice into any text.
MARKUP_FRAGMENTS = [
    "<",
    ">",
    "&",
    "&#",
    ";",
    '"',
    "'",
    "`",
    "```",
    "[",
    "](",
    ")",
    "![",
    "<a href=",
    "<script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    " onerror=",
    " onclick=alert(1) ",
    "javascript:",
    "JaVaScRiPt:",
    "java\tscript:",
    "&#106;avascript:",
    "data:text/html,",
    "data:image/png;base64,",
    "vbscript:",
    "\n",
    "\n\n",
    "| a | b |\n|---|:-:|\n",
    "# ",
    "> ",
    "- ",
    "1. ",
    "**",
    "~~",
    "<!--",
    "-->",
]

markdown_like = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(MARKUP_FRAGMENTS)), max_size=40
).map("".join)


@given(text=st.text())
def test_any_text_renders_inert(text: str) -> None:
    assert_inert(render_markdown(text))


@given(text=markdown_like)
def test_any_mix_of_markup_fragments_renders_inert(text: str) -> None:
    html = render_markdown(text)

    assert_inert(html)
    # The same in plain regular expressions, which cannot be fooled by a parser's leniency;
    # text never holds a raw `<` or `>` (both escaped), so `<[^>]*` stays inside one tag.
    assert not re.search(r"<[^>]*\son\w*\s*=", html, re.IGNORECASE)
    assert not re.search(
        r"<[^>]*\shref\s*=\s*[\"']?\s*(javascript|data|vbscript):", html, re.IGNORECASE
    )


# --- limits and wiring -------------------------------------------------------------------------


def test_text_at_the_limit_renders() -> None:
    html = render_markdown("a" * MAX_MARKDOWN_CHARS)

    assert html == "<p>" + "a" * MAX_MARKDOWN_CHARS + "</p>\n"


def test_text_over_the_limit_is_refused_naming_its_length() -> None:
    with pytest.raises(BadValue) as refused:
        render_markdown("a" * (MAX_MARKDOWN_CHARS + 1))

    assert refused.value.field == "markdown"
    assert refused.value.value == MAX_MARKDOWN_CHARS + 1


def test_templates_have_the_markdown_filter(tmp_path: Path) -> None:
    env = make_templates([tmp_path]).env

    page = env.from_string("<div>{{ description | markdown }}</div>").render(
        description="**Wave** <script>alert(1)</script>"
    )

    assert page == (
        "<div><p><strong>Wave</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n</div>"
    )
