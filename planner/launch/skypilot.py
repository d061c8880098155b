"""The recommended candidate as a SkyPilot task file (`sky launch task.yaml`, `sky jobs launch` for spot).

`resources` pins what the plan priced: `infra` (cloud/region), the instance type and
`accelerators: <GPU>:<count>`; a spot candidate adds `use_spot` and a `job_recovery` strategy so
a managed job survives preemption. `envs` carries the batch sizes and optimizer settings, and
`run` starts the user's script under torchrun with SkyPilot's node variables (SKYPILOT_NUM_NODES,
SKYPILOT_NODE_RANK, the first of SKYPILOT_NODE_IPS as the rendezvous address), and `num_nodes` is the
candidate's node count, so one file serves one node or a cluster.
"""

from __future__ import annotations

from typing import Any

from planner.launch.settings import Launch
from planner.launch.torchrun import skypilot_run_script

# Spot preemption: restart on the same cloud (then elsewhere), and retry a few user-code failures.
RECOVERY = {"strategy": "FAILOVER", "max_restarts_on_errors": 3}

# The fields batchfit writes, as a JSON schema: checked in the tests, and a reader's reference.
TASK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "resources", "num_nodes", "envs", "run"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$"},
        "num_nodes": {"type": "integer", "minimum": 1},
        "envs": {"type": "object", "additionalProperties": {"type": "string"}},
        "run": {"type": "string", "minLength": 1},
        "resources": {
            "type": "object",
            "required": ["infra", "instance_type", "accelerators", "use_spot"],
            "additionalProperties": False,
            "properties": {
                "infra": {"type": "string", "pattern": "^[a-z0-9-]+(/[a-z0-9-]+)?$"},
                "instance_type": {"type": "string"},
                "accelerators": {"type": "string", "pattern": "^[A-Za-z0-9-]+:[1-9][0-9]*$"},
                "use_spot": {"type": "boolean"},
                "job_recovery": {
                    "type": "object",
                    "required": ["strategy"],
                    "additionalProperties": False,
                    "properties": {
                        "strategy": {"enum": ["FAILOVER", "EAGER_NEXT_REGION"]},
                        "max_restarts_on_errors": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    },
}


def skypilot_task(launch: Launch, train_cmd: str, name: str) -> dict[str, Any]:
    c = launch.candidate
    infra = c.provider if c.region == "any" else f"{c.provider}/{c.region}"
    resources: dict[str, Any] = {
        "infra": infra,
        "instance_type": c.instance,
        "accelerators": f"{launch.accelerator}:{launch.gpus_per_node}",
        "use_spot": c.market == "spot",
    }
    if c.market == "spot":
        resources["job_recovery"] = dict(RECOVERY)
    return {
        "name": name,
        "resources": resources,
        "num_nodes": launch.num_nodes,
        "envs": launch.envs,
        "run": skypilot_run_script(train_cmd),
    }


def task_name(model_id: str) -> str:
    """A SkyPilot-safe task name from the model id (letters, digits, '.', '_', '-')."""
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in model_id).strip("-._")
    return f"batchfit-{cleaned}" if cleaned else "batchfit"
