"""SkyPilot v8 vms.csv files: header names, the known traps, and `--refresh skypilot` over a fake ~/.sky."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pytest

from planner.cli.main import main
from providers.cache import read_tables
from providers.errors import CatalogError
from providers.pricing_context import load_context
from providers.skypilot import gpu_memory_gb, is_local_zone, offers_from_vms, read_vms
from providers.skypilot_local import refresh_skypilot

AS_OF = dt.date(2026, 11, 1)
AWS = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 81920}}]}",55.04,10.2397,us-east-1,use1-atl2-az1,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 81920}}]}",55.04,55.040000,us-east-1,use1-az1,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 81920}}]}",55.04,19.2531,us-east-1,use1-az2,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 81920}}]}",55.04,21.1543,us-east-1,use1-az3,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 81920}}]}",55.04,17.6289,us-east-1,use1-az6,x86_64
m5.large,,,2.0,8.0,,0.096,0.04,us-east-1,use1-az1,x86_64
p6-b300.48xlarge,B300,8.0,192.0,4096.0,,142.416,33.4308,us-west-2,usw2-az2,x86_64
"""


def reordered(text: str) -> str:
    """The same rows with the columns in another order, as another cloud or catalog version writes them."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(reversed(list(rows[0]))), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


GCP = """InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
g2-standard-12,12.0,48.0,,,,us-central1,us-central1-a,0.44038,0.17621
g2-standard-12,12.0,48.0,,,,us-central1,us-central1-b,0.44038,0.17621
g2-standard-12,12.0,48.0,,,,us-east4,us-east4-a,0.43893,0.17554
a4-highgpu-8g,224.0,3968.0,,,,us-central1,us-central1-b,0.0,0.0
n1-highmem-8,8.0,52.0,,,,us-central1,us-central1-a,0.47321,0.09962
,,,L4,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 24576}}]},us-central1,us-central1-a,0.56004,0.2231
,,,L4,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 24576}}]},us-central1,us-central1-b,0.56004,0.2231
,,,L4,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 24576}}]},us-east4,us-east4-a,700.0,700.0
,,,B200,8,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 184320}}]},us-central1,us-central1-b,90.216,32.6064
"""
RUNPOD = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
1x_A100-80GB_SECURE,A100-80GB,1.0,8.0,117.0,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 80}}]},US,US-TX-1,1.64,0.82
1x_A100-80GB-SXM_SECURE,A100-80GB-SXM,1.0,8.0,117.0,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 80}}]},US,US-TX-1,1.74,0.87
"""


def convert(tmp_path: Path, text: str, provider: str, name: str = "vms.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return offers_from_vms(read_vms(path, name), provider, load_context(), source="test", as_of=AS_OF, origin="skypilot")


def by_key(conversion):
    return {(o.instance, o.region, o.market): o for o in conversion.offers}


def test_spot_median_leaves_out_local_zones_and_zones_without_a_spot_market(tmp_path: Path) -> None:
    offers = by_key(convert(tmp_path, AWS, "aws"))
    spot = offers[("p5.48xlarge", "us-east-1", "spot")]
    assert spot.price_per_hour == 19.2531  # median of az2, az3, az6 (17.63, 19.25, 21.15)
    assert "median of 3 zone(s)" in spot.source and "1 Local Zone" in spot.source
    assert "1 no spot market (spot = on-demand)" in spot.source
    assert offers[("p5.48xlarge", "us-east-1", "on-demand")].price_per_hour == 55.04
    assert offers[("p5.48xlarge", "us-east-1", "on-demand")].gpu == "H100-SXM-80GB"


def test_columns_are_read_by_header_name_in_any_order(tmp_path: Path) -> None:
    first = by_key(convert(tmp_path, AWS, "aws"))
    again = by_key(convert(tmp_path, reordered(AWS), "aws", "reordered.csv"))
    assert {k: v.price_per_hour for k, v in first.items()} == {k: v.price_per_hour for k, v in again.items()}


def test_cpu_machines_are_ignored_and_unknown_gpus_reported(tmp_path: Path) -> None:
    conversion = convert(tmp_path, AWS, "aws")
    assert {o.instance for o in conversion.offers} == {"p5.48xlarge"}
    assert any("B300 (1 rows)" in w and "gpu_aliases.csv" in w for w in conversion.warnings)


def test_gcp_offers_are_host_plus_accelerators_and_the_700_placeholder_is_dropped(tmp_path: Path) -> None:
    conversion = convert(tmp_path, GCP, "gcp")
    offers = by_key(conversion)
    l4 = offers[("g2-standard-12", "us-central1", "on-demand")]
    assert (l4.gpu, l4.gpu_count, l4.price_per_hour) == ("L4-24GB", 1, pytest.approx(0.44038 + 0.56004))
    assert offers[("g2-standard-12", "us-central1", "spot")].price_per_hour == pytest.approx(0.17621 + 0.2231)
    b200 = offers[("a4-highgpu-8g", "us-central1", "on-demand")]  # host listed at 0.0: the GPUs carry the price
    assert (b200.gpu, b200.price_per_hour) == ("B200-SXM-180GB", 90.216)
    assert not any(k[1] == "us-east4" for k in offers)  # its accelerator is priced 700.0 on both markets
    assert any("2 zone price(s) have a placeholder" in w for w in conversion.warnings)
    assert "n1-highmem-8" not in {k[0] for k in offers}


def test_runpod_gpu_memory_labelled_mib_is_read_as_gb(tmp_path: Path) -> None:
    offers = by_key(convert(tmp_path, RUNPOD, "runpod"))
    assert offers[("1x_A100-80GB_SECURE", "US", "on-demand")].gpu == "A100-PCIE-80GB"
    assert offers[("1x_A100-80GB-SXM_SECURE", "US", "on-demand")].gpu == "A100-SXM-80GB"
    assert gpu_memory_gb("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 80}}]}") == 80
    assert gpu_memory_gb("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81920}}]}") == 80


@pytest.mark.parametrize(("zone", "local"), [("use1-az1", False), ("use1-atl2-az1", True), ("usw2-lax1-az2", True)])
def test_local_zones_are_told_from_regular_ones(zone: str, local: bool) -> None:
    assert is_local_zone("aws", zone) is local and is_local_zone("gcp", zone) is False


def test_a_file_without_the_v8_columns_is_one_line_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "vms.csv"
    path.write_text("InstanceType,Price\np5.48xlarge,55.04\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"vms.csv line 1, field AcceleratorName: missing column"):
        read_vms(path, "vms.csv")


def sky_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for cloud, text in (("aws", AWS), ("gcp", GCP)):
        folder = home / ".sky" / "catalogs" / "v8" / cloud
        folder.mkdir(parents=True)
        (folder / "vms.csv").write_text(text, encoding="utf-8")
        stamp = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.timezone.utc).timestamp()
        os.utime(folder / "vms.csv", (stamp, stamp))
    monkeypatch.setenv("HOME", str(home))
    return home


def test_refresh_skypilot_reads_every_cloud_and_says_file_times_are_fetch_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sky_home(tmp_path, monkeypatch)
    report = refresh_skypilot([])
    (table,), _ = read_tables()
    assert {o.provider for o in table.offers} == {"aws", "gcp"}
    assert {o.as_of for o in table.offers} == {dt.date(2026, 11, 28)}
    assert all(o.origin == "skypilot" for o in table.offers)
    files = [w for w in report.warnings if w.startswith("skypilot: ")]
    assert len(files) == 2 and all("last fetch attempt, not the date its prices were collected" in w for w in files)


def test_refresh_skypilot_without_a_catalog_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    report = refresh_skypilot([])
    assert report.path is None and "sky show-gpus" in report.warnings[0]


def test_the_cli_refreshes_from_skypilot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    sky_home(tmp_path, monkeypatch)
    assert main(["quotes", "--refresh", "skypilot", "--gpu", "L4", "--provider", "gcp", "--json"]) == 0
    captured = capsys.readouterr()
    assert "skypilot: refreshed" in captured.err and '"origin": "skypilot"' in captured.out
