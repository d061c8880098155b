"""AWS refresh against botocore's Stubber, which checks requests and answers against AWS's real service model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from providers.aws import ON_DEMAND_MATCH, refresh_aws
from providers.cache import read_tables
from providers.catalog import load_catalog

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


def filters(instance: str, region: str) -> list[dict[str, str]]:
    pairs = [("instanceType", instance), ("regionCode", region), *ON_DEMAND_MATCH.items()]
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in pairs]


def products_request(instance: str, token: str | None = None) -> dict:
    request = {"ServiceCode": "AmazonEC2", "Filters": filters(instance, "us-east-1"), "FormatVersion": "aws_v1"}
    if token:
        request["NextToken"] = token
    return request


def spot_request(token: str | None = None) -> dict:
    request = {"InstanceTypes": ["g5.xlarge", "p5.48xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": NOW}
    if token:
        request["NextToken"] = token
    return request


class StubbedAws:
    """A Pricing client and an EC2 client, each with a Stubber queue, handed out by `factory`."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        self.pricing = session.client("pricing", region_name="us-east-1")
        self.ec2 = session.client("ec2", region_name="us-east-1")
        self.pricing_stub = Stubber(self.pricing)
        self.ec2_stub = Stubber(self.ec2)
        self.asked: list[tuple[str, str]] = []

    def factory(self, service: str, region: str):
        self.asked.append((service, region))
        return self.pricing if service == "pricing" else self.ec2

    def __enter__(self) -> StubbedAws:
        self.pricing_stub.activate()
        self.ec2_stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pricing_stub.deactivate()
        self.ec2_stub.deactivate()


@pytest.fixture
def targets(make_offer: Callable) -> list:
    return [make_offer("aws", "p5.48xlarge", "us-east-1", "H100-SXM-80GB", 8, 98.32),
            make_offer("aws", "g5.xlarge", "us-east-1", "A10G-24GB", 1, 1.006),
            make_offer("lambda", "gpu_1x_h100_sxm5", "any", "H100-SXM-80GB", 1, 4.29)]


def queue_on_demand(aws: StubbedAws, recorded: Callable[[str], dict]) -> None:
    aws.pricing_stub.add_response("get_products", recorded("aws/get_products_g5_us-east-1.json"),
                                  products_request("g5.xlarge"))
    page1 = recorded("aws/get_products_p5_us-east-1_page1.json")
    aws.pricing_stub.add_response("get_products", page1, products_request("p5.48xlarge"))
    aws.pricing_stub.add_response("get_products", recorded("aws/get_products_p5_us-east-1_page2.json"),
                                  products_request("p5.48xlarge", page1["NextToken"]))


def queue_spot(aws: StubbedAws, recorded: Callable[[str], dict]) -> None:
    page1 = recorded("aws/spot_history_us-east-1_page1.json")
    aws.ec2_stub.add_response("describe_spot_price_history", page1, spot_request())
    aws.ec2_stub.add_response("describe_spot_price_history", recorded("aws/spot_history_us-east-1_page2.json"),
                              spot_request(page1["NextToken"]))


def test_on_demand_and_spot_prices_are_fetched_paged_reduced_and_cached(targets, recorded) -> None:
    with StubbedAws() as aws:
        queue_on_demand(aws, recorded)
        queue_spot(aws, recorded)
        report = refresh_aws(targets, client_factory=aws.factory, now=NOW)
        aws.pricing_stub.assert_no_pending_responses()
        aws.ec2_stub.assert_no_pending_responses()
    assert report.warnings == [] and report.offers == 4
    assert aws.asked == [("pricing", "us-east-1"), ("ec2", "us-east-1")]
    (table,), _ = read_tables()
    prices = {(o.instance, o.market): o for o in table.offers}
    # The Capacity Block product on page 1 is skipped; the on-demand one is on page 2.
    assert prices[("p5.48xlarge", "on-demand")].price_per_hour == 55.04
    assert prices[("g5.xlarge", "on-demand")].price_per_hour == 1.006
    # Spot: latest record per zone, median over zones (the older 35.0 in us-east-1a is superseded).
    p5_spot = prices[("p5.48xlarge", "spot")]
    assert p5_spot.price_per_hour == pytest.approx((27.6948 + 29.3511) / 2)
    assert "median of 4 zone(s) (min 20.9934)" in p5_spot.source
    assert prices[("g5.xlarge", "spot")].price_per_hour == pytest.approx(0.413)
    assert {o.origin for o in table.offers} == {"aws-api"} and {o.as_of for o in table.offers} == {NOW.date()}
    assert {o.gpu for o in table.offers} == {"H100-SXM-80GB", "A10G-24GB"}


def test_refreshed_prices_show_up_in_the_catalog(recorded) -> None:
    bundled = load_catalog(use_cache=False, today=NOW.date())
    picked = [o for o in bundled.offers if o.instance in ("p5.48xlarge", "g5.xlarge") and o.region == "us-east-1"]
    with StubbedAws() as aws:
        queue_on_demand(aws, recorded)
        queue_spot(aws, recorded)
        refresh_aws(picked, client_factory=aws.factory, now=NOW)
    catalog = load_catalog(today=NOW.date())
    spot = [o for o in catalog.offers if (o.instance, o.region, o.market) == ("p5.48xlarge", "us-east-1", "spot")]
    assert spot[0].origin == "aws-api"


def test_no_credentials_gives_a_warning_and_writes_nothing(
    targets, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache_dir: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    report = refresh_aws(targets, now=NOW)
    assert report.path is None and report.offers == 0
    (warning,) = report.warnings
    assert "no AWS credentials found" in warning and "\n" not in warning
    assert not cache_dir.exists()


def test_throttling_gives_a_warning_and_keeps_the_previous_cache(targets, recorded, cache_dir: Path) -> None:
    with StubbedAws() as aws:
        queue_on_demand(aws, recorded)
        queue_spot(aws, recorded)
        refresh_aws(targets, client_factory=aws.factory, now=NOW)
    before = (cache_dir / "aws.json").read_bytes()
    with StubbedAws() as aws:
        queue_on_demand(aws, recorded)
        aws.ec2_stub.add_client_error("describe_spot_price_history", service_error_code="RequestLimitExceeded",
                                      service_message="Request limit exceeded.", http_status_code=503)
        report = refresh_aws(targets, client_factory=aws.factory, now=NOW + dt.timedelta(days=1))
    (warning,) = report.warnings
    assert "throttling requests (RequestLimitExceeded)" in warning
    assert (cache_dir / "aws.json").read_bytes() == before


def test_pricing_api_throttling_is_reported_too(targets) -> None:
    with StubbedAws() as aws:
        aws.pricing_stub.add_client_error("get_products", service_error_code="ThrottlingException",
                                          service_message="Rate exceeded", http_status_code=400)
        report = refresh_aws(targets, client_factory=aws.factory, now=NOW)
    assert "throttling" in report.warnings[0] and report.path is None


def test_an_access_error_names_the_aws_error_code(targets) -> None:
    with StubbedAws() as aws:
        aws.pricing_stub.add_client_error("get_products", service_error_code="AccessDeniedException",
                                          service_message="not authorized to perform pricing:GetProducts")
        report = refresh_aws(targets, client_factory=aws.factory, now=NOW)
    assert "AWS answered AccessDeniedException (not authorized to perform pricing:GetProducts)" in report.warnings[0]


def test_an_instance_aws_does_not_list_is_simply_left_out(make_offer, recorded) -> None:
    target = [make_offer("aws", "g5.xlarge", "us-east-1", "A10G-24GB", 1, 1.006)]
    with StubbedAws() as aws:
        aws.pricing_stub.add_response("get_products", recorded("aws/get_products_empty.json"),
                                      products_request("g5.xlarge"))
        aws.ec2_stub.add_response("describe_spot_price_history", {"SpotPriceHistory": [], "NextToken": ""},
                                  {**spot_request(), "InstanceTypes": ["g5.xlarge"]})
        report = refresh_aws(target, client_factory=aws.factory, now=NOW)
    assert report.path is None and "returned no prices" in report.warnings[0]
