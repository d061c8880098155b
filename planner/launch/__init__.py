"""A plan's recommendation as a launch: a SkyPilot task file or a torchrun line (torch-free)."""
