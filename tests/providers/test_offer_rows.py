"""One offer table read row by row: one-line errors naming file, line and field; every quirk guard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from providers.catalog import load_catalog
from providers.errors import CatalogError

TODAY = dt.date(2026, 11, 26)
HEADER = "provider,instance,region,market,gpu,gpu_count,price_per_hour,source,as_of"
P5 = "aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,55.04,my contract,2026-11-01"

Writer = Callable[..., Path]


def load(path: Path):
    return load_catalog(user_csv=path, use_cache=False, today=TODAY)


def error_of(path: Path) -> str:
    with pytest.raises(CatalogError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def user_offers(catalog, provider: str = "aws"):
    return [o for o in catalog.offers if o.origin == "user" and o.provider == provider]


@pytest.mark.parametrize(
    ("cells", "field", "fix"),
    [
        ("aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,abc,x,2026-11-01", "price_per_hour", "USD per instance-hour"),
        ("aws,p5.48xlarge,us-east-1,reserved,H100-SXM-80GB,8,40,x,2026-11-01", "market", "on-demand, spot"),
        ("aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,eight,40,x,2026-11-01", "gpu_count", "number of GPUs"),
        ("aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,40,x,01/11/2026", "as_of", "YYYY-MM-DD"),
        ("aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,40,x,2027-01-01", "as_of", "date the price was seen"),
        ("aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,40,,2026-11-01", "source", "every row needs it"),
        ("aws,p5.48xlarge,us-east-1,on-demand,X999-1GB,8,40,x,2026-11-01", "gpu", "pricing/gpus.csv"),
    ],
)
def test_a_malformed_row_names_file_line_field_and_fix(write_csv: Writer, cells: str, field: str, fix: str) -> None:
    path = write_csv([HEADER, P5, cells])
    message = error_of(path)
    assert message.startswith(f"{path} line 3, field {field}: ")
    assert fix in message


def test_a_bad_number_message_reads_like_the_documented_example(write_csv: Writer) -> None:
    path = write_csv([HEADER, "aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,abc,x,2026-11-01"])
    assert error_of(path) == (
        f"{path} line 2, field price_per_hour: 'abc' is not a number; give USD per instance-hour"
    )


def test_header_problems_are_reported_on_line_one(write_csv: Writer) -> None:
    assert "line 1, field colour: unknown column" in error_of(write_csv([HEADER + ",colour", P5 + ",red"]))
    assert "line 1, field as_of: missing column" in error_of(
        write_csv([HEADER.replace(",as_of", ""), P5.rsplit(",", 1)[0]])
    )


def test_a_missing_user_file_is_a_one_line_error(tmp_path: Path) -> None:
    assert "no such file" in error_of(tmp_path / "nope.csv")


def test_gcp_host_and_gpu_parts_are_summed_when_the_total_is_empty(write_csv: Writer) -> None:
    path = write_csv([HEADER + ",host_price,gpu_price",
                      "gcp,a2-highgpu-8g,us-central1,on-demand,A100-SXM-40GB,8,,x,2026-11-01,5.91582,23.47124"])
    (offer,) = user_offers(load(path), "gcp")
    assert offer.price_per_hour == pytest.approx(29.38706)


def test_gcp_parts_that_do_not_add_up_to_the_total_are_an_error(write_csv: Writer) -> None:
    path = write_csv([HEADER + ",host_price,gpu_price",
                      "gcp,a2-highgpu-8g,us-central1,on-demand,A100-SXM-40GB,8,23.47,x,2026-11-01,5.92,23.47"])
    message = error_of(path)
    assert "line 2, field price_per_hour: 23.47 is not host_price + gpu_price" in message


def test_gcp_host_part_without_gpu_part_is_an_error(write_csv: Writer) -> None:
    path = write_csv([HEADER + ",host_price,gpu_price",
                      "gcp,a2-highgpu-8g,us-central1,on-demand,A100-SXM-40GB,8,29.39,x,2026-11-01,5.92,"])
    assert "line 2, field gpu_price: is empty while its partner is set" in error_of(path)


@pytest.mark.parametrize(
    ("instance", "gpu"),
    [("p4de.24xlarge", "A100-SXM-80GB"), ("p5en.48xlarge", "H200-SXM-141GB"), ("p3dn.24xlarge", "V100-SXM2-32GB"),
     ("p5.48xlarge", "H100-SXM-80GB")],
)
def test_a_generic_gpu_name_is_resolved_by_instance_family(write_csv: Writer, instance: str, gpu: str) -> None:
    path = write_csv([HEADER, f"aws,{instance},ap-south-1,on-demand,NVIDIA,8,30,x,2026-11-01"])
    (offer,) = user_offers(load(path))
    assert offer.gpu == gpu


def test_a_generic_gpu_name_without_a_known_family_is_an_error(write_csv: Writer) -> None:
    path = write_csv([HEADER, "aws,x9.metal,us-east-1,on-demand,NVIDIA,8,30,x,2026-11-01"])
    message = error_of(path)
    assert "line 2, field gpu: 'NVIDIA' names no GPU" in message and "pricing/families.csv" in message


def test_a_spot_price_equal_to_on_demand_is_dropped_with_a_warning(write_csv: Writer) -> None:
    path = write_csv([HEADER, "aws,p3.2xlarge,ap-northeast-2,on-demand,V100-SXM2-16GB,1,4.234,x,2026-11-01",
                      "aws,p3.2xlarge,ap-northeast-2,spot,V100-SXM2-16GB,1,4.234,x,2026-11-01"])
    catalog = load(path)
    assert [o.market for o in user_offers(catalog)] == ["on-demand"]
    assert any("ap-northeast-2: spot price equals on-demand" in w for w in catalog.warnings)


@pytest.mark.parametrize(("price", "count"), [("0", 1), ("0.0", 8), ("-1.5", 1)])
def test_a_price_of_zero_or_below_in_the_users_csv_is_an_error(write_csv: Writer, price: str, count: int) -> None:
    path = write_csv([HEADER, P5, f"gcp,a3-highgpu-8g,asia-east1,on-demand,H100-SXM-80GB,{count},{price},x,2026-11-01"])
    with pytest.raises(CatalogError, match=r"line 3, field price_per_hour: .*zero or negative.*delete the row"):
        load(path)


@pytest.mark.parametrize(("price", "count"), [("700.0", 8), ("950", 1)])
def test_placeholder_prices_are_dropped_with_a_warning(write_csv: Writer, price: str, count: int) -> None:
    path = write_csv([HEADER, P5, f"gcp,a3-highgpu-8g,asia-east1,on-demand,H100-SXM-80GB,{count},{price},x,2026-11-01"])
    catalog = load(path)
    assert user_offers(catalog, "gcp") == []
    assert len(user_offers(catalog)) == 1
    assert any("line 3" in w and "row dropped" in w for w in catalog.warnings)


def test_per_instance_gpu_memory_is_read_as_per_gpu_with_a_warning(write_csv: Writer) -> None:
    path = write_csv([HEADER + ",gpu_memory_gb", P5 + ",640"])
    catalog = load(path)
    assert len(user_offers(catalog)) == 1
    assert any("gpu_memory_gb 640 is the whole instance's; read as 80 GB per GPU" in w for w in catalog.warnings)


def test_per_gpu_memory_that_matches_the_spec_passes_silently(write_csv: Writer) -> None:
    catalog = load(write_csv([HEADER + ",gpu_memory_gb", P5 + ",80"]))
    assert len(user_offers(catalog)) == 1
    assert not any("gpu_memory_gb" in w for w in catalog.warnings)


def test_gpu_memory_that_fits_neither_reading_is_an_error(write_csv: Writer) -> None:
    message = error_of(write_csv([HEADER + ",gpu_memory_gb", P5 + ",40"]))
    assert "line 2, field gpu_memory_gb: 40 GB does not match H100-SXM-80GB" in message


def test_a_row_repeated_per_zone_is_kept_once(write_csv: Writer) -> None:
    path = write_csv([HEADER, P5, P5, P5])
    catalog = load(path)
    assert len(user_offers(catalog)) == 1
    assert any("dropped 2 row(s) repeated per zone" in w for w in catalog.warnings)


def test_a_repeated_offer_with_another_price_is_an_error(write_csv: Writer) -> None:
    path = write_csv([HEADER, P5, P5.replace("55.04", "50.00")])
    message = error_of(path)
    assert "line 3, field price_per_hour: repeats line 2's offer aws/p5.48xlarge/us-east-1/on-demand" in message
