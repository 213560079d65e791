"""What train.cpu_isa's cap costs: the blog model's float32 step with `avx2` and with `native`, side by side.

    python -m benchmarks.cpu_isa           # writes reports/cpu_isa.json: about 3 minutes on 2 cores
    python -m benchmarks.cpu_isa --quick   # 2 steps on tiny data, to reports/quick/cpu_isa.json

oneDNN reads its cap once, when it first runs a kernel, so each timing is a process of its own: round after round,
one process per setting, each training the default params' model through the train stage's path for two passes of
STEPS batches and timing the second (the first includes tracing). Each setting keeps its fastest round. An epoch's
training steps are the default run's (48,000 images in batches of 128); its validation adds to that.
"""

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.outputs import output_path
from benchmarks.precision import seconds_per_step, stage_epoch_steps
from benchmarks.recipe import quick_data
from fashion_mnist import paths
from fashion_mnist.backend import cap_instruction_set
from fashion_mnist.dataset import load_split
from fashion_mnist.params import CPU_ISAS, load_params

STEPS = 60
ROUNDS = 3


def time_step(cpu_isa: str, steps: int, quick: bool) -> float:
    """Seconds per training step of the default params with `cpu_isa`, in this process, which has run no kernel yet."""
    cap_instruction_set(cpu_isa)
    params = load_params(["base", "model", "train"])
    images, labels = quick_data() if quick else load_split(paths.TRAIN_DATA)
    count = steps * params["train"]["batch_size"]
    seed = params["base"]["seed"]
    return seconds_per_step(images[:count], labels[:count], params, params["train"]["precision"], steps, seed)


def timed_in_new_process(cpu_isa: str, steps: int, quick: bool) -> float:
    command = [sys.executable, "-m", "benchmarks.cpu_isa", "--time", cpu_isa, "--steps", str(steps)]
    result = subprocess.run(command + (["--quick"] if quick else []), check=True, capture_output=True, text=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Time each setting in its own processes, round after round, and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, 2 steps, 1 round: checks that it all runs")
    parser.add_argument("--output", type=Path, help="default: reports/cpu_isa.json; --quick: reports/quick/")
    parser.add_argument("--time", choices=CPU_ISAS, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=STEPS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    steps, rounds = (2, 1) if arguments.quick else (arguments.steps, ROUNDS)
    if arguments.time:
        print(time_step(arguments.time, steps, arguments.quick))
        return
    timed: dict[str, list[float]] = {cpu_isa: [] for cpu_isa in CPU_ISAS}
    for round_number in range(1, rounds + 1):
        for cpu_isa in CPU_ISAS:
            timed[cpu_isa].append(timed_in_new_process(cpu_isa, steps, arguments.quick))
            print(f"round {round_number}, {cpu_isa}: {timed[cpu_isa][-1]:.4f} s a step", flush=True)
    # Other work on a shared machine only ever slows a step down: the fastest round is the speed without it.
    fastest = {cpu_isa: min(seconds) for cpu_isa, seconds in timed.items()}
    epoch_steps = stage_epoch_steps(load_params(["train"])["train"])
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "quick": arguments.quick,
        "machine": machine(),
        "steps_timed": steps,
        "rounds": rounds,
        "epoch_steps": epoch_steps,
        "settings": [
            {
                "cpu_isa": cpu_isa,
                "seconds_per_step": round(fastest[cpu_isa], 4),
                "rounds_seconds_per_step": [round(value, 4) for value in timed[cpu_isa]],
                "epoch_training_seconds": round(fastest[cpu_isa] * epoch_steps, 1),
            }
            for cpu_isa in CPU_ISAS
        ],
        "avx2_over_native": round(fastest["avx2"] / fastest["native"], 3),
    }
    path = output_path(arguments.output, paths.REPORTS_DIR / "cpu_isa.json", arguments.quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{path}: avx2 takes {report['avx2_over_native']}x native's time per step")


if __name__ == "__main__":
    main()
