"""The row guards every price layer goes through: bundled, cached, refreshed and the user's CSV.

One offer is refused when its price is a placeholder (0, a listed placeholder such as GCP's 700.0,
or more than the manifest's `max_usd_per_gpu_hour`) or when it names a GPU the spec table lacks.
Each refusal is one line naming the row and why, so a caller can drop the row with a warning or
stop on it; the rules themselves are data in `pricing/manifest.json`.
"""

from __future__ import annotations

from providers.rules import Rules
from providers.schema import GpuSpec, Offer

# Two prices closer than this (USD/hour) are the same price.
PRICE_EPSILON = 1e-9


def price_problem(price_per_hour: float, gpu_count: int, rules: Rules) -> str | None:
    """Why a USD/instance-hour figure is not a real price, or None when it is believable."""
    if price_per_hour <= 0:
        return f"price {price_per_hour:g} is not a price (zero or negative)"
    if any(abs(price_per_hour - p) < PRICE_EPSILON for p in rules.placeholder_prices):
        return f"price {price_per_hour:g} is a catalog placeholder, not a price"
    per_gpu = price_per_hour / max(gpu_count, 1)
    if per_gpu > rules.max_usd_per_gpu_hour:
        return (
            f"{per_gpu:.2f} USD per GPU-hour is above {rules.max_usd_per_gpu_hour:g}, "
            "taken as a placeholder"
        )
    return None


def gpu_problem(gpu: str, gpus: dict[str, GpuSpec]) -> str | None:
    if gpu in gpus:
        return None
    return f"GPU {gpu!r} is not in pricing/gpus.csv"


def offer_problem(offer: Offer, gpus: dict[str, GpuSpec], rules: Rules) -> str | None:
    """The first guard an already-built offer fails, or None."""
    return gpu_problem(offer.gpu, gpus) or price_problem(offer.price_per_hour, offer.gpu_count, rules)


def label(offer: Offer) -> str:
    return f"{offer.provider} {offer.instance} {offer.region} {offer.market}"


def keep_guarded(
    offers: list[Offer], gpus: dict[str, GpuSpec], rules: Rules, where: str
) -> tuple[list[Offer], list[str]]:
    """The offers that pass every guard, and one warning per dropped row."""
    kept: list[Offer] = []
    warnings: list[str] = []
    for offer in offers:
        problem = offer_problem(offer, gpus, rules)
        if problem is None:
            kept.append(offer)
        else:
            warnings.append(f"{where} ({label(offer)}): {problem}; row dropped")
    return kept, warnings
