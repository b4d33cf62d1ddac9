"""`entente enrich update|lookup` end to end, and downloads over a mock HTTP transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from entente.cli import EntenteGroup
from entente.core.cli import CliState
from entente.core.config import Settings
from entente.core.errors import FetchError
from entente.pipeline.enrich import EnrichmentData, SourceFormat
from entente.pipeline.enrich.data import SAMPLE_DIR, sample_files
from entente.pipeline.enrich.downloads import PUBLIC_SOURCES, PublicSource, download_source
from entente.pipeline.enrich.service import update_items
from entente.pipeline.enrich_cli import enrich_app

TEST_DATA = Path(__file__).parents[1] / "data" / "enrich"
ENV = {"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}

# The lead registers `enrich_app` on the real root; this root is the same shape (its error
# handler turns AppError into exit codes) without a database.
root = typer.Typer(cls=EntenteGroup)
root.add_typer(enrich_app, name="enrich")


@root.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = CliState(settings=Settings(database_url="sqlite://"))  # reads ENTENTE_DATA_DIR


def run(*args: str) -> Result:
    return CliRunner().invoke(root, ["enrich", *args], env=ENV)


def rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_update_from_the_sample_then_lookup(tmp_path: Path) -> None:
    result = run("update", "--sample", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"saved 315 IPv4 and 14 IPv6 intervals and 113 AS names to {tmp_path}" in result.output
    by_format = {row[1]: row for row in rows(result.output)}
    assert set(by_format) == {"asnames", "delegated", "pfx2as"}
    assert by_format["asnames"][4] == "113"
    result = run("lookup", "8.8.8.8", "192.0.2.77", "10.0.0.1", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert rows(result.output) == [
        ["8.8.8.8", "AS15169", "GOOGLE", "US"],
        [
            "192.0.2.77",
            "AS64497",
            "SAMPLE-DOC-NG made-up sample network (RFC 5737 documentation range)",
            "NG",
        ],
        ["10.0.0.1", "-", "-", "-"],
    ]


def test_update_from_files_and_folders_is_the_same_as_the_sample(tmp_path: Path) -> None:
    from_folder, from_files = tmp_path / "folder", tmp_path / "files"
    assert run("update", "--from", str(SAMPLE_DIR), "--data-dir", str(from_folder)).exit_code == 0
    files = [argument for path in sample_files() for argument in ("--from", str(path))]
    assert run("update", *files, "--data-dir", str(from_files)).exit_code == 0
    folder, listed = EnrichmentData.load(from_folder), EnrichmentData.load(from_files)
    assert (folder.networks.v4.starts == listed.networks.v4.starts).all()
    assert len(folder.as_names) == len(listed.as_names) == 113


def test_update_from_a_maxmind_database(tmp_path: Path) -> None:
    mmdb = TEST_DATA / "GeoLite2-ASN-Test.mmdb"
    assert run("update", "--from", str(mmdb), "--data-dir", str(tmp_path)).exit_code == 0
    result = run("lookup", "1.128.0.1", "2a00::1", "--data-dir", str(tmp_path))
    assert rows(result.output) == [
        ["1.128.0.1", "AS1221", "Telstra Pty Ltd", "-"],
        ["2a00::1", "AS3209", "Vodafone GmbH", "-"],
    ]


def test_lookup_with_the_sample_needs_no_update() -> None:
    result = run("lookup", "--sample", "1.1.1.1")
    assert rows(result.output) == [["1.1.1.1", "AS13335", "CLOUDFLARENET", "AU"]]


def test_a_bad_file_fails_with_file_and_line_and_saves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pfx2as"
    bad.write_text("8.8.8.0\t24\t15169\n8.8.8.1\t24\t15169\n")
    result = run("update", "--from", str(bad), "--data-dir", str(tmp_path / "data"))
    assert result.exit_code == 2
    assert f"{bad}, line 2: host bits set" in result.output
    assert not (tmp_path / "data").exists()


def test_format_option_overrides_detection(tmp_path: Path) -> None:
    names = SAMPLE_DIR / "asn.txt"
    result = run("update", "--from", str(names), "--format", "pfx2as", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "line 1: expected prefix<TAB>length<TAB>asn" in result.output


def test_unreachable_url_is_a_fetch_error_that_says_what_to_do(tmp_path: Path) -> None:
    # Port 9 (discard) on the loopback refuses at once: the same error as no network.
    result = run("update", "--from", "http://127.0.0.1:9/asn.txt", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "could not download http://127.0.0.1:9/asn.txt" in result.output
    assert "--from" in result.output


def test_lookup_without_data_says_to_update(tmp_path: Path) -> None:
    result = run("lookup", "8.8.8.8", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "entente enrich update" in result.output


def test_lookup_of_a_non_address_is_refused() -> None:
    result = run("lookup", "--sample", "8.8.8.8", "example.org")
    assert result.exit_code == 2
    assert "not an IP address: 'example.org'" in result.output


# ---- which items, and downloads ---------------------------------------------------------


def test_items_default_to_the_public_sources_and_folders_expand() -> None:
    assert update_items([]) == list(PUBLIC_SOURCES)
    assert update_items([str(SAMPLE_DIR)]) == [str(path) for path in sample_files()]
    assert "README.md" not in " ".join(update_items([str(SAMPLE_DIR)]))
    registries = {s.name.split()[0] for s in PUBLIC_SOURCES if s.format is SourceFormat.DELEGATED}
    assert registries == {"afrinic", "apnic", "arin", "lacnic", "ripencc"}


LOG = "https://example.test/routeviews/pfx2as-creation.log"
NEWEST = "2024/06/routeviews-rv2-20240601-1200.pfx2as.gz"


def mock_client(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def test_creation_log_names_the_newest_file(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == LOG:
            text = f"# seq time path\n1\t1\t2005/05/old.pfx2as.gz\n2\t2\t{NEWEST}\n"
            return httpx.Response(200, text=text)
        if str(request.url) == f"https://example.test/routeviews/{NEWEST}":
            return httpx.Response(200, content=b"8.8.8.0\t24\t15169\n")
        return httpx.Response(404)

    source = PublicSource("test", SourceFormat.PFX2AS, "https://example.test/routeviews/", LOG)
    with mock_client(httpx.MockTransport(answer)) as client:
        path = download_source(source, tmp_path, client)
    assert path == tmp_path / "routeviews-rv2-20240601-1200.pfx2as.gz"
    assert path.read_bytes() == b"8.8.8.0\t24\t15169\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_http_errors_and_no_network_are_fetch_errors(tmp_path: Path) -> None:
    source = PublicSource("names", SourceFormat.AS_NAMES, "https://example.test/asn.txt")
    missing = httpx.MockTransport(lambda request: httpx.Response(404))
    with mock_client(missing) as client, pytest.raises(FetchError, match="HTTP 404"):
        download_source(source, tmp_path, client)

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    with (
        mock_client(httpx.MockTransport(offline)) as client,
        pytest.raises(FetchError, match=r"Without network access.*--from"),
    ):
        download_source(source, tmp_path, client)
    assert not list(tmp_path.iterdir()), "no partial file is left behind"


def test_data_dir_defaults_to_the_settings_enrichment_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTENTE_DATA_DIR", str(tmp_path))
    assert run("update", "--sample").exit_code == 0
    assert (tmp_path / "enrich" / "networks.npz").is_file()
    assert rows(run("lookup", "8.8.4.4").output) == [["8.8.4.4", "AS15169", "GOOGLE", "US"]]
