"""`--refresh gpuhunt` against a recorded gpuhunt catalog tree replayed from 127.0.0.1 via GPUHUNT_CATALOG_URL."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

gpuhunt = pytest.importorskip("gpuhunt")

from planner.cli.main import main  # noqa: E402
from providers.cache import read_tables  # noqa: E402
from providers.catalog import load_catalog  # noqa: E402
from providers.gpuhunt_source import refresh_gpuhunt, version_date  # noqa: E402

DATA = Path(__file__).parent / "data" / "gpuhunt"
VERSIONS = {"aws": "20261120-7", "lambdalabs": "20261118-3", "gcp": "20261120-7"}
BROKEN = {"gcp"}  # its version answers, its zip fails: the provider fails midway
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
SOME = {"aws": "aws", "lambdalabs": "lambda", "gcp": "gcp"}


class GpuhuntReplay(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        provider = parts[0]
        if provider not in VERSIONS:
            self.send_error(404)
        elif parts[1:] == ["version"]:
            self._send(VERSIONS[provider].encode())
        elif parts[1:] == [VERSIONS[provider], "catalog.zip"] and provider not in BROKEN:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"{provider}.csv", (DATA / f"{provider}.csv").read_text(encoding="utf-8"))
            self._send(buffer.getvalue())
        else:
            self.send_error(500)

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GpuhuntReplay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("GPUHUNT_CATALOG_URL", url)
    yield url
    server.shutdown()
    server.server_close()


def test_items_become_offers_named_by_our_gpu_table_dated_by_the_catalog_version(replay: str) -> None:
    report = refresh_gpuhunt([], providers=SOME, now=NOW)
    (table,), _ = read_tables()
    by_key = {(o.provider, o.instance, o.market): o for o in table.offers}
    p5 = by_key[("aws", "p5.48xlarge", "on-demand")]
    assert (p5.gpu, p5.gpu_count, p5.price_per_hour, p5.origin) == ("H100-SXM-80GB", 8, 55.04, "gpuhunt")
    assert p5.as_of == dt.date(2026, 11, 20) and "20261120-7" in p5.source
    assert by_key[("aws", "p5.48xlarge", "spot")].price_per_hour == 19.2531
    assert by_key[("lambda", "gpu_1x_h100_pcie", "on-demand")].gpu == "H100-PCIE-80GB"
    assert by_key[("lambda", "gpu_1x_a100", "on-demand")].gpu == "A100-SXM-40GB"
    assert by_key[("lambda", "gpu_8x_h100_sxm5", "on-demand")].as_of == dt.date(2026, 11, 18)
    assert ("aws", "m5.large", "on-demand") not in by_key  # no GPU
    assert report.offers == len(table.offers) == 7


def test_a_provider_failing_midway_is_named_and_keeps_its_previous_prices(replay: str) -> None:
    report = refresh_gpuhunt([], providers=SOME, now=NOW)
    (missing,) = [w for w in report.warnings if "no prices came back" in w]
    assert "gcp" in missing and "aws" not in missing and "previous" in missing
    assert all("Traceback" not in w for w in report.warnings)


def test_unknown_gpus_are_reported_and_placeholder_prices_dropped(replay: str) -> None:
    report = refresh_gpuhunt([], providers=SOME, now=NOW)
    assert any("B300 (1)" in w and "gpu_aliases.csv" in w for w in report.warnings)
    assert any("g5.xlarge" in w and "placeholder" in w and "dropped" in w for w in report.warnings)
    (table,), _ = read_tables()
    assert {o.instance for o in table.offers}.isdisjoint({"g5.xlarge", "p6-b300.48xlarge"})


def test_the_offline_catalog_object_is_loaded_once_and_never_reloads(replay: str) -> None:
    catalogs: list[object] = []

    def make() -> object:
        catalog = gpuhunt.Catalog(balance_resources=False, auto_reload=False)
        catalogs.append(catalog)
        return catalog

    refresh_gpuhunt([], catalog_factory=make, providers={"aws": "aws"}, now=NOW)
    (catalog,) = catalogs
    assert catalog.auto_reload is False and catalog.loaded_at is not None


def test_an_unreachable_catalog_is_one_warning_and_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHUNT_CATALOG_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    report = refresh_gpuhunt([], providers=SOME, now=NOW)
    assert report.path is None and len(report.warnings) == 1
    assert report.warnings[0].startswith("gpuhunt refresh failed: cannot load its catalog")
    assert read_tables() == ([], [])


def test_refreshed_rows_join_the_catalog_and_the_cli_reports_the_refresh(
    replay: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quotes", "--refresh", "gpuhunt", "--provider", "lambda", "--gpu", "H100", "--json"]) == 0
    err = capsys.readouterr().err
    assert "gpuhunt: refreshed" in err and "gcp" in err
    catalog = load_catalog()
    assert any(o.origin == "gpuhunt" and o.region == "us-east-1" for o in catalog.offers if o.provider == "lambda")


def test_a_catalog_server_that_never_answers_times_out_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never replies
    monkeypatch.setenv("GPUHUNT_CATALOG_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    try:
        report = refresh_gpuhunt([], providers=SOME, now=NOW, timeout_s=0.5)
    finally:
        silent.close()
    assert report.path is None and report.warnings[0].startswith("gpuhunt refresh failed")


@pytest.mark.parametrize(("version", "expected"), [
    ("20261120-7", dt.date(2026, 11, 20)), ("20240715", dt.date(2024, 7, 15)), ("latest", None), ("20261399-1", None),
])
def test_version_strings_give_the_catalog_date(version: str, expected: dt.date | None) -> None:
    assert version_date(version) == expected
