"""`entente enrich`: build the offline IP -> ASN/AS name/country data, and check addresses."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from entente.core.cli import cli_state, counted_table, say_done
from entente.pipeline.enrich import service
from entente.pipeline.enrich.data import EnrichmentData, SourceSummary, sample_files
from entente.pipeline.enrich.downloads import http_client
from entente.pipeline.enrich.sources import SourceData, SourceFormat

enrich_app = typer.Typer(
    help="Offline enrichment data: IP address to ASN, AS name and country.",
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Where the prepared data is kept (default: `enrich/` in ENTENTE_DATA_DIR).",
    ),
]
SampleOption = Annotated[
    bool,
    typer.Option(
        "--sample",
        help="Use the small sample shipped with Entente (demo and tests, not production).",
    ),
]


@enrich_app.command("update")
def enrich_update(
    ctx: typer.Context,
    locations: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            metavar="PATH",
            help="A data file, a folder of them, or an http(s) URL; repeatable. "
            "Without --from or --sample, downloads the public files (docs/enrichment.md).",
        ),
    ] = None,
    source_format: Annotated[
        SourceFormat | None,
        typer.Option("--format", help="Format of the --from files (default: told by content)."),
    ] = None,
    sample: SampleOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Read the data files, flatten them (most specific prefix wins) and save them for the
    pipeline. Later files win where two give the very same prefix or ASN."""
    state = cli_state(ctx)
    console = state.console
    data_dir = data_dir or state.settings.enrichment_dir
    items = service.update_items(locations or [], sample_files() if sample else [])
    sources: list[SourceData] = []
    with ExitStack() as stack:
        client = stack.enter_context(http_client()) if service.needs_network(items) else None
        progress = stack.enter_context(_progress(console))
        task = progress.add_task("Reading", total=len(items) + 1)
        for item in items:
            progress.update(task, description=f"Reading {service.item_label(item)}")
            sources.append(service.read_item(item, source_format, data_dir, client))
            progress.advance(task)
        progress.update(task, description="Flattening and saving")
        data = EnrichmentData.build(sources)
        data.save(data_dir)
        progress.advance(task)
    console.print(_sources_table(data.sources))
    say_done(
        console,
        f"saved {len(data.networks.v4):,} IPv4 and {len(data.networks.v6):,} IPv6 intervals "
        f"and {len(data.as_names):,} AS names to {data_dir}",
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<60}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        # A bar helps a person watching; piped output gets the summary alone.
        disable=not console.is_terminal,
    )


def _sources_table(sources: tuple[SourceSummary, ...]) -> Table:
    table = counted_table(len(sources), "source")
    table.add_column("Source", overflow="fold")
    table.add_column("Format")
    for column in ("IPv4 prefixes", "IPv6 prefixes", "AS names", "Skipped (> /64)"):
        table.add_column(column, justify="right")
    for source in sources:
        counts = (
            source.v4_prefixes,
            source.v6_prefixes,
            source.as_names,
            source.skipped_longer_than_64,
        )
        table.add_row(source.name, source.format, *(f"{count:,}" for count in counts))
    return table


@enrich_app.command("lookup")
def enrich_lookup(
    ctx: typer.Context,
    addresses: Annotated[list[str], typer.Argument(metavar="IP...", help="Addresses to look up.")],
    sample: SampleOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show the ASN, AS name and country the pipeline would fill in for each address."""
    state = cli_state(ctx)
    if sample:
        data = service.sample_data()
    else:
        data = EnrichmentData.load(data_dir or state.settings.enrichment_dir)
    found = service.lookup_addresses(data, addresses)
    plural = "" if found.height == 1 else "es"
    table = Table(caption=f"{found.height} address{plural}", caption_justify="left")
    for column in ("IP", "ASN", "AS name", "Country"):
        table.add_column(column)
    for ip, asn, as_name, cc in found.iter_rows():
        table.add_row(ip, "-" if asn is None else f"AS{asn}", as_name or "-", cc or "-")
    state.console.print(table)
