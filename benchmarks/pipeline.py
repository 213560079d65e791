"""What the pipeline costs: each stage's time and peak memory, a no-op `dvc repro`, and `dvc pull` against training."""

import statistics
import subprocess
import sys
import time
from pathlib import Path

# A child's peak memory counts what it inherited at fork, and this process holds TensorFlow. So a small
# interpreter starts the command and reports the command's own peak, in kilobytes, on its last line.
_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_timed(command: list[str], cwd: Path) -> dict:
    """Run `command`, returning its wall time and its peak memory (resident set)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    exit_code, peak_kilobytes = map(int, result.stdout.split()[-2:])
    if exit_code != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{result.stderr}")
    return {"seconds": round(seconds, 2), "peak_memory_mb": round(peak_kilobytes / 1024, 1)}


def pipeline_costs(project: Path) -> dict:
    """Each stage's time and peak memory, a no-op `dvc repro`, and `dvc pull` into a fresh clone against training."""
    stages = {
        name: run_timed([sys.executable, "-m", f"stages.{module}"], project)
        for name, module in [
            ("download", "download"),
            ("preprocess", "preprocess"),
            ("train", "train"),
            ("plot", "plot"),
            ("final-evaluate", "final_evaluate"),
            ("export", "export"),
        ]
    }
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "commit", "--force", "--quiet"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "benchmark run"], cwd=project, check=True)
    no_op = [run_timed([*dvc, "repro"], project)["seconds"] for _ in range(3)]
    storage = project.parent / "storage"
    subprocess.run([*dvc, "remote", "add", "-f", "-d", "bench", str(storage)], cwd=project, check=True)
    subprocess.run([*dvc, "push", "--quiet"], cwd=project, check=True)
    clone = project.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    subprocess.run([*dvc, "remote", "add", "-f", "-d", "bench", str(storage)], cwd=clone, check=True)
    pull = run_timed([*dvc, "pull", "models/model.keras", "models/final.keras"], clone)["seconds"]
    training = stages["train"]["seconds"] + stages["final-evaluate"]["seconds"]
    return {
        "stages": stages,
        "no_op_dvc_repro_seconds": round(statistics.median(no_op), 2),
        "dvc_pull_models_seconds": pull,
        "training_seconds": round(training, 1),
        "pull_speedup_over_training": round(training / pull, 1),
    }


def scratch_project(root: Path, quick: bool) -> Path:
    """A copy of the project in a new git repository; quick mode points it at tiny synthetic data."""
    # The files a fresh clone holds, as the tests copy them.
    from tests.conftest import copy_project

    project = copy_project(root / "project")
    if quick:
        from ruamel.yaml import YAML

        from tests.synthetic import write_dataset

        checksums = write_dataset(root / "mirror", train_per_class=30)
        yaml = YAML()
        sources = yaml.load((project / "data/sources.yaml").read_text())
        sources["mirrors"] = [(root / "mirror").as_uri() + "/"]
        sources["files"] = checksums
        with open(project / "data/sources.yaml", "w") as output:
            yaml.dump(sources, output)
        params = yaml.load((project / "params.yaml").read_text())
        params["train"]["epochs"] = 2
        with open(project / "params.yaml", "w") as output:
            yaml.dump(params, output)
    return project
