"""Fixtures for the price sources: a private cache directory, a copy of the bundled tables to break,
CSV writers, recorded AWS answers, and a local HTTP server that replays Azure's retail price API.

No test touches the network: AWS is stubbed with botocore's Stubber, Azure is served from 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from providers.rules import pricing_dir
from providers.schema import Offer

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache; the user's real cache is never read or written."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("BATCHFIT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def pricing_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled pricing folder, for tests that break one table."""
    target = tmp_path / "pricing"
    shutil.copytree(pricing_dir(), target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write CSV lines (header first) to a file and return its path."""

    def write(lines: list[str], name: str = "prices.csv") -> Path:
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def recorded() -> Callable[[str], dict]:
    """Load a recorded API answer; EC2 timestamps become datetimes as botocore would parse them."""

    def load(name: str) -> dict:
        body = json.loads((DATA / name).read_text(encoding="utf-8"))
        for record in body.get("SpotPriceHistory", []):
            record["Timestamp"] = dt.datetime.fromisoformat(record["Timestamp"])
        return body

    return load


@pytest.fixture
def make_offer() -> Callable[..., Offer]:
    def make(provider: str, instance: str, region: str, gpu: str, count: int, price: float,
             market: str = "on-demand") -> Offer:
        return Offer(provider=provider, instance=instance, region=region, market=market, gpu=gpu,
                     gpu_count=count, price_per_hour=price, source="test", as_of=dt.date(2026, 1, 1))

    return make


class AzureReplay(http.server.BaseHTTPRequestHandler):
    """Serves recorded pages: the first page by SKU filter, later pages by $skip; `fail_skip` answers 500."""

    pages: dict[str, str] = {}
    fail_skip: str | None = None
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        AzureReplay.requests.append(self.path)
        skip = self.path.split("$skip=")[1] if "$skip=" in self.path else "0"
        if skip == AzureReplay.fail_skip:
            self.send_error(500, "Internal Server Error")
            return
        name = AzureReplay.pages.get(skip)
        if name is None:
            self.send_error(404, "Not Found")
            return
        base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}/api/retail/prices"
        body = (DATA / "azure" / name).read_text(encoding="utf-8").replace("{base}", base).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


class AzureServer:
    """A running replay: `url` is the API base; `replay` is the handler class whose settings tests change."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.replay = AzureReplay


@pytest.fixture
def azure_server() -> Iterator[AzureServer]:
    """A local replay of prices.azure.com on a free port of 127.0.0.1."""
    AzureReplay.pages = {"0": "nc24ads_page1.json", "4": "nc24ads_page2.json"}
    AzureReplay.fail_skip = None
    AzureReplay.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AzureReplay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield AzureServer(f"http://{host}:{port}/api/retail/prices")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
