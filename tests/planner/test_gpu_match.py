import pytest

from planner.contracts import DeviceInfo
from planner.plan.gpu_match import match_local_gpu
from providers.catalog import load_gpu_specs

MIB = 2**20


@pytest.mark.parametrize("name, memory_mib, spec", [
    ("NVIDIA H100 80GB HBM3", 81559, "H100-SXM-80GB"),
    ("NVIDIA H100 PCIe", 81559, "H100-PCIE-80GB"),
    ("NVIDIA H100 NVL", 95830, "H100-NVL-94GB"),
    ("NVIDIA H200", 143771, "H200-SXM-141GB"),
    ("NVIDIA A100-SXM4-40GB", 40536, "A100-SXM-40GB"),
    ("NVIDIA A100-SXM4-80GB", 81920, "A100-SXM-80GB"),
    ("NVIDIA L4", 23034, "L4-24GB"),
    ("NVIDIA L40S", 46068, "L40S-48GB"),
    ("NVIDIA A10G", 23028, "A10G-24GB"),
    ("Tesla T4", 15360, "T4-16GB"),
    ("Tesla V100-SXM2-32GB", 32768, "V100-SXM2-32GB"),
])
def test_cuda_device_names_match_the_bundled_spec_table(name, memory_mib, spec):
    device = DeviceInfo(kind="cuda", name=name, memory_bytes=memory_mib * MIB, memory_source="device")
    match = match_local_gpu(device, load_gpu_specs())
    assert match is not None and match.name == spec


def test_unknown_gpu_and_cpu_match_nothing():
    gpus = load_gpu_specs()
    assert match_local_gpu(DeviceInfo(kind="cuda", name="Some Future GPU", memory_bytes=1, memory_source="device"), gpus) is None
    assert match_local_gpu(DeviceInfo(kind="cpu", name="AMD EPYC", memory_bytes=1, memory_source="cap"), gpus) is None
