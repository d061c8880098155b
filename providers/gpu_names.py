"""Naming a catalog's GPU with a name from our spec table (`pricing/gpus.csv`).

Other catalogs (SkyPilot, gpuhunt) say "H100", "A100-80GB" or "A100" with 80 GB. The instance
family (`pricing/families.csv`) decides first, since it knows the part exactly (p5. is H100 SXM);
otherwise `pricing/gpu_aliases.csv` does, its most specific matching row winning: naming the provider
counts most, then a piece of the instance name ("pcie"), then the memory; an empty cell matches anything. A name
neither table knows is returned as None, and the caller reports it and skips the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from providers.csvio import read_rows
from providers.gpus import Family, gpu_for_instance
from providers.schema import GpuSpec

ALIAS_COLUMNS = ("provider", "alias", "memory_gb", "instance_contains", "gpu", "source")
MEMORY_SLACK = 0.1  # relative: catalogs give GiB, GB or the marketing figure


@dataclass(frozen=True)
class Alias:
    provider: str  # "" = any provider
    name: str  # as the catalog writes it, e.g. "A100-80GB"
    memory_gb: float | None  # None = any memory
    instance_contains: str  # lower-case, "" = any instance
    gpu: str

    def matches(self, provider: str, instance: str, name: str, memory_gb: float | None) -> bool:
        if self.name.lower() != name.strip().lower():
            return False
        if self.provider and self.provider != provider:
            return False
        if self.instance_contains and self.instance_contains not in instance.lower():
            return False
        if self.memory_gb is not None:
            return memory_gb is not None and abs(memory_gb - self.memory_gb) <= MEMORY_SLACK * self.memory_gb
        return True

    @property
    def specificity(self) -> int:
        # The provider says most, then the instance name (PCIe), then the memory figure.
        return 4 * bool(self.provider) + 2 * bool(self.instance_contains) + (self.memory_gb is not None)


@dataclass(frozen=True)
class GpuNamer:
    families: list[Family]
    aliases: list[Alias]

    def resolve(self, provider: str, instance: str, name: str, memory_gb: float | None = None) -> str | None:
        by_family = gpu_for_instance(self.families, provider, instance)
        if by_family is not None:
            return by_family
        found = [a for a in self.aliases if a.matches(provider, instance, name, memory_gb)]
        if not found:
            return None
        return max(found, key=lambda a: a.specificity).gpu

    def catalog_name(self, gpu: str) -> str:
        """The plain catalog name of one of our GPUs (SkyPilot's accelerator name): its least qualified alias."""
        rows = [a for a in self.aliases if a.gpu == gpu]
        if not rows:
            raise KeyError(f"no row of pricing/gpu_aliases.csv names {gpu!r}; add the catalogs' name for it")
        return min(rows, key=lambda a: a.specificity).name


def read_aliases(path: Path, display: str, gpus: dict[str, GpuSpec]) -> list[Alias]:
    aliases: list[Alias] = []
    for row in read_rows(path, display, ALIAS_COLUMNS, ()):
        gpu = row.text("gpu")
        if gpu not in gpus:
            raise row.fail("gpu", f"{gpu!r} is not in the GPU table", f"use one of {', '.join(sorted(gpus))}")
        row.text("source")
        aliases.append(Alias(
            provider=row.text("provider", required=False).lower(),
            name=row.text("alias"),
            memory_gb=row.positive("memory_gb", "GB per GPU, or leave empty", required=False),
            instance_contains=row.text("instance_contains", required=False).lower(),
            gpu=gpu,
        ))
    return aliases

