"""The agreement's rules, pure: maximum TLP, the filter, what never travels, loop prevention."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from entente.interop.federation.agreement import (
    UNRESTRICTED,
    Agreement,
    Candidate,
    loops_back,
    refusal,
)
from entente.vocabulary.markings import TLP, Distribution

HUB_A, HUB_B, HUB_C = (f"00000000-0000-4000-8000-00000000000{n}" for n in "abc")


def agreement(
    max_tlp: TLP = TLP.AMBER,
    organisations: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> Agreement:
    return Agreement(max_tlp, _folded(organisations), _folded(tags), _folded(groups))


def _folded(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name.casefold() for name in names)


def candidate(
    tlp: TLP = TLP.GREEN,
    distribution: Distribution = Distribution.ALL_MEMBERS,
    organisation: str = "CERT-GH",
    tags: tuple[str, ...] = ("botnet",),
    group: str | None = None,
) -> Candidate:
    return Candidate(tlp, distribution, organisation, tags, group)


@given(tlp=st.sampled_from(TLP), max_tlp=st.sampled_from(TLP))
def test_nothing_stricter_than_the_maximum_travels(tlp: TLP, max_tlp: TLP) -> None:
    reason = refusal(agreement(max_tlp), candidate(tlp=tlp))
    assert (reason is None) == (tlp.rank <= max_tlp.rank)
    if reason is not None:
        assert max_tlp.label in reason


@given(tlp=st.sampled_from(TLP), max_tlp=st.sampled_from(TLP))
def test_an_organisation_only_event_never_travels(tlp: TLP, max_tlp: TLP) -> None:
    for rules in (agreement(max_tlp), UNRESTRICTED):
        assert refusal(rules, candidate(tlp=tlp, distribution=Distribution.ORGANISATION))


def test_the_organisation_filter_is_case_insensitive() -> None:
    rules = agreement(organisations=("CERT-GH",))
    assert refusal(rules, candidate(organisation="cert-gh")) is None
    assert "CERT-NG" in (refusal(rules, candidate(organisation="CERT-NG")) or "")


def test_the_tag_filter_needs_one_tag_in_common() -> None:
    rules = agreement(tags=("botnet", "phishing"))
    assert refusal(rules, candidate(tags=("ransomware", "Phishing"))) is None
    assert refusal(rules, candidate(tags=("ransomware",))) is not None
    assert refusal(rules, candidate(tags=())) is not None


def test_a_sharing_group_event_travels_only_for_a_named_group() -> None:
    event = candidate(distribution=Distribution.SHARING_GROUP, group="West Africa CERTs")
    assert refusal(agreement(), event) is not None  # no group named: none travels
    assert refusal(agreement(groups=("Other",)), event) is not None
    assert refusal(agreement(groups=("west africa certs",)), event) is None
    # Serving a hub with no agreement here, the token user's own access already decided.
    assert refusal(UNRESTRICTED, event) is None


def test_a_hub_in_the_chain_never_gets_the_event_again() -> None:
    chain = [HUB_A, HUB_B]
    assert loops_back(chain, HUB_A)  # back to its origin
    assert loops_back(chain, HUB_B)  # back to the hub it came through
    assert not loops_back(chain, HUB_C)
    assert not loops_back(chain, None)  # receiver not known yet: the receiver checks
