"""`batchfit quotes` end to end through its argparse parser (register + run)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from planner.cli import quotes_cmd
from planner.errors import BadInput
from providers.errors import CatalogError

DATA = Path(__file__).parent / "data"
HEADER = "provider,instance,region,market,gpu,gpu_count,price_per_hour,source,as_of"


def quotes(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="batchfit")
    quotes_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["quotes", *argv])
    return args.run(args)


def test_h100_lists_offers_from_at_least_four_providers(capsys: pytest.CaptureFixture[str]) -> None:
    assert quotes("--gpu", "H100", "--json") == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert len({q["offer"]["provider"] for q in document["quotes"]}) >= 4
    assert document["sort"] == "price" and document["filters"] == {"gpu": "H100"}
    assert "oldest price in use" in err


def test_the_table_shows_prices_and_their_age(capsys: pytest.CaptureFixture[str]) -> None:
    assert quotes("--gpu", "H200", "--gpu-count", "8", "--on-demand") == 0
    out, _ = capsys.readouterr()
    assert "p5en.48xlarge" in out and "a3-ultragpu-8g" in out and "price age" in out
    assert "spot" not in out


def test_json_is_the_only_thing_on_stdout_and_warnings_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    quotes("--provider", "aws,gcp", "--spot", "--max-price", "8", "--json")
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert {q["offer"]["provider"] for q in document["quotes"]} == {"aws", "gcp"}
    assert all(q["offer"]["market"] == "spot" and q["offer"]["price_per_hour"] <= 8 for q in document["quotes"])
    assert err.startswith("batchfit: warning:")


def test_unknown_gpu_and_provider_are_bad_input_naming_what_exists() -> None:
    with pytest.raises(BadInput, match="no GPU matches 'Z9'; available: .*H100-SXM-80GB"):
        quotes("--gpu", "Z9")
    with pytest.raises(BadInput, match="no provider named 'ibm'; available: aws, azure, gcp, lambda, nebius, runpod"):
        quotes("--provider", "ibm")


def test_your_own_prices_are_merged_in(write_csv: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv([HEADER, "onprem,dgx-h100,lab,on-demand,H100-SXM-80GB,8,9.0,amortised,2026-11-01"])
    quotes("--gpu", "H100", "--gpu-count", "8", "--prices", str(path), "--json")
    first = json.loads(capsys.readouterr().out)["quotes"][0]["offer"]
    assert (first["provider"], first["origin"]) == ("onprem", "user")


def test_a_malformed_price_file_raises_a_catalog_error(write_csv: Callable[..., Path]) -> None:
    path = write_csv([HEADER, "onprem,dgx-h100,lab,on-demand,H100-SXM-80GB,8,cheap,amortised,2026-11-01"])
    with pytest.raises(CatalogError, match=r"line 2, field price_per_hour: 'cheap' is not a number"):
        quotes("--prices", str(path))


def test_a_probe_report_adds_throughput_and_ranks_by_cost_per_sample(capsys: pytest.CaptureFixture[str]) -> None:
    quotes("--gpu", "A100", "--probe", str(DATA / "probe_report_cpu.json"), "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["sort"] == "per-sample"
    costs = [q["usd_per_million_samples"] for q in document["quotes"]]
    assert all(c is not None and c > 0 for c in costs) and costs == sorted(costs)


def test_a_missing_probe_report_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        quotes("--probe", str(tmp_path / "none.json"))


def test_a_refresh_without_credentials_warns_and_still_quotes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert quotes("--refresh", "aws", "--gpu", "H100", "--json") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["quotes"]
    assert "aws refresh skipped: no AWS credentials found" in err


def test_bad_option_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        quotes("--gpu-count", "0")
    assert info.value.code == 2
    assert "--gpu-count must be greater than 0" in capsys.readouterr().err


def test_a_region_matches_by_its_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert quotes("--region", "us-east", "--json") == 0
    regions = {q["offer"]["region"] for q in json.loads(capsys.readouterr().out)["quotes"]}
    assert regions and all(r.startswith("us-east") for r in regions) and len(regions) > 1
