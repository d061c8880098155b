"""The bundled reference tables a live source needs to turn another catalog's rows into our offers.

GPU specs, instance families, GPU name aliases, GCP host-to-accelerator pairs and the sanity rules,
all read from a folder laid out like `pricing/` (default: the bundled one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from providers.csvio import read_rows
from providers.gpu_names import GpuNamer, read_aliases
from providers.gpus import read_families, read_gpus
from providers.rules import Rules, load_manifest
from providers.rules import pricing_dir as bundled_pricing_dir
from providers.schema import GpuSpec


@dataclass(frozen=True)
class PricingContext:
    gpus: dict[str, GpuSpec]
    namer: GpuNamer
    rules: Rules
    gcp_hosts: dict[str, tuple[str, int]]  # GCP machine type -> (SkyPilot accelerator name, count)


def load_context(pricing_dir: Path | None = None) -> PricingContext:
    folder = pricing_dir or bundled_pricing_dir()
    label = "pricing" if pricing_dir is None else str(folder)
    manifest = load_manifest(folder)

    def table(name: str) -> tuple[Path, str]:
        file = manifest.table_file(name)
        return folder / file, f"{label}/{file}"

    gpus = read_gpus(*table("gpus"))
    families = read_families(*table("families"), gpus)
    aliases = read_aliases(*table("gpu_aliases"), gpus)
    hosts: dict[str, tuple[str, int]] = {}
    for row in read_rows(*table("gcp_hosts"), ("instance", "accelerator", "count", "source"), ()):
        count = row.integer("count", "GPUs the machine type carries")
        assert count is not None
        row.text("source")
        hosts[row.text("instance")] = (row.text("accelerator"), count)
    return PricingContext(gpus=gpus, namer=GpuNamer(families, aliases), rules=manifest.rules, gcp_hosts=hosts)
