"""torchrun command lines for the recommended candidate: one for a shell here, one for SkyPilot's `run`."""

from __future__ import annotations

import shlex

from planner.launch.settings import MASTER_PORT, Launch


def torchrun_line(launch: Launch, train_cmd: str) -> str:
    """One shell line: the settings as environment variables, then torchrun on this node; for a
    cluster, one line per node (run each on its node), rendezvous on node 0 at $MASTER_ADDR."""
    envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in launch.envs.items())
    nodes = f"--nnodes {launch.num_nodes}"
    if launch.num_nodes == 1:
        return f"{envs} torchrun {nodes} --nproc-per-node {launch.gpus_per_node} {train_cmd}"
    lines = [f"# {launch.num_nodes} nodes: run line i on node i; MASTER_ADDR is node 0's address on every node"]
    for rank in range(launch.num_nodes):
        lines.append(f"{envs} torchrun {nodes} --nproc-per-node {launch.gpus_per_node} --node-rank {rank} "
                     f'--master-addr "${{MASTER_ADDR:?set it to node 0\'s address}}" --master-port {MASTER_PORT} '
                     f"{train_cmd}")
    return "\n".join(lines)


def skypilot_run_script(train_cmd: str) -> str:
    """The `run` section: torchrun across every node SkyPilot started, rendezvous on the first node."""
    return "\n".join([
        'MASTER_ADDR=$(echo "$SKYPILOT_NODE_IPS" | head -n1)',
        "torchrun --nnodes $SKYPILOT_NUM_NODES --nproc-per-node $SKYPILOT_NUM_GPUS_PER_NODE \\",
        f"  --node-rank $SKYPILOT_NODE_RANK --master-addr $MASTER_ADDR --master-port {MASTER_PORT} \\",
        f"  {train_cmd}",
    ]) + "\n"
