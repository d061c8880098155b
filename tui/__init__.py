"""batchfit's interactive terminal app (Textual).

The app is a thin layer over the headless packages: it gathers a PlanRequest, runs or loads a
ProbeReport, and shows the Plan that `planner.plan.build.build_plan` makes. No planning logic lives here.
"""
