"""The plan stage: a ProbeReport and a Catalog in, a Plan out. Torch-free.

Read in the order the data flows through `build.build_plan`:
`gpu_match` (which GPU the probe ran on) → `step_time` (the step-time model, moved across GPUs
by `priors`) and `memory` (the memory fit, largest batch per GPU) → `shapes` (global batch,
per-GPU batch, accumulation) → `efficiency` (steps and samples from the noise scale) and `lr`
(retuned hyper-parameters) → `candidates` (one priced Candidate per offer and shape) →
`choose` (frontier and recommendations).
"""
