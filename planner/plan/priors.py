"""Stated priors: the numbers the planner assumes when nothing measured them.

Every figure a plan derives from one of these is labelled `prior`, and the plan's assumptions
list repeats the value used, so a reader can see which guesses a recommendation rests on.
"""

from __future__ import annotations

from planner.plan import fitted_priors
from providers.schema import GpuSpec

# Compute efficiency (achieved fraction of the dense tensor-core ceiling) of eager PyTorch steps
# in bf16/fp16 is fitted on public per-GPU throughput (pricing/throughput.csv, fit in
# planner/plan/calibration.py, result with its rows and error in pricing/priors_fit.json):
# e = e0[op] * (R / R0)^b with R the GPU's ridge point (peak / bandwidth). `compute_efficiency`
# below reads it; a model's convolution share of FLOPs (counted by the probe) mixes the two ops.

# fp32 training runs on the plain FP32 units (torch leaves TF32 matmuls off by default);
# dense fp32 GEMMs reach about 60-70% of that ceiling.
FP32_COMPUTE_EFFICIENCY = 0.60

# Memory-bound kernels (the optimizer step) reach about 80% of the datasheet bandwidth.
BANDWIDTH_EFFICIENCY = 0.80

# AdamW with fp32 params and states, per parameter and step:
# p, g, m, v read (16 B) + p, m, v written (12 B) = 28 B; zeroing the gradient adds 4 B.
OPTIMIZER_BYTES_PER_PARAM = 32

# Host time per micro-batch (Python and kernel launches of eager forward + backward) bounds a
# step from below while the GPU waits for it; eager PyTorch launches a few kernels per parameter
# tensor. Seconds per tensor are fitted on the batch-1 rows of pricing/throughput.csv
# (`host_s_per_param_tensor`).
# When the report does not count parameter tensors: about 1 ms.
STEP_OVERHEAD_S = 1.0e-3

# Fraction of the gradient all-reduce hidden behind the backward pass (DDP buckets overlap
# communication with the remaining backward); measured when a DDP probe ran.
ALLREDUCE_OVERLAP = 0.5

# Memory the CUDA context, cuBLAS/cuDNN workspaces and allocator fragmentation take before
# the model's tensors: about 1 GB on recent drivers.
CUDA_CONTEXT_BYTES = 1.0e9

# Headroom kept below the fitted memory boundary, as a fraction of the GPU's memory.
MEMORY_MARGIN = 0.10

# Spot capacity is reclaimed with short notice: the expected extra time for interruptions,
# restarts from the last checkpoint and re-provisioning, as a fraction of the run.
SPOT_INTERRUPTION_OVERHEAD = 0.15

# Global batch sizes the planner considers, relative to the reference batch. With a measured
# noise scale, E(B) prices the extra samples a large batch needs, so the range is wide; without
# one, samples are held fixed, which flatters large batches, so the range stays near B0.
BATCH_RANGE_BELOW = 8  # down to B0 / 8
BATCH_RANGE_ABOVE = 64  # up to B0 * 64 with a noise scale
BATCH_RANGE_ABOVE_SAMPLES_FIXED = 8  # up to B0 * 8 without one

# Without a measured noise scale, show how the choice moves over this range of B_noise.
NOISE_SCALE_SWEEP = (64.0, 256.0, 1024.0, 4096.0, 16384.0)

# A plan lists every candidate up to this many; beyond, the frontier, the recommendations and
# the cheapest candidate of each provider x GPU x count x nodes x market x layout. About 2.7 kB
# of JSON each: clusters multiply the candidates, and 1,000 keep a plan document near 3 MB.
MAX_LISTED_CANDIDATES = 1000

# Adding GPUs "pays" while each one still brings this much of its own speed (scaling efficiency).
SCALING_EFFICIENCY_PAYS = 0.75

# A candidate whose global batch is this many times the critical batch buys few fewer steps.
BEYOND_CRITICAL_FACTOR = 4.0


def host_s_per_param_tensor() -> float:
    return fitted_priors.fitted().host_s_per_param_tensor


def optimizer_seconds(params: float, bandwidth_gbs: float) -> float:
    """One optimizer step's memory traffic over the achieved bandwidth."""
    return params * OPTIMIZER_BYTES_PER_PARAM / (bandwidth_gbs * 1e9 * BANDWIDTH_EFFICIENCY)


def compute_efficiency(gpu: GpuSpec, precision: str, conv_share: float = 0.0,
                       harness: fitted_priors.Harness = "eager") -> float:
    """The prior efficiency on `gpu` for an eager or tuned stack; time adds up per FLOP class, so
    the mix is a harmonic mean."""
    if precision == "fp32":
        matmul = FP32_COMPUTE_EFFICIENCY
        conv = matmul * fitted_priors.conv_to_matmul()
    else:
        fit = fitted_priors.fitted()
        ridge = fitted_priors.ridge_point(gpu.peak_tflops(precision), gpu.bandwidth_gbs)
        matmul, conv = fit.efficiency("matmul", ridge, harness), fit.efficiency("conv", ridge, harness)
    return 1.0 / ((1.0 - conv_share) / matmul + conv_share / conv)
