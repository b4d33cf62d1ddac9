"""No value breaks or injects a rule: Suricata and Snort rules built from hostile values.

Hypothesis draws any text (quotes, semicolons, pipes, backslashes, line breaks, non-ASCII)
as an indicator's value and its event's title; every rule made from them must parse under
the strict grammar (`rule_grammar`) with exactly the options Entente wrote, and its
content strings must decode to exactly the value's bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from entente.interop.exports.rule_text import content_string, message_text, rule_line
from entente.interop.exports.selection import ExportedIndicator
from entente.interop.exports.snort import SnortVersion
from entente.interop.exports.snort import _detections as snort_detections
from entente.interop.exports.suricata import _detections as suricata_detections
from entente.sharing.indicators import Category, IndicatorType
from entente.vocabulary.markings import TLP
from tests.interop.rule_grammar import decode_content, parse_rule, unquote

HOSTILE = ['"; sid:1; rev:1; content:"x', "a|b|c", "back\\slash", "line\nbreak)", "|ZZ|", ";"]
texts = st.text(min_size=1, max_size=60)


@given(value=texts)
@example(value=HOSTILE[0])
@example(value="a|b|c")
@example(value="\\")
def test_a_content_string_decodes_to_exactly_the_value(value: str) -> None:
    assert decode_content(content_string(value)) == value.encode()


@given(title=texts)
@example(title=HOSTILE[0])
def test_a_message_stays_one_quoted_string(title: str) -> None:
    message = message_text(title)
    assert unquote(f'"{message}"') == message
    rule = parse_rule(
        rule_line("alert ip any any -> any any", [f'msg:"{message}"', "sid:1", "rev:1"])
    )
    assert [name for name, _ in rule.options] == ["msg", "sid", "rev"]


def _indicator(indicator_type: IndicatorType, value: str, title: str) -> ExportedIndicator:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    return ExportedIndicator(
        7, "uuid-i", indicator_type, value, Category.NETWORK_ACTIVITY, True, "", TLP.GREEN,
        None, None, moment, None, 70, moment, 3, "uuid-e", title,
    )  # fmt: skip


# Types whose value goes into a content string as it is (names, URL parts, JA3).
content_types = st.sampled_from(
    [IndicatorType.DOMAIN, IndicatorType.HOSTNAME, IndicatorType.URL, IndicatorType.JA3]
)


@given(indicator_type=content_types, value=texts, title=texts)
@example(indicator_type=IndicatorType.URL, value='http://h.example/a;b"c|d', title=HOSTILE[0])
@example(indicator_type=IndicatorType.DOMAIN, value=HOSTILE[0], title=HOSTILE[3])
@example(indicator_type=IndicatorType.URL, value="http://[::1", title="broken host")
def test_suricata_rules_of_any_value_parse_with_only_the_options_written(
    indicator_type: IndicatorType, value: str, title: str
) -> None:
    indicator = _indicator(indicator_type, value, title)
    for header, matches in suricata_detections(indicator):
        options = [f'msg:"{message_text(title + value)}"', *matches, "sid:9", "rev:1"]
        rule = parse_rule(rule_line(header, options))
        assert len(rule.options) == len(options)  # nothing split, nothing injected
        dot = b"." if indicator_type is IndicatorType.DOMAIN else b""
        if indicator_type is not IndicatorType.URL:
            assert rule.contents()[-1] == dot + value.encode()


@given(indicator_type=content_types, value=texts, version=st.sampled_from(SnortVersion))
@example(indicator_type=IndicatorType.URL, value='http://h.example/;|"', version=SnortVersion.V3)
def test_snort_rules_of_any_value_parse_with_only_the_options_written(
    indicator_type: IndicatorType, value: str, version: SnortVersion
) -> None:
    indicator = _indicator(indicator_type, value, "title")
    for header, matches in snort_detections(indicator, version):
        options = ['msg:"m"', *matches, "sid:9", "rev:1"]
        rule = parse_rule(rule_line(header, options), f"snort-{version.value}")
        assert len(rule.options) == len(options)


def test_the_grammar_refuses_what_escaping_prevents() -> None:
    """The reader is strict: the raw forms the escaping avoids are rejected by it."""
    for broken in (
        'alert ip any any -> any any (msg:"a"; content:"x;y"; sid:1; rev:1;)',
        'alert ip any any -> any any (msg:"a"b"; sid:1; rev:1;)',
        'alert ip any any -> any any (msg:"a"; content:"|3G|"; sid:1; rev:1;)',
        'alert ip any any -> any any (msg:"a"; content:"a|3B"; sid:1; rev:1;)',
        'alert ip any any -> any any (msg:"a"; nocase; content:"a"; sid:1; rev:1;)',
        'alert dns any any -> any any (msg:"a"; tls.sni; content:"a"; sid:1; rev:1;)',
        'alert ip any any -> any any (msg:"a"; sid:1; rev:1; sid:2;)',
    ):
        try:
            parse_rule(broken)
        except ValueError:
            continue
        raise AssertionError(f"accepted: {broken}")
