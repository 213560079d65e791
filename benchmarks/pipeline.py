"""What the pipeline costs: each stage of both pipeline files (dvc.yaml and final/dvc.yaml) timed with its
peak memory, a no-op `dvc repro --all-pipelines`, and `dvc pull` of the models against training them."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dvc.repo import Repo
from dvc.repo.reproduce import plan_repro

# The stages that train a model: their time is what `dvc pull` saves.
TRAINING_STAGES = ("train", "final-train")

# A child's peak memory counts what it inherited at fork, and this process holds TensorFlow. So a small
# interpreter starts the command and reports the command's own peak, in kilobytes, on its last line.
_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def scratch_project(root: Path, quick: bool) -> Path:
    """A copy of the project in a new git repository; quick mode points it at tiny synthetic data."""
    # The files a fresh clone holds, set up as the tests set them up.
    from tests.conftest import copy_project, make_project
    from tests.synthetic import write_dataset

    if quick:
        return make_project(root / "project", root / "mirror", write_dataset(root / "mirror", train_per_class=30))
    return copy_project(root / "project")


def pipeline_stages(project: Path) -> list[tuple[str, str, Path]]:
    """Each stage of both pipeline files in the order `dvc repro --all-pipelines` runs them: its name, its
    command with the params filled in, and the folder it runs in.

    The names are the stages' own (`final-train`, not DVC's `final/dvc.yaml:final-train`), as the reports
    have always named them; a name in both files is refused, since one stage's figures would hide the other's.
    """
    stages = []
    with Repo(str(project)) as repo:
        for stage in plan_repro(repo.index.graph):
            if stage.name in [name for name, _, _ in stages]:
                raise ValueError(f"two stages are named {stage.name!r}; the benchmark reports each stage by its name")
            command = " && ".join([stage.cmd] if isinstance(stage.cmd, str) else stage.cmd)
            stages.append((stage.name, command, Path(stage.wdir)))
    return stages


def run_timed(command: list[str], cwd: Path) -> dict:
    """Run `command`, returning its wall time and its peak memory (resident set)."""
    # This interpreter's folder first on PATH, so that the `python` of a stage's command is this one.
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], cwd=cwd, env=environment, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    exit_code, peak_kilobytes = map(int, result.stdout.split()[-2:])
    if exit_code != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{result.stderr}")
    return {"seconds": round(seconds, 2), "peak_memory_mb": round(peak_kilobytes / 1024, 1)}


def pipeline_costs(project: Path) -> dict:
    """Each stage's time and peak memory, a no-op `dvc repro --all-pipelines`, and `dvc pull` into a fresh
    clone against the training stages."""
    # Each stage's own command, as DVC would run it through the shell, without DVC's hashing around it.
    stages = {}
    for name, command, folder in pipeline_stages(project):
        print(f"  {name}: {command}", flush=True)
        stages[name] = run_timed(["sh", "-c", command], folder)
    dvc = [sys.executable, "-m", "dvc"]
    # Record what the stages wrote, as `dvc repro` would have.
    subprocess.run([*dvc, "commit", "--force", "--quiet"], cwd=project, check=True)
    if subprocess.run([*dvc, "status", "--quiet"], cwd=project).returncode != 0:
        raise RuntimeError(f"{project}: a stage is still out of date after dvc commit, so dvc repro would run it")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "benchmark run"], cwd=project, check=True)
    no_op = [run_timed([*dvc, "repro", "--all-pipelines"], project)["seconds"] for _ in range(3)]
    storage = project.parent / "storage"
    subprocess.run([*dvc, "remote", "add", "-f", "-d", "bench", str(storage)], cwd=project, check=True)
    subprocess.run([*dvc, "push", "--quiet"], cwd=project, check=True)
    clone = project.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    subprocess.run([*dvc, "remote", "add", "-f", "-d", "bench", str(storage)], cwd=clone, check=True)
    pull = run_timed([*dvc, "pull", "models/model.keras", "models/final.keras"], clone)["seconds"]
    training = sum(stages[name]["seconds"] for name in TRAINING_STAGES)
    return {
        "stages": stages,
        "no_op_dvc_repro_seconds": round(statistics.median(no_op), 2),
        "dvc_pull_models_seconds": pull,
        "training_seconds": round(training, 1),
        "pull_speedup_over_training": round(training / pull, 1),
    }
