"""Quotes: filters, GPU name matching, sorting by price and by price per sample, unknown-name errors."""

from __future__ import annotations

import datetime as dt

import pytest

from providers.catalog import load_catalog
from providers.errors import QuoteFilterError
from providers.quotes import QuoteFilter, find_quotes, gpu_matches
from providers.schema import Catalog, GpuSpec, Offer

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(use_cache=False, today=TODAY)


def quotes(catalog: Catalog, **kw):
    sort = kw.pop("sort", "price")
    throughput = kw.pop("throughput", None)
    return find_quotes(catalog, QuoteFilter(**kw), sort=sort, throughput=throughput, today=TODAY)


def test_h100_matches_every_h100_form_and_nothing_else(catalog: Catalog) -> None:
    found = {q.offer.gpu for q in quotes(catalog, gpu="h100")}
    assert found == {"H100-SXM-80GB", "H100-PCIE-80GB", "H100-NVL-94GB"}


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [("L4", "L4-24GB", True), ("L4", "L40S-48GB", False), ("a100 80gb", "A100-SXM-80GB", True),
     ("A100-80GB", "A100-PCIE-80GB", True), ("A100-80GB", "A100-SXM-40GB", False), ("sxm", "H200-SXM-141GB", True),
     ("hopper", "GH200-96GB", True), ("A10", "A10G-24GB", False), ("", "T4-16GB", False)],
)
def test_gpu_names_match_by_token_or_generation(catalog: Catalog, query: str, name: str, expected: bool) -> None:
    assert gpu_matches(query, catalog.gpus[name]) is expected


def test_filters_combine(catalog: Catalog) -> None:
    found = quotes(catalog, gpu="H100", gpu_count=8, providers=("AWS", "lambda"), market="on-demand")
    assert {(q.offer.provider, q.offer.instance) for q in found} == {("aws", "p5.48xlarge"), ("lambda", "gpu_8x_h100_sxm5")}
    assert {q.offer.region for q in found if q.offer.provider == "lambda"} == {"any"}


def test_min_gpu_memory_is_per_gpu(catalog: Catalog) -> None:
    found = quotes(catalog, min_gpu_memory_gb=100)
    assert found and {catalog.gpu(q.offer.gpu).memory_gb >= 100 for q in found} == {True}
    assert not any(q.offer.gpu == "H100-SXM-80GB" for q in found)


def test_region_market_and_max_price(catalog: Catalog) -> None:
    found = quotes(catalog, region="us-west-2", market="spot", max_price_per_hour=1.0)
    assert found and all(q.offer.region == "us-west-2" and q.offer.market == "spot" for q in found)
    assert max(q.offer.price_per_hour for q in found) <= 1.0


def test_sort_by_instance_price_and_by_gpu_price(catalog: Catalog) -> None:
    by_price = quotes(catalog, gpu="H100")
    assert [q.offer.price_per_hour for q in by_price] == sorted(q.offer.price_per_hour for q in by_price)
    by_gpu = quotes(catalog, gpu="H100", sort="gpu-price")
    assert [q.usd_per_gpu_hour for q in by_gpu] == sorted(q.usd_per_gpu_hour for q in by_gpu)

    def position(found, instance: str, market: str) -> int:
        return next(i for i, q in enumerate(found) if (q.offer.instance, q.offer.market) == (instance, market))

    # An 8-GPU spot instance is dear per hour but cheap per GPU-hour.
    assert position(by_price, "p5.48xlarge", "spot") > position(by_price, "gpu_1x_h100_sxm5", "on-demand")
    assert position(by_gpu, "p5.48xlarge", "spot") < position(by_gpu, "gpu_1x_h100_sxm5", "on-demand")


def test_sort_per_sample_uses_the_throughput_function(catalog: Catalog) -> None:
    def rate(offer: Offer, spec: GpuSpec) -> float:
        return 100.0 * offer.gpu_count * (10.0 if spec.generation == "hopper" else 1.0)

    found = quotes(catalog, providers=("lambda",), sort="per-sample", throughput=rate)
    costs = [q.usd_per_million_samples for q in found]
    assert costs == sorted(costs)
    first = found[0]
    assert first.samples_per_s == rate(first.offer, catalog.gpu(first.offer.gpu))
    assert first.usd_per_million_samples == pytest.approx(first.offer.price_per_hour / (first.samples_per_s * 3600) * 1e6)
    assert first.samples_per_usd == pytest.approx(first.samples_per_s * 3600 / first.offer.price_per_hour)
    by_value = quotes(catalog, providers=("lambda",), sort="samples-per-dollar", throughput=rate)
    assert [q.samples_per_usd for q in by_value] == sorted((q.samples_per_usd for q in by_value), reverse=True)


def test_offers_the_model_cannot_run_sort_last(catalog: Catalog) -> None:
    def rate(offer: Offer, spec: GpuSpec) -> float:
        return 0.0 if spec.memory_gb < 40 else 50.0

    found = quotes(catalog, providers=("lambda",), sort="per-sample", throughput=rate)
    assert found[-1].samples_per_s is None and found[-1].usd_per_million_samples is None
    assert found[0].samples_per_s == 50.0


def test_per_sample_sort_needs_throughput(catalog: Catalog) -> None:
    with pytest.raises(QuoteFilterError, match="needs a throughput model"):
        quotes(catalog, sort="per-sample")


@pytest.mark.parametrize(
    ("kw", "says"),
    [({"gpu": "X200"}, "no GPU matches 'X200'; available: A10-24GB"),
     ({"providers": ("oracle",)}, "no provider named 'oracle'; available: aws, azure, gcp"),
     ({"region": "mars-1"}, "no offers in region 'mars-1'; available: any")],
)
def test_unknown_names_say_what_is_available(catalog: Catalog, kw: dict, says: str) -> None:
    with pytest.raises(QuoteFilterError, match=says):
        quotes(catalog, **kw)


def test_each_quote_carries_the_age_of_its_price(catalog: Catalog) -> None:
    for q in quotes(catalog, gpu="H200"):
        assert q.price_age_days == (TODAY - q.offer.as_of).days >= 0


def test_a_region_matches_by_its_start(catalog: Catalog) -> None:
    found = quotes(catalog, region="us-")
    assert found and all(q.offer.region.startswith("us-") for q in found)
    assert {q.offer.region for q in quotes(catalog, region="US-WEST")} == {"us-west-2"}
