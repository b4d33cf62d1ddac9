"""Choice sets of the members capability, each value with its label and badge colour."""

from __future__ import annotations

from enum import StrEnum


class ItuRegion(StrEnum):
    """The six regions of the ITU Telecommunication Development Sector (BDT)."""

    AFRICA = "africa"
    AMERICAS = "americas"
    ARAB_STATES = "arab_states"
    ASIA_PACIFIC = "asia_pacific"
    CIS = "cis"
    EUROPE = "europe"

    @property
    def label(self) -> str:
        return _REGION_LABELS[self]


_REGION_LABELS = {
    ItuRegion.AFRICA: "Africa",
    ItuRegion.AMERICAS: "Americas",
    ItuRegion.ARAB_STATES: "Arab States",
    ItuRegion.ASIA_PACIFIC: "Asia & Pacific",
    ItuRegion.CIS: "CIS",
    ItuRegion.EUROPE: "Europe",
}


class OrganisationType(StrEnum):
    NATIONAL_CERT = "national_cert"
    SECTOR_CERT = "sector_cert"
    GOVERNMENT = "government"
    INDUSTRY_PARTNER = "industry_partner"
    INTERNATIONAL_ORGANISATION = "international_organisation"

    @property
    def label(self) -> str:
        return _ORG_TYPE_META[self][0]

    @property
    def colour(self) -> str:
        return _ORG_TYPE_META[self][1]


_ORG_TYPE_META = {
    OrganisationType.NATIONAL_CERT: ("National CERT", "blue"),
    OrganisationType.SECTOR_CERT: ("Sector CERT", "teal"),
    OrganisationType.GOVERNMENT: ("Government", "purple"),
    OrganisationType.INDUSTRY_PARTNER: ("Industry partner", "orange"),
    OrganisationType.INTERNATIONAL_ORGANISATION: ("International organisation", "grey"),
}


class Role(StrEnum):
    """What a user may do. Roles never widen what a user may *see*: that is core/access.py."""

    ADMIN = "admin"
    ORG_ADMIN = "org_admin"
    ANALYST = "analyst"
    READER = "reader"

    @property
    def label(self) -> str:
        return _ROLE_META[self][0]

    @property
    def colour(self) -> str:
        return _ROLE_META[self][1]


_ROLE_META = {
    Role.ADMIN: ("Platform admin", "red"),
    Role.ORG_ADMIN: ("Organisation admin", "orange"),
    Role.ANALYST: ("Analyst", "blue"),
    Role.READER: ("Reader", "grey"),
}


class TokenStatus(StrEnum):
    """Derived from an API token's dates, never stored: expiry needs no write to take effect."""

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return _TOKEN_STATUS_COLOURS[self]


_TOKEN_STATUS_COLOURS = {
    TokenStatus.ACTIVE: "green",
    TokenStatus.EXPIRED: "grey",
    TokenStatus.REVOKED: "red",
}


class ConstituencyKind(StrEnum):
    """What an organisation declares itself responsible for, from the most to the least precise.

    Routing tries them in this order: longest matching prefix, then the AS number, then the
    longest domain suffix, and a national CERT's whole country last (docs/constituencies.md).
    """

    PREFIX = "prefix"
    ASN = "asn"
    DOMAIN = "domain"
    COUNTRY = "country"

    @property
    def label(self) -> str:
        return _CONSTITUENCY_KIND_META[self][0]

    @property
    def colour(self) -> str:
        return _CONSTITUENCY_KIND_META[self][1]


_CONSTITUENCY_KIND_META = {
    ConstituencyKind.PREFIX: ("IP prefix", "blue"),
    ConstituencyKind.ASN: ("AS number", "purple"),
    ConstituencyKind.DOMAIN: ("Domain", "teal"),
    ConstituencyKind.COUNTRY: ("Country", "orange"),
}


class ReportFormat(StrEnum):
    """How a contact wants its alerts: a CSV attachment, JSON, or a STIX 2.1 bundle."""

    CSV = "csv"
    JSON = "json"
    STIX = "stix"

    @property
    def label(self) -> str:
        return _REPORT_FORMAT_META[self][0]

    @property
    def colour(self) -> str:
        return _REPORT_FORMAT_META[self][1]


_REPORT_FORMAT_META = {
    ReportFormat.CSV: ("CSV", "green"),
    ReportFormat.JSON: ("JSON", "blue"),
    ReportFormat.STIX: ("STIX 2.1", "purple"),
}
