"""`batchfit plan --emit skypilot FILE | --emit torchrun`: the recommendation as a launch, torch-free."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from planner.cli.main import main
from planner.launch.skypilot import TASK_SCHEMA, task_name
from tests.cli.conftest import REPORT

PLAN = ["plan", "--from-probe", str(REPORT), "--tokens", "2000000000", "--ref-batch", "64", "--ref-lr", "6e-4"]
TRAIN = "train.py --data /data/corpus"


def plan_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main([*PLAN, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def recommended(plan: dict) -> dict:
    return next(c for c in plan["candidates"] if c["id"] == plan["recommendation"]["candidate_id"])


@pytest.mark.parametrize("spot", [False, True])
def test_the_skypilot_task_launches_the_recommended_candidate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spot: bool
) -> None:
    flags = ["--spot"] if spot else ["--no-spot"]
    pick = recommended(plan_json(capsys, *flags))
    task_file = tmp_path / "task.yaml"
    assert main([*PLAN, *flags, "--emit", "skypilot", str(task_file), "--train-cmd", TRAIN]) == 0
    assert f"wrote the skypilot launch for candidate {pick['id']}" in capsys.readouterr().err
    task = yaml.safe_load(task_file.read_text(encoding="utf-8"))
    jsonschema.validate(task, TASK_SCHEMA)
    resources = task["resources"]
    region = "" if pick["region"] == "any" else f"/{pick['region']}"
    assert resources["infra"] == pick["provider"] + region
    assert resources["instance_type"] == pick["instance"]
    assert resources["accelerators"].endswith(f":{pick['gpu_count']}")
    assert resources["use_spot"] is (pick["market"] == "spot")
    assert ("job_recovery" in resources) is (pick["market"] == "spot")
    assert task["num_nodes"] == 1
    envs = task["envs"]
    assert envs["BATCHFIT_GLOBAL_BATCH"] == str(pick["global_batch"])
    assert envs["BATCHFIT_MICRO_BATCH"] == str(pick["per_gpu_batch"])
    assert envs["BATCHFIT_GRAD_ACCUM"] == str(pick["accumulation"])
    assert float(envs["BATCHFIT_LR"]) == pytest.approx(pick["lr"]["lr"], rel=1e-5)
    assert "torchrun --nnodes $SKYPILOT_NUM_NODES" in task["run"] and TRAIN in task["run"]


def test_the_task_passes_skypilots_own_schema_where_sky_is_installed(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sky = pytest.importorskip("sky")
    task_file = tmp_path / "task.yaml"
    assert main([*PLAN, "--emit", "skypilot", str(task_file), "--train-cmd", TRAIN]) == 0
    task = sky.Task.from_yaml(str(task_file))
    assert task.num_nodes == 1


def test_torchrun_prints_a_line_a_shell_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*PLAN, "--emit", "torchrun", "--train-cmd", TRAIN]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    words = shlex.split(line)
    assert words[words.index("torchrun") + 1:words.index("torchrun") + 5][:2] == ["--nnodes", "1"]
    assert line.endswith(TRAIN) and any(w.startswith("BATCHFIT_LR=") for w in words)


def test_with_json_the_torchrun_line_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*PLAN, "--json", "--emit", "torchrun", "--train-cmd", TRAIN]) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    assert "torchrun --nnodes 1" in err


@pytest.mark.parametrize(("flags", "needle"), [
    (["--emit", "skypilot", "t.yaml"], "--emit needs --train-cmd"),
    (["--emit", "skypilot", "--train-cmd", TRAIN], "--emit skypilot needs a file"),
    (["--emit", "slurm", "x", "--train-cmd", TRAIN], "KIND one of skypilot, torchrun"),
    (["--train-cmd", TRAIN], "--train-cmd is used only with --emit"),
])
def test_bad_emit_flags_are_one_line_errors(capsys: pytest.CaptureFixture[str], flags: list[str], needle: str) -> None:
    assert main([*PLAN, *flags]) == 2
    assert needle in capsys.readouterr().err


def test_nothing_to_launch_when_nothing_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task_file = tmp_path / "task.yaml"
    assert main([*PLAN, "--budget", "0.0001", "--emit", "skypilot", str(task_file), "--train-cmd", TRAIN]) == 3
    assert "nothing to --emit" in capsys.readouterr().err and not task_file.exists()


def test_emitting_keeps_the_from_probe_path_torch_free(tmp_path: Path) -> None:
    code = (
        "import sys; from planner.cli.main import main; "
        f"rc = main({PLAN + ['--emit', 'skypilot', str(tmp_path / 't.yaml'), '--train-cmd', TRAIN]!r}); "
        "assert 'torch' not in sys.modules and 'triton' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("model", "name"), [("gpt-tiny", "batchfit-gpt-tiny"), ("pkg.mod:make", "batchfit-pkg.mod-make"),
                                             ("::", "batchfit")])
def test_task_names_are_safe_for_skypilot(model: str, name: str) -> None:
    assert task_name(model) == name


BIG = ["plan", "--from-probe", str(Path(__file__).resolve().parents[1] / "models/traced/llama-70b-seq8192.json"),
       "--tokens", "1e11", "--ref-batch", "16", "--ref-lr", "3e-4", "--budget", "1000000", "--deadline", "100000",
       "--gpus", "H100-SXM-80GB", "--layouts", "fsdp", "--recompute", "full"]


def test_a_cluster_recommendation_writes_num_nodes_and_a_torchrun_per_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BIG, "--json"]) == 0
    pick = recommended(json.loads(capsys.readouterr().out))
    assert pick["nodes"] > 1
    task_file = tmp_path / "task.yaml"
    assert main([*BIG, "--emit", "skypilot", str(task_file), "--train-cmd", TRAIN]) == 0
    assert f"({pick['nodes']} nodes)" in capsys.readouterr().err
    task = yaml.safe_load(task_file.read_text(encoding="utf-8"))
    jsonschema.validate(task, TASK_SCHEMA)
    assert task["num_nodes"] == pick["nodes"] and task["resources"]["accelerators"].endswith(":8")
    assert "--node-rank $SKYPILOT_NODE_RANK" in task["run"] and "SKYPILOT_NODE_IPS" in task["run"]
    assert main([*BIG, "--emit", "torchrun", "--train-cmd", TRAIN]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " torchrun " in line]
    assert len(lines) == pick["nodes"]
    for rank, line in enumerate(lines):
        words = shlex.split(line)
        at = words.index("torchrun")
        assert words[at + 1:at + 3] == ["--nnodes", str(pick["nodes"])] and f"--node-rank {rank} " in line
        assert line.endswith(TRAIN)
