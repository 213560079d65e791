"""Speed, memory and cost of the pipeline against the blog's own loop, measured side by side on this machine.

    python -m benchmarks.speed            # the full benchmark on the real data (about 20 minutes on 2 cores)
    python -m benchmarks.speed --quick    # every measurement on tiny data, in a minute or two

Writes reports/benchmark.json (or --output) and prints a markdown table. Run it from the repository
root after `dvc repro` (the full mode reads data/prepared/train.npz and the trained models).
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from fashion_mnist import paths
from fashion_mnist.backend import gpus, make_deterministic, native_bfloat16
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.export import int8_speed
from fashion_mnist.loading import load_model
from fashion_mnist.model import build_model
from fashion_mnist.training import (
    ReseedRandomLayers,
    batch_stream,
    learning_rate_schedule,
    library_versions,
)

REPOSITORY = Path(__file__).resolve().parent.parent
SEED = 42
BATCH_SIZE = 128


def machine() -> dict:
    """The CPU, its flags that matter here, the core count, the GPUs, and the library versions."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    flags = set(cpuinfo.split())
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "native_bfloat16": native_bfloat16(),
        "gpus": [name for name, _ in gpus()],
        "python": platform.python_version(),
        **library_versions(),
    }


# The vgg_bn recipe of the README's results table.
STRONG_RECIPE = {"learning_rate": 0.002, "schedule": "cosine", "weight_decay": 0.05, "augment": True, "epochs": 30}


class Variant:
    """One way of training a model, advanced one epoch at a time so that variants can take turns."""

    def __init__(
        self,
        name: str,
        *,
        policy: str,
        blog_loop: bool,
        images: np.ndarray,
        labels: np.ndarray,
        model_name: str = "blog_cnn",
        recipe: dict | None = None,
    ):
        self.name, self.blog_loop = name, blog_loop
        self.images, self.labels = images, labels
        self.recipe = recipe or {"learning_rate": 0.001, "schedule": "constant", "weight_decay": None, "augment": False}
        keras.mixed_precision.set_global_policy(policy)
        self.model = build_model(model_name)
        keras.mixed_precision.set_global_policy("float32")
        (self.x_train, self.y_train), self.validation = validation_split(images, labels, fraction=0.2, seed=SEED)
        steps_per_epoch = math.ceil(len(self.y_train) / BATCH_SIZE)
        learning_rate = learning_rate_schedule(
            self.recipe["learning_rate"],
            schedule=self.recipe["schedule"],
            steps_per_epoch=steps_per_epoch,
            epochs=self.recipe.get("epochs", 1),
        )
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, weight_decay=self.recipe["weight_decay"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        self.seconds: list[float] = []
        self.val_accuracy: list[float] = []

    def epoch(self, epoch: int) -> None:
        """Train one more epoch, timing it."""
        started = time.perf_counter()
        if self.blog_loop:
            # The blog's notebook: fit on NumPy arrays, Keras holds out the last 20% and shuffles the rest.
            history = self.model.fit(
                self.images,
                self.labels,
                batch_size=BATCH_SIZE,
                validation_split=0.2,
                initial_epoch=epoch,
                epochs=epoch + 1,
                verbose=0,
            )
        else:
            # The train stage's path: batches shuffled by (seed, epoch), a stratified validation split.
            history = self.model.fit(
                batch_stream(
                    self.x_train,
                    self.y_train,
                    batch_size=BATCH_SIZE,
                    seed=SEED,
                    first_epoch=epoch,
                    epochs=epoch + 1,
                    augment=self.recipe["augment"],
                ),
                steps_per_epoch=math.ceil(len(self.y_train) / BATCH_SIZE),
                validation_data=self.validation,
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,
                callbacks=[ReseedRandomLayers(SEED)],
                verbose=0,
            )
        self.seconds.append(time.perf_counter() - started)
        self.val_accuracy.append(float(history.history["val_accuracy"][-1]))

    def time_to(self, accuracy: float) -> float | None:
        """Seconds of training until validation accuracy first reached `accuracy`; None if it never did."""
        for epoch, reached in enumerate(self.val_accuracy):
            if reached >= accuracy:
                return round(sum(self.seconds[: epoch + 1]), 1)
        return None


def epoch_throughput(images: np.ndarray, labels: np.ndarray, epochs: int) -> list[dict]:
    """The blog's loop against the train stage's code path in float32 and in bfloat16, taking turns each epoch."""
    make_deterministic(SEED)
    data = {"images": images, "labels": labels}
    variants = [
        Variant("blog loop (fit on NumPy, float32)", policy="float32", blog_loop=True, **data),
        Variant("train stage, float32", policy="float32", blog_loop=False, **data),
        Variant("train stage, mixed_bfloat16", policy="mixed_bfloat16", blog_loop=False, **data),
    ]
    for epoch in range(epochs):
        for variant in variants:
            variant.epoch(epoch)
            print(f"  epoch {epoch + 1}: {variant.name}: {variant.seconds[-1]:.1f} s", flush=True)
    # The first epoch includes tracing and warm-up; the median of the rest is the typical speed. Other
    # work on a shared machine only ever slows an epoch down, so the fastest is the speed without it.
    blog, blog_fastest = statistics.median(variants[0].seconds[1:]), min(variants[0].seconds[1:])
    return [
        {
            "variant": variant.name,
            "seconds_per_epoch": round(statistics.median(variant.seconds[1:]), 2),
            "speedup_over_blog_loop": round(blog / statistics.median(variant.seconds[1:]), 2),
            "fastest_epoch_seconds": round(min(variant.seconds[1:]), 2),
            "fastest_speedup_over_blog_loop": round(blog_fastest / min(variant.seconds[1:]), 2),
            "epoch_seconds": [round(seconds, 2) for seconds in variant.seconds],
            "epochs_timed": len(variant.seconds) - 1,
            "seconds_to_0.92_val_accuracy": variant.time_to(0.92),
            "best_val_accuracy": round(max(variant.val_accuracy), 4),
        }
        for variant in variants
    ]


# A child's peak memory counts what it inherited at fork, and this process holds TensorFlow. So a small
# interpreter starts the command and reports the command's own peak, in kilobytes, on its last line.
_MEASURE = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def time_to_strong_accuracy(images: np.ndarray, labels: np.ndarray, target: float, max_epochs: int) -> dict:
    """Train vgg_bn with its recipe, as the train stage does, until validation accuracy reaches `target`."""
    make_deterministic(SEED)
    variant = Variant(
        "vgg_bn, train stage, auto precision",
        policy="mixed_bfloat16" if native_bfloat16() else "float32",
        blog_loop=False,
        images=images,
        labels=labels,
        model_name="vgg_bn",
        recipe=STRONG_RECIPE,
    )
    for epoch in range(max_epochs):
        variant.epoch(epoch)
        print(f"  epoch {epoch + 1}: {variant.name}: {variant.seconds[-1]:.1f} s, {variant.val_accuracy[-1]:.4f}")
        if variant.val_accuracy[-1] >= target:
            break
    return {
        "variant": variant.name,
        "target_val_accuracy": target,
        "seconds_to_target": variant.time_to(target),
        "epochs_run": len(variant.seconds),
        "seconds_per_epoch": round(statistics.median(variant.seconds[1:] or variant.seconds), 2),
        "best_val_accuracy": round(max(variant.val_accuracy), 4),
    }


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


def inference(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """Images per second in batches of 1,000, and the median latency of one image, for a `.keras` model."""
    model = load_model(model_path)
    batch = images[:1000]
    model.predict(batch, batch_size=1000, verbose=0)
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict(batch, batch_size=1000, verbose=0)
    throughput = repeats * len(batch) / (time.perf_counter() - started)
    single = images[:1]
    model(single, training=False)
    latencies = []
    for index in range(repeats * 10):
        started = time.perf_counter()
        model(images[index : index + 1], training=False)
        latencies.append(time.perf_counter() - started)
    return {
        "model": str(model_path),
        "images_per_second": round(throughput),
        "single_image_milliseconds": round(1000 * statistics.median(latencies), 2),
    }


def int8_inference(model_path: Path, images: np.ndarray, repeats: int) -> dict:
    """The same figures as `inference` for the int8 LiteRT model, run by the LiteRT interpreter."""
    speed = int8_speed(model_path, images=images, repeats=repeats * 10)
    return {
        "model": str(model_path),
        "images_per_second": speed["images_per_second"],
        "single_image_milliseconds": round(speed["single_image_ms"], 2),
    }


def markdown(report: dict) -> str:
    """The report as the README's Performance tables."""
    lines = [
        f"Measured {report['date']} on {report['machine']['cpu']}, {report['machine']['cores']} cores "
        f"(AVX512_BF16: {report['machine']['avx512_bf16']}, AMX: {report['machine']['amx_bf16']}, "
        f"GPUs: {', '.join(report['machine']['gpus']) or 'none'}), Keras {report['machine']['keras']} "
        f"on {report['machine']['backend']}, TensorFlow {report['machine']['tensorflow-cpu']}"
        f"{', quick mode on tiny data' if report['quick'] else ''}.",
        "",
        "| training loop, blog model | s per epoch (median) | speed-up over the blog's loop (median) "
        "| fastest epoch, s | speed-up (fastest epochs) | s to 0.92 val. accuracy | best val. accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["epoch_throughput"]:
        reached = row["seconds_to_0.92_val_accuracy"]
        lines.append(
            f"| {row['variant']} | {row['seconds_per_epoch']} | {row['speedup_over_blog_loop']}× "
            f"| {row['fastest_epoch_seconds']} | {row['fastest_speedup_over_blog_loop']}× "
            f"| {reached if reached is not None else 'not reached'} | {row['best_val_accuracy']} |"
        )
    strong = report["strong_model"]
    reached = strong["seconds_to_target"]
    lines += [
        "",
        f"- {strong['variant']}: {strong['seconds_per_epoch']} s per epoch; validation accuracy "
        f"{strong['target_val_accuracy']} "
        + (f"reached after {reached} s ({strong['epochs_run']} epochs)." if reached else "not reached")
        + f" (best {strong['best_val_accuracy']}).",
    ]
    costs = report["pipeline"]
    lines += ["", "| stage | wall time, s | peak memory, MB |", "|---|---|---|"]
    lines += [f"| {name} | {stage['seconds']} | {stage['peak_memory_mb']} |" for name, stage in costs["stages"].items()]
    lines += [
        "",
        f"- No-op `dvc repro`: {costs['no_op_dvc_repro_seconds']} s.",
        f"- `dvc pull` of both models into a fresh clone: {costs['dvc_pull_models_seconds']} s, against "
        f"{costs['training_seconds']} s of training: {costs['pull_speedup_over_training']}× faster.",
    ]
    lines += [
        f"- Inference with `{row['model']}`: {row['images_per_second']:,} images per second in batches of 1,000, "
        f"{row['single_image_milliseconds']} ms for one image."
        for row in report["inference"]
    ]
    return "\n".join(lines)


def main() -> None:
    """Run every measurement and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, a few epochs: checks that it all runs")
    parser.add_argument("--output", type=Path, default=paths.REPORTS_DIR / "benchmark.json")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fashion-mnist-benchmark-") as scratch:
        project = scratch_project(Path(scratch), arguments.quick)
        print("pipeline: each stage, a no-op dvc repro, dvc pull against training", flush=True)
        pipeline = pipeline_costs(project)
        images, labels = load_split(project / paths.TRAIN_DATA)
        print("epoch throughput, taking turns", flush=True)
        throughput = epoch_throughput(images, labels, epochs=3 if arguments.quick else 8)
        print("time to 0.94 validation accuracy, vgg_bn", flush=True)
        strong = time_to_strong_accuracy(images, labels, target=0.94, max_epochs=2 if arguments.quick else 30)
        print("inference", flush=True)
        test_images, _ = load_split(project / paths.TEST_DATA)
        repeats = 2 if arguments.quick else 20
        speeds = [
            inference(project / model, test_images, repeats) | {"model": str(model)}
            for model in (paths.MODEL, paths.FINAL_MODEL)
        ]
        speeds.append(
            int8_inference(project / paths.INT8_MODEL, test_images, repeats) | {"model": str(paths.INT8_MODEL)}
        )
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": arguments.quick,
        "machine": machine(),
        "epoch_throughput": throughput,
        "strong_model": strong,
        "pipeline": pipeline,
        "inference": speeds,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
