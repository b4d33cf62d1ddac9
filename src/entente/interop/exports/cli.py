"""`entente export FORMAT`: what a named user may see, in a tool's format, to a file.

One command per format (`entente export suricata --as analyst -o entente.rules`), all with
the same filters; an option of another format (`--sid-base` on a CSV) is refused. The
export goes through the same service and cache as the API (`service.prepare_export`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from entente.core.cli import cli_state, say_done
from entente.core.errors import BadValue
from entente.interop.exports.rpz import DEFAULT_ZONE, RpzPolicy
from entente.interop.exports.selection import ExportFilter
from entente.interop.exports.service import (
    DEFAULT_SID_BASE,
    ExportFormat,
    ExportOptions,
    ExportRequest,
    prepare_export,
)
from entente.interop.exports.snort import SnortVersion
from entente.sharing.cli_options import (
    FILTER_OPTIONS,
    AsOption,
    SinceOption,
    UntilOption,
    acting_principal,
    choice_option,
    choice_parser,
    options_named,
    organisation_id,
)
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP

export_app = typer.Typer(
    help="Shared indicators for tools: CSV, lists, DNS RPZ, Suricata, Snort, YARA.",
    no_args_is_help=True,
)

_HELP = {
    ExportFormat.CSV: "One CSV row per indicator, with its event.",
    ExportFormat.TEXT: "Each value once, one a line (pick types with --type), for firewalls.",
    ExportFormat.RPZ: "A DNS response policy zone of domains, host names and addresses.",
    ExportFormat.SURICATA: "Suricata rules for addresses, names, URLs and JA3 fingerprints.",
    ExportFormat.SNORT: "Snort 2.9 or 3 rules for addresses, names and URLs.",
    ExportFormat.YARA: "YARA rules shared as STIX indicators, passed through as they came.",
}
_RULE_FORMATS = frozenset({ExportFormat.SURICATA, ExportFormat.SNORT})
# Service fields reported as the options typed.
_OPTIONS = {**FILTER_OPTIONS, "tag": "--tag", "sid_base": "--sid-base", "rpz_zone": "--rpz-zone"}


def export_command(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write; - for standard output.")
    ] = Path("-"),
    types: Annotated[
        list[str] | None, typer.Option("--type", metavar="TYPE", help="Only this type (repeat).")
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Events with this tag (repeat: any).")
    ] = None,
    tlps: Annotated[
        list[str] | None, typer.Option("--tlp", metavar="TLP", help="Only this TLP (repeat).")
    ] = None,
    events: Annotated[
        list[int] | None, typer.Option("--event", min=1, help="Only this event (repeat).")
    ] = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Events of this owner (id or name).")
    ] = None,
    published: Annotated[bool, typer.Option("--published", help="Published events only.")] = False,
    everything: Annotated[
        bool, typer.Option("--all", help="Also indicators not marked for detection (to_ids).")
    ] = False,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Also indicators expired by decay.")
    ] = False,
    min_score: Annotated[
        int | None, typer.Option("--min-score", min=1, max=100, help="Decay score floor.")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    seen_within_days: Annotated[
        int | None, typer.Option("--seen-within-days", min=1, max=3650, help="Seen in N days.")
    ] = None,
    sid_base: Annotated[
        int | None,
        typer.Option("--sid-base", min=1, help=f"Rules: first sid (default {DEFAULT_SID_BASE})."),
    ] = None,
    snort_version: Annotated[
        SnortVersion | None, choice_option("--snort-version", SnortVersion, "Snort: syntax.")
    ] = None,
    rpz_zone: Annotated[
        str | None, typer.Option("--rpz-zone", help=f"RPZ: zone name (default {DEFAULT_ZONE}).")
    ] = None,
    rpz_policy: Annotated[
        RpzPolicy | None, choice_option("--rpz-policy", RpzPolicy, "RPZ: the answer.")
    ] = None,
) -> None:
    """Write the export; exit code 2 with a message naming the option on bad input."""
    state = cli_state(ctx)
    export_format = ExportFormat(str(ctx.info_name))
    _refuse_foreign_options(export_format, sid_base, snort_version, (rpz_zone, rpz_policy))
    parse_type = choice_parser("--type", IndicatorType)
    parse_tlp = choice_parser("--tlp", TLP)
    options = ExportOptions(
        sid_base or DEFAULT_SID_BASE,
        snort_version or SnortVersion.V2,
        rpz_zone or DEFAULT_ZONE,
        rpz_policy or RpzPolicy.NXDOMAIN,
    )
    with state.session() as session, options_named(_OPTIONS):
        principal = acting_principal(session, acting)
        filters = ExportFilter(
            types=tuple(parse_type(text) for text in types or ()),
            tags=tuple(tags or ()),
            tlps=tuple(parse_tlp(text) for text in tlps or ()),
            event_ids=tuple(events or ()),
            organisation_id=organisation_id(session, organisation),
            published_only=published,
            include_not_for_detection=everything,
            include_expired=include_expired,
            min_score=min_score,
            since=since,
            until=until,
            seen_within_days=seen_within_days,
        )
        request = ExportRequest(export_format, filters, options)
        prepared = prepare_export(session, state.settings, principal.viewer, request)
        written = write_export(prepared.body(), output)
    if str(output) != "-":
        origin = "from the cache" if prepared.cached else "rendered"
        say_done(state.console, f"wrote {written:,} bytes ({origin}) to {output}")


for _format in ExportFormat:
    export_app.command(_format.value, help=_HELP[_format])(export_command)


def _refuse_foreign_options(
    export_format: ExportFormat,
    sid_base: int | None,
    snort_version: SnortVersion | None,
    rpz: tuple[str | None, RpzPolicy | None],
) -> None:
    """An option the format does not read would be silently ignored: refuse it instead."""
    given = {
        "--sid-base": (sid_base, _RULE_FORMATS),
        "--snort-version": (snort_version, {ExportFormat.SNORT}),
        "--rpz-zone": (rpz[0], {ExportFormat.RPZ}),
        "--rpz-policy": (rpz[1], {ExportFormat.RPZ}),
    }
    for option, (value, formats) in given.items():
        if value is not None and export_format not in formats:
            names = " and ".join(sorted(f.value for f in formats))
            raise BadValue(f"{option} applies to {names} only", field=option, value=value)


def write_export(blocks: Iterator[bytes], output: Path) -> int:
    """Write the export as it streams; a file appears whole (renamed from `.part`) or not."""
    written = 0
    if str(output) == "-":
        for block in blocks:
            sys.stdout.buffer.write(block)
            written += len(block)
        sys.stdout.flush()
        return written
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as sink:
            for block in blocks:
                sink.write(block)
                written += len(block)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BadValue(f"cannot write {str(output)!r}: {exc.strerror}", field="--output") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
