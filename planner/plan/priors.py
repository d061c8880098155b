"""Stated priors: the numbers the planner assumes when nothing measured them.

Every figure a plan derives from one of these is labelled `prior`, and the plan's assumptions
list repeats the value used, so a reader can see which guesses a recommendation rests on.
"""

from __future__ import annotations

# Achieved fraction of the dense tensor-core ceiling (model FLOPs utilisation) for eager
# PyTorch training with autocast. Measured here: GPT-2 small (seq 1024, bf16) on an H200 reached
# 22.9% at its device-bound batches (bench/results/h200-2026-11-26); well-tuned stacks (fused
# attention, compiled graphs) reach 35-50%. Other generations keep the public A100-vs-H100 eager
# ratio (Hopper's faster tensor cores leave a larger share to memory-bound work). A convolutional
# net in NCHW does far worse (ResNet-50: 6%): probe on a GPU to calibrate.
COMPUTE_EFFICIENCY_BY_GENERATION: dict[str, float] = {
    "blackwell": 0.20,
    "hopper": 0.25,
    "ampere": 0.35,
    "ada": 0.30,
    "turing": 0.30,
    "volta": 0.30,
    "cdna3": 0.20,
}
COMPUTE_EFFICIENCY_DEFAULT = 0.25

# Eager convolutions (cuDNN, NCHW, bf16 autocast) reach a far smaller share of the ceiling than
# matmuls: on the H200, ResNet-50 (all convolution) reached 6.0% where GPT-2 small reached 22.9%.
# A model's convolution share of FLOPs (counted by the probe) mixes the two.
CONV_EFFICIENCY_RATIO = 0.26

# fp32 training runs on the plain FP32 units (torch leaves TF32 matmuls off by default);
# dense fp32 GEMMs reach about 60-70% of that ceiling.
FP32_COMPUTE_EFFICIENCY = 0.60

# Memory-bound kernels (the optimizer step) reach about 80% of the datasheet bandwidth.
BANDWIDTH_EFFICIENCY = 0.80

# AdamW with fp32 params and states, per parameter and step:
# p, g, m, v read (16 B) + p, m, v written (12 B) = 28 B; zeroing the gradient adds 4 B.
OPTIMIZER_BYTES_PER_PARAM = 32

# Host time per micro-batch (Python and kernel launches of eager forward + backward), which
# bounds a step from below while the GPU waits for it. Eager PyTorch launches a few kernels per
# parameter tensor: measured on the H200 machine, GPT-2 small (148 tensors) stepped no faster
# than 15-18 ms and ResNet-50 (161 tensors) than 18 ms, about 110 us per tensor.
HOST_S_PER_PARAM_TENSOR = 110e-6
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
# the cheapest candidate of each provider x GPU x count x market.
MAX_LISTED_CANDIDATES = 5000

# Adding GPUs "pays" while each one still brings this much of its own speed (scaling efficiency).
SCALING_EFFICIENCY_PAYS = 0.75

# A candidate whose global batch is this many times the critical batch buys few fewer steps.
BEYOND_CRITICAL_FACTOR = 4.0


def compute_efficiency(generation: str, precision: str, conv_share: float = 0.0) -> float:
    """The prior efficiency; time adds up per FLOP class, so the mix is a harmonic mean."""
    if precision == "fp32":
        matmul = FP32_COMPUTE_EFFICIENCY
    else:
        matmul = COMPUTE_EFFICIENCY_BY_GENERATION.get(generation, COMPUTE_EFFICIENCY_DEFAULT)
    conv = matmul * CONV_EFFICIENCY_RATIO
    return 1.0 / ((1.0 - conv_share) / matmul + conv_share / conv)
