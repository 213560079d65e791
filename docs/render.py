"""Render the README's and the docs pages' figures from the committed reports, so that prose and files cannot drift.

    python docs/render.py            # rewrite README.md and docs/*.md where a figure changed
    python docs/render.py --check    # exit 1 and print the difference if one is out of date

A document marks each rendered part `<!-- rendered: NAME -->` ... `<!-- end -->`; the function PARTS[NAME]
writes what goes between, from the files under reports/, dvc.lock and params.yaml, with its links written from
the repository's root and adapted to the document (adapt_links). Everything else is left as written.
reports/test_suite.json is optional (the suite's measured time, either figure may be left out):
{"date": "YYYY-MM-DD", "cores": 2, "make_test_seconds": 1234.5, "make_test_fast_seconds": 123.4}.
"""

import argparse
import csv
import difflib
import json
import math
import posixpath
import re
import statistics
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path, PurePosixPath

import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"(<!-- rendered: ([a-z0-9-]+) -->\n)(.*?)(<!-- end -->)", re.DOTALL)
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# A Markdown link's or image's target: `](target)`.
LINK = re.compile(r"(\]\()([^)\s]+)\)")

# The goals the docs measure the project against.
INT8_SIZE_GOAL = 3.5  # times smaller than models/final.keras, at least
INT8_DROP_GOAL = 0.5  # points of test accuracy lost, at most
BFLOAT16_GOAL = 2.5  # times the blog loop's epoch throughput
GPU_ACCURACY_GOAL, GPU_SECONDS_GOAL = 0.95, 30  # test accuracy within this much final retraining
CPU_ACCURACY_GOAL, CPU_SECONDS_GOAL = 0.95, 15 * 60  # the same on 2 CPU cores with native bfloat16
# How the recipe's choices are made: below this difference in validation accuracy, one seed cannot decide.
SEED_RESOLUTION_POINTS = 0.2


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when the file does not exist."""
    return json.loads(path.read_text()) if path.exists() else None


def read_csv(path: Path, delimiter: str = ",") -> list[dict]:
    """A CSV (or TSV) file's rows as dicts."""
    with path.open(newline="") as file:
        return list(csv.DictReader(file, delimiter=delimiter))


def read_epochs(folder: Path) -> dict[str, list[float]] | None:
    """DVCLive's per-epoch TSV files in `folder`: each metric's values, epoch 1 first; None before a run."""
    if not folder.is_dir():
        return None
    return {
        path.stem: [float(row[path.stem]) for row in sorted(read_csv(path, "\t"), key=lambda row: int(row["step"]))]
        for path in sorted(folder.glob("*.tsv"))
    }


def read_run(folder: Path) -> dict[str, dict | None]:
    """The reports of one full run (train, final-train, final-evaluate) copied into `folder`, by file name."""
    return {
        name: read_json(folder / name)
        for name in ("train/metrics.json", "train/timing.json", "final-train/timing.json", "final/metrics.json")
    }


def load_reports(root: Path) -> dict:
    """Every committed file the README and the docs cite, read once."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    recipes = yaml.safe_load((root / "recipes.yaml").read_text())
    float32_run = root / "reports/recipes/accurate/float32"
    jax_pin = re.search(r"^jax==(\S+)$", (root / "requirements-jax.txt").read_text(), re.MULTILINE)
    return {
        # The params that made reports/train (and, through the shared train keys, the final model).
        "params": lock["stages"]["train"]["params"]["params.yaml"],
        "final_params": yaml.safe_load((root / "params.yaml").read_text())["final"],
        "train": read_json(root / "reports/train/metrics.json"),
        "train_timing": read_json(root / "reports/train/timing.json"),
        "train_epochs": read_epochs(root / "reports/train/plots/metrics"),
        "final_train_timing": read_json(root / "reports/final-train/timing.json"),
        # The machine that made the committed run (benchmarks/machine.py, run beside it).
        "machine": read_json(root / "reports/machine.json"),
        # The epoch each rule keeps across seeds and CPUs (benchmarks/epoch_rule.py).
        "epoch_rule": read_json(root / "reports/epoch_rule.json"),
        # The blog model's step with train.cpu_isa avx2 and native, side by side (benchmarks/cpu_isa.py).
        "cpu_isa": read_json(root / "reports/cpu_isa.json"),
        "final": read_json(root / "reports/final/metrics.json"),
        "per_class": read_csv(root / "reports/final/per_class.csv"),
        "confusion": read_csv(root / "reports/final/confusion.csv"),
        "data": read_csv(root / "reports/data.csv"),
        "export": read_json(root / "reports/export/metrics.json"),
        # The final model on real phone photos (final/dvc.yaml's score-photos stage).
        "real_photos": read_json(root / "reports/photos/metrics.json"),
        "export_timing": read_json(root / "reports/export/timing.json"),
        "benchmark": read_json(root / "reports/benchmark.json"),
        "recipe": read_json(root / "reports/recipe.json"),
        "recipes": recipes,
        "optimizers": read_json(root / "reports/optimizers.json"),
        "batch_sizes": read_json(root / "reports/batch_sizes.json"),
        # Each recipe's full run, train to export, its reports copied from that run's workspace, where committed.
        "recipe_runs": {recipe: read_run(root / "reports/recipes" / recipe) for recipe in recipes},
        # The accurate recipe run again in float32, which rounds alike on every CPU, and the machine it ran on.
        "accurate_float32": read_run(float32_run) | {"machine.json": read_json(float32_run / "machine.json")},
        # The accurate recipe's checks, made with its model and on its machine.
        "accurate_flip": read_json(root / "reports/recipes/accurate/flip.json"),
        "accurate_precision": read_json(root / "reports/recipes/accurate/precision.json"),
        # Changes tried on top of the recipe, train only (benchmarks/trial.py).
        "accurate_trials": [
            {**read_json(path), "file": path.relative_to(root).as_posix()}
            for path in sorted((root / "reports/recipes/accurate/trials").glob("*.json"))
        ],
        # The recipe with wider filters, and its step timed beside the recipe's (benchmarks/width.py).
        "accurate_width": read_json(root / "reports/recipes/accurate/width.json"),
        "gpu": read_json(root / "reports/benchmark_gpu.json"),
        # The gpu recipe's run on a GPU (benchmarks/gpu.py), and an earlier one that validated in batches of 32.
        "gpu_recipe": read_json(root / "reports/recipes/gpu/gpu.json"),
        "gpu_recipe_first": read_json(root / "reports/recipes/gpu/first-run.json"),
        "jax_pin": jax_pin.group(1),
        "test_suite": read_json(root / "reports/test_suite.json"),
        "exp_show": (root / "docs/exp_show.txt").read_text(),
    }


# Formats.


def duration(seconds: float) -> str:
    """Seconds as the docs write them: 55.7 s, 4 min 23 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def in_words(items: list[str]) -> str:
    """Items as a sentence lists them: a; a and b; a, b and c."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else items[0]


def gigabytes(megabytes: float) -> str:
    """Megabytes as gigabytes, two decimals."""
    return f"{megabytes / 1000:.2f} GB"


def pair(text: str) -> str:
    """A most_confused metric, "Coat -> Shirt (59)", as prose: "Coat → Shirt (59 images)"."""
    names, count = re.fullmatch(r"(.*) \((\d+)\)", text).groups()
    return f"{names.replace(' -> ', ' → ')} ({count} images)"


def split_sizes(data: list[dict]) -> tuple[int, int]:
    """Training and test images, from reports/data.csv."""
    return sum(int(row["train"]) for row in data), sum(int(row["test"]) for row in data)


def final_epochs(reports: dict) -> int:
    """The retraining's epochs: final.epochs, or for `auto` the best epoch of train."""
    epochs = reports["final_params"]["epochs"]
    return reports["train"]["best_epoch"] if epochs == "auto" else epochs


def validated_steps_per_epoch(reports: dict, train: dict | None = None) -> int:
    """The steps of each of train's epochs, which `final.epochs: auto` repeats: its images over the batch size,
    with the committed run's train params or `train`."""
    params, (n_train, _) = train or reports["params"]["train"], split_sizes(reports["data"])
    validated = n_train - math.ceil(params["validation_split"] * n_train)  # train_test_split rounds validation up
    return math.ceil(validated / params["batch_size"])


def final_training(reports: dict) -> str:
    """The retraining's length, in the words of the results table."""
    if reports["final_params"]["epochs"] != "auto":
        return f"{final_epochs(reports)} passes"
    return f"{final_epochs(reports)} × {validated_steps_per_epoch(reports)} steps"


def gpu_preset(gpu: dict) -> dict:
    """The GPU run that validation prefers: the highest validation accuracy."""
    return max(gpu["runs"], key=lambda run: run["val_accuracy"])


def throughput(benchmark: dict) -> dict[str, dict]:
    """The benchmark's epoch-throughput rows by what they time: blog, float32, bfloat16."""
    rows = {row["variant"]: row for row in benchmark["epoch_throughput"]}
    return {
        "blog": rows["blog loop (fit on NumPy, float32)"],
        "float32": rows["train stage, float32"],
        "bfloat16": rows["train stage, mixed_bfloat16"],
    }


# The rendered parts, one function each.


def cpu_words(machine: dict) -> str:
    """A machine's CPU as the docs name it: model, widest vector instructions, cores."""
    widest = "AVX-512" if machine.get("avx512f") else "AVX2 only, no AVX-512" if machine.get("avx2") else "no AVX2"
    return f"{machine['cpu']} ({widest}), {machine['cores']} cores"


def pipeline_time(reports: dict) -> str:
    """How long `make pipeline` trains, from the timing files and the machine that made them."""
    train, final = reports["train_timing"]["train_seconds"], reports["final_train_timing"]["train_seconds"]
    metrics = reports["train"]
    machine = f"on {cpu_words(reports['machine'])}" if reports["machine"] else "on 2 CPU cores"
    text = (
        f"Most of `make pipeline` is training: {duration(train)} for `train` ({metrics['epochs']} epochs) and "
        f"{duration(final)} for `final-train` ({metrics['best_epoch']} epochs' steps) in the committed run, "
        f"{machine} (`train_seconds` in `reports/train/timing.json` and `reports/final-train/timing.json`, the "
        "machine in `reports/machine.json`); download, preprocessing, the figures and the export add little."
    )
    benchmark = reports["benchmark"]
    if benchmark and not benchmark["quick"]:
        row = next(row for row in benchmark["epoch_throughput"] if row["variant"] == "train stage, float32")
        text += (
            f" An epoch took {train / metrics['epochs']:.0f} s on average there; on the AVX-512 CPU of the "
            f"[performance](#performance) benchmark ({benchmark['machine']['cpu']}, before the cap at AVX2), the "
            f"train stage's float32 epoch took {row['seconds_per_epoch']:.1f} s (median, `reports/benchmark.json`)."
        )
    return text


def results(reports: dict) -> str:
    """The results table: the committed run, and the GPU preset."""
    train, final, params = reports["train"], reports["final"], reports["params"]
    train_timing, final_timing = reports["train_timing"], reports["final_train_timing"]
    gpu, preset = reports["gpu"], gpu_preset(reports["gpu"])
    peak = max(train_timing["peak_memory_mb"], final_timing["peak_memory_mb"])
    return "\n".join(
        [
            "| run | precision | epochs | validation accuracy | test accuracy | training time | peak memory "
            "| commands |",
            "|---|---|---|---|---|---|---|---|",
            f"| `{params['model']['name']}` ({train['parameters']:,} parameters), this repository's run on "
            f"{cpu_words(reports['machine']) if reports['machine'] else '2 CPU cores'} "
            f"| `{params['train']['precision']}` | train {train['epochs']}, best {train['best_epoch']}; "
            f"final {final_training(reports)} | {train['val_accuracy']:.4f} | **{final['test_accuracy']:.4f}** "
            f"| train {duration(train_timing['train_seconds'])}, final {duration(final_timing['train_seconds'])} "
            f"| {gigabytes(peak)} | `make pipeline` |",
            *(
                row
                for recipe in reports["recipes"]
                for row in recipe_run_row(reports, recipe, reports["recipe_runs"][recipe])
            ),
            *float32_row(reports),
            *gpu_recipe_row(reports),
            f"| {preset['run']}, on an {gpu['gpu']} (`{gpu['backend']}` backend) | `{preset['precision']}` "
            f"| train {preset['train_epochs']}, best {preset['best_epoch']}; final {preset['final_epochs']} "
            f"| {preset['val_accuracy']:.4f} | **{preset['test_accuracy']:.4f}** "
            f"| train {duration(preset['train_seconds'])}, final {duration(preset['final_train_seconds'])} "
            "| | [A GPU](#a-gpu) |",
        ]
    )


# Each recipe's section in the docs, which its row in the results table links to.
RECIPE_SECTIONS = {
    "fast": "faster-to-the-blogs-accuracy-the-fast-recipe",
    "accurate": "toward-095-within-15-minutes-the-accurate-recipe",
}


def recipe_train_params(reports: dict, name: str) -> dict:
    """The train params of recipe `name`'s run: the committed run's, with the recipe's `train.` keys set."""
    params = reports["recipes"][name]["params"]
    recipe = {key.removeprefix("train."): value for key, value in params.items() if key.startswith("train.")}
    return reports["params"]["train"] | recipe


def recipe_run_row(reports: dict, name: str, run: dict, precision: str | None = None, cores: int = 2) -> list[str]:
    """The results table's row of `run`, a full run of recipe `name` (in `precision`, if not the recipe's) on
    `cores` CPU cores, if its reports are committed."""
    train, final = run["train/metrics.json"], run["final/metrics.json"]
    if not (train and final):
        return []
    params = reports["recipes"][name]["params"]
    validated = recipe_train_params(reports, name) | ({"precision": precision} if precision else {})
    steps = validated_steps_per_epoch(reports, validated)
    peak = max(run["train/timing.json"]["peak_memory_mb"], run["final-train/timing.json"]["peak_memory_mb"])
    model = params.get("model.name", reports["params"]["model"]["name"])
    variant = f" in `{precision}`" if precision else ""
    return [
        f"| the `{name}` recipe{variant} (`{model}`, {train['parameters']:,} parameters), its run on {cores} CPU "
        "cores "
        f"| `{validated['precision']}` | train {train['epochs']}, best {train['best_epoch']}; final "
        f"{train['best_epoch']} × {steps} steps | {train['val_accuracy']:.4f} | **{final['test_accuracy']:.4f}** "
        f"| train {duration(run['train/timing.json']['train_seconds'])}, final "
        f"{duration(run['final-train/timing.json']['train_seconds'])} | {gigabytes(peak)} "
        f"| [the `{name}` recipe](#{RECIPE_SECTIONS[name]}) |"
    ]


def blog_curves(reports: dict) -> str:
    """What the learning curves show, from train's per-epoch files, and what the final stages made of it."""
    train, final, epochs = reports["train"], reports["final"], reports["train_epochs"]
    params = reports["params"]["train"]
    n_train, _ = split_sizes(reports["data"])
    lowest_loss = "the lowest validation loss" if params["monitor"] == "val_loss" else "the highest validation accuracy"
    if params["early_stopping_patience"] and train["epochs"] < params["epochs"]:
        lines = [
            f"With the default params the train stage runs at most the blog's {params['epochs']} epochs, and stops "
            f"{params['early_stopping_patience']} epochs after {lowest_loss}: here after {train['epochs']}."
        ]
    else:
        lines = [f"With the default params the train stage runs {train['epochs']} epochs."]
    if epochs:
        later = epochs["val_accuracy"][4:]
        losses = epochs["val_loss"]
        lowest = losses.index(min(losses))
        lines.append(
            f"Validation accuracy is {epochs['val_accuracy'][4]:.3f} at epoch 5 and stays between {min(later):.3f} "
            f"and {max(later):.3f} after it, while the training accuracy climbs to {epochs['accuracy'][-1]:.3f} and "
            f"the validation loss rises from {losses[lowest]:.3f} at epoch {lowest + 1} to {losses[-1]:.3f} at "
            f"epoch {len(losses)}: the model overfits, as the notebook showed."
        )
    if reports["final_params"]["epochs"] == "auto":
        steps = train["best_epoch"] * validated_steps_per_epoch(reports)
        retraining = (
            f"for the {steps:,} steps of train's first {train['best_epoch']} epochs (`final.epochs: auto`), "
            f"{steps * params['batch_size'] / n_train:.1f} passes over them, rather than {params['epochs']} epochs"
        )
    else:
        retraining = f"for {final_epochs(reports)} epochs (`final.epochs`)"
    lines.append(
        f"The train stage keeps the weights of the epoch with {lowest_loss} (`train.monitor: {params['monitor']}`; "
        f"epoch {train['best_epoch']} here, validation loss {train['val_loss']:.3f}, accuracy "
        f"{train['val_accuracy']:.4f}) in `models/model.keras`; `final-train` retrains on all {n_train:,} training "
        f"images {retraining}, and `final-evaluate` scores that model once: test accuracy "
        f"{final['test_accuracy']:.4f}, test loss {final['test_loss']:.3f}."
    )
    return "\n".join(lines)


def epoch_rule(reports: dict) -> str:
    """The epoch each rule keeps on each run's curves, and each rule's spread, from reports/epoch_rule.json."""
    report = reports["epoch_rule"]
    if not report:
        return ""
    rules = report["rules"]
    rows = [
        "| run | epochs run | " + " | ".join(rules) + " |",
        "|---|---|" + "---|" * len(rules),
        *(
            f"| {run['label']} | {run['epochs_run']} | "
            + " | ".join(
                f"{run['kept'][rule]} ({run['val_loss'][run['kept'][rule] - 1]:.3f}, "
                f"{run['val_accuracy'][run['kept'][rule] - 1]:.4f})"
                for rule in rules
            )
            + " |"
            for run in report["runs"]
        ),
        "| spread of the epochs kept | | " + " | ".join(f"{report['spread'][rule]}" for rule in rules) + " |",
    ]
    return "\n".join(rows)


def cpu_isa_cost(reports: dict) -> str:
    """The blog model's step under each train.cpu_isa, side by side, from reports/cpu_isa.json."""
    report = reports["cpu_isa"]
    if not report:
        return ""
    settings = {row["cpu_isa"]: row for row in report["settings"]}
    text = (
        f"Measured {report['date']} on {cpu_words(report['machine'])}, the fastest of {report['rounds']} rounds of "
        f"{report['steps_timed']} steps each: `avx2` {settings['avx2']['seconds_per_step']:.3f} s a step "
        f"({settings['avx2']['epoch_training_seconds']:.0f} s for an epoch's {report['epoch_steps']} steps), "
        f"`native` {settings['native']['seconds_per_step']:.3f} s "
        f"({settings['native']['epoch_training_seconds']:.0f} s): the cap takes "
        f"{report['avx2_over_native']:.2f}× native's time."
    )
    if not report["machine"].get("avx512f"):
        text += (
            " This CPU has no AVX-512, so both settings run the same kernels and the ratio only shows the noise; "
            "what the cap costs where AVX-512 exists is measured by the same command on such a CPU."
        )
    return text


def hardest_class(reports: dict) -> str:
    """The class with the lowest F1 on the test set, and what it is taken for."""
    hardest = min(reports["per_class"], key=lambda row: float(row["f1"]))
    name = hardest["class"]
    taken_for = Counter(
        row["predicted"] for row in reports["confusion"] if row["actual"] == name and row["predicted"] != name
    )
    top = [f"{predicted} ({count})" for predicted, count in taken_for.most_common(3)]
    return (
        f"The hardest class is {name} (F1 {float(hardest['f1']):.3f}, the lowest): its test images are most often "
        f"taken for {', '.join(top[:-1])} and {top[-1]}."
    )


def real_photos(reports: dict) -> str:
    """The final model on real phone photos: garments and shoes, each class and each kind, right and refused."""
    scores = reports["real_photos"]
    if scores is None:
        return ""

    def row(name: str, share: dict) -> str:
        return f"| {name} | {share['photos']} | {share['accuracy']:.1%} | {share['refused']:.1%} |"

    lines = ["| photos | how many | right | refused |", "|---|---|---|---|"]
    lines += [row(f"**{group}**", scores[group]) for group in ("garments", "shoes")]
    lines += [row(name, share) for name, share in scores["per_class"].items()]
    lines += [row(f"laid {kind}" if kind == "flat" else kind, share) for kind, share in scores["per_kind"].items()]
    garments = scores["garments"]
    return "\n".join(lines) + (
        f"\n\nOn the garments the model is right {garments['accuracy']:.1%} of the time and refuses "
        f"{garments['refused']:.1%} (the goal: 70% right, under 10% refused)."
    )


def most_confused(reports: dict) -> str:
    """The three most frequent mistakes, and their share of all mistakes."""
    final = reports["final"]
    _, n_test = split_sizes(reports["data"])
    pairs = [final[f"most_confused_{rank}"] for rank in (1, 2, 3)]
    counts = sum(int(re.search(r"\((\d+)\)$", text).group(1)) for text in pairs)
    mistakes = round((1 - final["test_accuracy"]) * n_test)
    return (
        f"For the committed model they are {pair(pairs[0])}, {pair(pairs[1])} and {pair(pairs[2])}: together "
        f"{counts} of its {mistakes:,} mistakes on the {n_test:,} test images."
    )


def vgg_bn_benchmark(reports: dict) -> str:
    """How fast the benchmark's run of the vgg_bn recipe reached its target."""
    strong, date = reports["benchmark"]["strong_model"], reports["benchmark"]["date"]
    reached = (
        f"reached {strong['target_val_accuracy']} after {duration(strong['seconds_to_target'])} "
        f"({strong['epochs_run']} epochs, {strong['seconds_per_epoch']} s each)"
        if strong["seconds_to_target"] is not None
        else f"did not reach {strong['target_val_accuracy']} in {strong['epochs_run']} epochs"
    )
    return (
        f"On 2 CPU cores, the benchmark's run of this recipe ({strong['variant']}, {date}, "
        f"[`reports/benchmark.json`](reports/benchmark.json)) {reached}; its best validation accuracy was "
        f"{strong['best_val_accuracy']}."
    )


def fast_recipe(reports: dict) -> str:
    """The time to the blog's accuracy of the three trainings, and the ladder of tricks, from reports/recipe.json."""
    recipe = reports["recipe"]
    target, cpu = recipe["target_val_accuracy"], recipe["machine"]["cpu"]
    key = f"seconds_to_{target}"

    def reached(run: dict) -> str:
        if run[key] is None:
            return f"not reached in {run['epochs_run']} epochs"
        epoch = next(number for number, accuracy in enumerate(run["epoch_val_accuracy"], 1) if accuracy >= target)
        return f"{duration(run[key])} (epoch {epoch})"

    blog, default, fast = recipe["time_to_accuracy"]
    if blog[key] is not None:
        against_blog = f"**{blog[key] / fast[key]:.1f}× sooner** than the blog's loop"
    else:
        # The blog's loop ran to its cap without getting there: the ratio is at least that of the cap.
        against_blog = (
            f"**at least {blog['elapsed_seconds'][-1] / fast[key]:.0f}× sooner** than the blog's loop, which had "
            f"not got there after {blog['epochs_run']} epochs ({duration(blog['elapsed_seconds'][-1])}; best "
            f"{blog['best_val_accuracy']:.4f})"
        )
    lines = [
        f"Time to {target} validation accuracy, in one run of `python -m benchmarks.recipe` on "
        f"{recipe['machine']['cores']} cores of an {cpu} ({recipe['date']}, "
        f"[`reports/recipe.json`](reports/recipe.json)), all three validating on the train stage's 20%: the blog's "
        f"loop {reached(blog)}, the blog model in the train stage with the default params {reached(default)}, the "
        f"`fast` recipe {reached(fast)}. The recipe gets there {against_blog}, and "
        f"{default[key] / fast[key]:.1f}× sooner than the train stage's default.",
        "",
        f"| step (each adds to the one above) | best validation accuracy | time to {target} | training time |",
        "|---|---|---|---|",
    ]
    for run in recipe["ladder"]:
        lines.append(
            f"| {run['variant']} | {run['best_val_accuracy']:.4f} | {reached(run)} "
            f"| {duration(run['elapsed_seconds'][-1])} |"
        )
    if recipe.get("seed_comparison"):
        compared = [
            f"{row['variant'].removeprefix('+ ')}: {', '.join(f'{value:.4f}' for value in row['best_val_accuracy'])} "
            f"(mean {row['mean']:.4f}, spread {row['spread'] * 100:.2f} points)"
            for row in recipe["seed_comparison"]
        ]
        seeds = ", ".join(str(seed) for seed in recipe["seed_comparison"][0]["seeds"])
        lines += ["", f"The last two steps over the seeds {seeds}, best validation accuracy: {'; '.join(compared)}."]
        before, after = (row["best_val_accuracy"] for row in recipe["seed_comparison"])
        wins = sum(later > earlier for earlier, later in zip(before, after, strict=True))
        lines[-1] += (
            f" The moving average scores higher with {wins} of the {len(before)} seeds, by "
            f"{(sum(after) - sum(before)) / len(before) * 100:.2f} points on average."
        )
    return "\n".join(lines)


def flip_averaging(reports: dict) -> str:
    """The fast recipe with flip test-time augmentation against without, seed for seed, from reports/recipe.json."""
    compared = reports["recipe"]["flip_comparison"]
    without, with_flip = compared["without_flip"], compared["with_flip"]

    def listed(values: list[float]) -> str:
        return ", ".join(f"{value:.4f}" for value in values)

    source = "(`python -m benchmarks.recipe --flip`, [`reports/recipe.json`](reports/recipe.json))"
    change = (compared["mean_with_flip"] - compared["mean_without_flip"]) * 100
    if len(without) == 1:
        return (
            f"The `fast` recipe's best validation accuracy with seed {compared['seeds'][0]} {source}: "
            f"{without[0]:.4f} without flip averaging, {with_flip[0]:.4f} with it, {abs(change):.2f} points "
            f"{'higher' if change > 0 else 'lower'}."
        )
    wins = sum(later > earlier for earlier, later in zip(without, with_flip, strict=True))
    return (
        f"The `fast` recipe's best validation accuracy over the seeds {', '.join(map(str, compared['seeds']))} "
        f"{source}: without flip averaging {listed(without)} (mean {compared['mean_without_flip']:.4f}); with it "
        f"{listed(with_flip)} (mean {compared['mean_with_flip']:.4f}, spread {compared['spread_with_flip'] * 100:.2f} "
        f"points). Averaging scores higher with {wins} of the {len(without)} seeds, by {change:.2f} points on average."
    )


def left_out(difference: float, decision: str = "leaves it out") -> str:
    """Why the recipe makes `decision` about a change that validated `difference` points from it, with one seed."""
    if abs(difference) < SEED_RESOLUTION_POINTS:
        return (
            f"That is less than {SEED_RESOLUTION_POINTS} points, which one seed cannot tell apart, so the recipe "
            f"{decision} until three seeds decide."
        )
    return f"The recipe {decision}."


def accurate_width(report: dict | None) -> list[str]:
    """The recipe with wider filters against its own: validation accuracy, the step's cost and final-train's."""
    if not report:
        return []
    run, base, machine = report["wider_run"], report["recipe_run"], report["machine"]
    estimated = report["wider_final_train_seconds_estimated"]
    return [
        "Wider layers, which the minutes that `final-train` leaves could pay for (`python -m benchmarks.width "
        f"{report['recipe']}`, [`width.json`](reports/recipes/{report['recipe']}/width.json), on "
        f"{machine['cores']} cores of an {machine['cpu']}, {report['date']}): `vgg_fast` with "
        f"{'/'.join(map(str, report['filters']['wider']))} filters instead of "
        f"{'/'.join(map(str, report['filters']['recipe']))} ({run['parameters']:,} parameters against "
        f"{base['parameters']:,}) reached a best validation accuracy of {run['best_val_accuracy']:.4f} at epoch "
        f"{run['best_epoch']} of {len(run['epoch_val_accuracy'])}, against the recipe's {base['val_accuracy']:.4f} at "
        f"epoch {base['best_epoch']}, {report['difference_points']:+.2f} points. Its training step takes "
        f"{report['step_ratio']:.2f}× the recipe's (each timed beside the other, the fastest of {report['rounds']} "
        f"rounds), so `final-train` would take about {duration(estimated)}, "
        f"{'within' if estimated <= CPU_SECONDS_GOAL else 'over'} the goal's {duration(CPU_SECONDS_GOAL)}. "
        + (
            "The wider layers validate higher by more than one seed can tell apart: the recipe's next full run "
            "should try them."
            if report["difference_points"] >= SEED_RESOLUTION_POINTS
            else left_out(report["difference_points"], "keeps its filters")
        ),
        "",
    ]


def accurate_standing(reports: dict, recipe_accuracy: float, test: float) -> list[str]:
    """What the changes tried on the recipe add up to, against the validation accuracy that the CPU goal needs."""
    tried = [(trial["difference_points"], trial["run"]["best_val_accuracy"]) for trial in reports["accurate_trials"]]
    width = reports["accurate_width"]
    if width:
        tried.append((width["difference_points"], width["wider_run"]["best_val_accuracy"]))
    if not tried:
        return []
    differences = [difference for difference, _ in tried]
    higher = sum(difference > 0 for difference in differences)
    best = max(accuracy for _, accuracy in tried)
    gap = recipe_accuracy - test
    needed = CPU_ACCURACY_GOAL + gap
    return [
        f"The {len(tried)} changes tried above validated from {min(differences):+.2f} to {max(differences):+.2f} "
        f"points against the recipe's {recipe_accuracy:.4f}, {higher or 'none'} of them higher. "
        f"At the recipe's gap between validation and test, {gap * 100:.2f} points, the goal's {CPU_ACCURACY_GOAL} "
        f"on the test set would need a validation accuracy near {needed:.4f}, {(needed - best) * 100:.2f} points "
        f"above the best of them ({best:.4f}).",
        "",
    ]


def accurate_trial(trial: dict, recipe: dict, recipe_machine: dict) -> str:
    """One change tried on the recipe's train stage, against the recipe's run, and what the recipe did with it."""
    change = trial["change"]
    run, base, machine = trial["run"], trial["recipe_run"], trial["machine"]
    same_machine = trial.get("baseline")
    # The comparison that decides: with the recipe alone on the same machine, where the trial has one.
    difference = trial["baseline_difference_points"] if same_machine else trial["difference_points"]
    settings = " ".join(f"{key}={value}" for key, value in change.items())
    # Several settings are one argument of the command.
    flags = f'"{settings}"' if len(change) > 1 else settings
    included = all(recipe.get(key) == value for key, value in change.items())
    decision = "The recipe includes it." if included else left_out(difference)
    if machine["cpu"] != recipe_machine["cpu"] and not same_machine:
        decision += (
            f" The recipe's run was made on an {recipe_machine['cpu']}; in bfloat16 two CPUs need not round alike, "
            "so part of the difference may be the machine's."
        )
    return (
        f"{in_words([f'`{key}: {value}`' for key, value in change.items()])} tried "
        f"{'together ' if len(change) > 1 else ''}on top of the recipe, train only (`python -m benchmarks.trial "
        f"accurate {flags}`, [`{Path(trial['file']).name}`]({trial['file']}), on {machine['cores']} cores of an "
        f"{machine['cpu']}, {trial['date']}): best validation accuracy {run['best_val_accuracy']:.4f} at epoch "
        f"{run['best_epoch']} of {run['epochs_run']}, against the recipe's {base['val_accuracy']:.4f} at epoch "
        f"{base['best_epoch']}, {trial['difference_points']:+.2f} points"
        + (
            f"; the recipe alone on the same machine (`{same_machine['experiment']}`) reached "
            f"{same_machine['best_val_accuracy']:.4f} at epoch {same_machine['best_epoch']}, so the change is "
            f"{difference:+.2f} points there"
            if same_machine
            else ""
        )
        + f". {decision}"
    )


def accurate_recipe(reports: dict) -> str:
    """The accurate recipe's full run against the CPU goal, its flip check and its steps in both precisions."""
    run, flip, timed = reports["recipe_runs"]["accurate"], reports["accurate_flip"], reports["accurate_precision"]
    train, final = run["train/metrics.json"], run["final/metrics.json"]
    if not (train and final and flip and timed):
        return "No committed run of the `accurate` recipe yet."
    params = reports["recipes"]["accurate"]["params"]
    final_seconds = run["final-train/timing.json"]["train_seconds"]
    test = final["test_accuracy"]
    steps = validated_steps_per_epoch(reports, recipe_train_params(reports, "accurate"))
    machine = timed["machine"]
    gap = (test - CPU_ACCURACY_GOAL) * 100
    validated_steps = train["best_epoch"] * steps
    per_step = {(row["model"], row["precision"]): row["seconds_per_step"] for row in timed["steps"]}
    fast, reference = (
        {precision: per_step[model, precision] for precision in ("float32", "mixed_bfloat16")}
        for model in (params["model.name"], "vgg_bn")
    )
    lines = [
        f"The recipe's full run, in a fresh clone on {machine['cores']} cores of an {machine['cpu']} with native "
        f"bfloat16 (`reports/recipes/accurate/`): train ran {train['epochs']} epochs in "
        f"{duration(run['train/timing.json']['train_seconds'])} and kept epoch {train['best_epoch']} (validation "
        f"accuracy {train['val_accuracy']:.4f}); `final-train` repeated its {validated_steps:,} steps on "
        f"all the training images in **{duration(final_seconds)}**, "
        f"{'within' if final_seconds <= CPU_SECONDS_GOAL else 'over'} the goal of {duration(CPU_SECONDS_GOAL)}; "
        f"`final-evaluate` scored the test set once: **{test:.4f}**, "
        + (
            f"{gap:.2f} points above the goal of {CPU_ACCURACY_GOAL}."
            if gap >= 0
            else f"{-gap:.2f} points short of the goal of {CPU_ACCURACY_GOAL}."
        )
        + f" The kept epoch's validation accuracy is {(train['val_accuracy'] - test) * 100:.2f} points above the "
        "test score.",
        "",
        f"Flip averaging, on the kept weights and the same {flip['validation_images']:,} validation images "
        "(`python -m benchmarks.flip_check`, [`flip.json`](reports/recipes/accurate/flip.json)): validation accuracy "
        f"{flip['val_accuracy_flip_averaged']:.4f} with it, {flip['val_accuracy_without_averaging']:.4f} without, "
        f"{(flip['val_accuracy_flip_averaged'] - flip['val_accuracy_without_averaging']) * 100:+.2f} points. "
        "(Validation with averaging chose the epoch, which favours the first figure a little.)",
        "",
        *(line for trial in reports["accurate_trials"] for line in (accurate_trial(trial, params, machine), "")),
        *accurate_width(reports["accurate_width"]),
        *accurate_standing(reports, train["val_accuracy"], test),
        f"One training step of {timed['batch_size']} images, each model and precision timed one after the other on "
        f"the same machine, the fastest of {timed['rounds']} rounds (`python -m benchmarks.precision accurate`, "
        f"[`precision.json`](reports/recipes/accurate/precision.json), {timed['date']}), and what `final-train`'s "
        f"{validated_steps:,} steps would take at that speed:",
        "",
        f"| model | precision | seconds per step | `final-train`'s {validated_steps:,} steps |",
        "|---|---|---|---|",
        *(
            f"| `{row['model']}` | `{row['precision']}` | {row['seconds_per_step']:.3f} "
            f"| {duration(row['seconds_per_step'] * validated_steps)} |"
            for row in timed["steps"]
        ),
        "",
        f"In bfloat16 a `{params['model.name']}` step takes {fast['mixed_bfloat16'] / reference['mixed_bfloat16']:.0%} "
        "of a `vgg_bn` step. In float32, which gives the same bits on every CPU and is what a CPU without native "
        f"bfloat16 should run ([below](#faster-epochs-bfloat16)), `final-train` would take about "
        f"{duration(fast['float32'] * validated_steps)} at this machine's float32 speed.",
        "",
        accurate_float32(reports),
    ]
    return "\n".join(lines)


def committed_float32_run(reports: dict) -> dict | None:
    """The accurate recipe's float32 run, if every report the docs cite from it is committed."""
    run = reports["accurate_float32"]
    return run if all(run.values()) else None


def float32_row(reports: dict) -> list[str]:
    """The results table's row of the accurate recipe's float32 run, if committed."""
    run = committed_float32_run(reports)
    return recipe_run_row(reports, "accurate", run, "float32", run["machine.json"]["cores"]) if run else []


def accurate_float32(reports: dict) -> str:
    """The accurate recipe's full run in float32, against its bfloat16 run."""
    run = committed_float32_run(reports)
    if not run:
        return "No float32 run of the recipe is committed, so its accuracy in float32 is not measured."
    train, final, machine = run["train/metrics.json"], run["final/metrics.json"], run["machine.json"]
    bfloat16_run = reports["recipe_runs"]["accurate"]
    difference = (final["test_accuracy"] - bfloat16_run["final/metrics.json"]["test_accuracy"]) * 100
    ended = run["train/timing.json"]["epoch_seconds"]
    epochs = [later - earlier for earlier, later in pairwise([0.0, *ended])]
    return (
        "The recipe in float32: `dvc exp run -n accurate-float32 $(fashion-mnist recipe accurate) "
        "-S train.precision=float32`, then `dvc repro final/dvc.yaml`, its reports copied to "
        "`reports/recipes/accurate/float32/` with a description of the machine "
        "(`python -m benchmarks.machine --output reports/recipes/accurate/float32/machine.json`). On "
        f"{machine['cores']} cores of an {machine['cpu']}, {machine['date']}: train ran {train['epochs']} epochs in "
        f"{duration(run['train/timing.json']['train_seconds'])} (an epoch took {min(epochs):.0f} to "
        f"{max(epochs):.0f} s, {statistics.median(epochs):.0f} s the median: a shared machine's readings) and kept "
        f"epoch {train['best_epoch']} (validation "
        f"accuracy {train['val_accuracy']:.4f}); `final-train` took **"
        f"{duration(run['final-train/timing.json']['train_seconds'])}** against the bfloat16 run's "
        f"{duration(bfloat16_run['final-train/timing.json']['train_seconds'])}; test accuracy "
        f"**{final['test_accuracy']:.4f}**, {difference:+.2f} points against the bfloat16 run's. Float32 rounds "
        "alike on every CPU, so these accuracies are what a CPU without native bfloat16 gets; the times are each "
        "machine's."
    )


def optimizers(reports: dict) -> str:
    """Where each optimizer stood after its epochs, from reports/optimizers.json."""
    report = reports["optimizers"]
    runs = [
        f"{run['name']} {run['val_accuracy'][-1]:.4f} (training loss {run['loss'][-1]:.3f})" for run in report["runs"]
    ]
    return (
        f"After {report['runs'][0]['epochs']} epochs ({report['date']}, "
        f"[`reports/optimizers.json`](reports/optimizers.json)), validation accuracy is " + ", ".join(runs) + "."
    )


def lowest_loss_epoch(run: dict) -> int:
    """The epoch of a sweep run's lowest validation loss, counted from 1."""
    return run["epoch_val_loss"].index(min(run["epoch_val_loss"])) + 1


def batch_sizes(reports: dict) -> str:
    """The batch-size sweep, from reports/batch_sizes.json: each size's best epoch, and where 128 and 40 stand."""
    report, blog_epochs = reports["batch_sizes"], reports["params"]["train"]["epochs"]
    runs, machine, base = report["runs"], report["machine"], report["base_batch_size"]
    lines = [
        f"One run of `python -m benchmarks.batch_sizes` on {machine['cores']} cores of an {machine['cpu']} "
        f"({report['date']}, [`reports/batch_sizes.json`](reports/batch_sizes.json)): the blog model for "
        f"{report['epochs']} epochs in {runs[0]['precision']}, seed {report['seed']}, each batch size at the learning "
        f"rate {report['base_learning_rate']} × √(batch size / {base}).",
        "",
        "| batch size | learning rate | best validation accuracy (epoch) | seconds to the best epoch "
        "| seconds per epoch (median) | validation loss: lowest (epoch), last |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        best = run["best_epoch"]
        per_epoch = statistics.median(later - earlier for earlier, later in pairwise([0.0, *run["epoch_seconds"]]))
        losses = run["epoch_val_loss"]
        lines.append(
            f"| {run['batch_size']} | {run['learning_rate']:g} | {run['best_val_accuracy']:.4f} ({best}) "
            f"| {duration(run['epoch_seconds'][best - 1])} | {per_epoch:.1f} s "
            f"| {min(losses):.3f} ({lowest_loss_epoch(run)}), {losses[-1]:.3f} |"
        )
    ranked = sorted(runs, key=lambda run: run["best_val_accuracy"], reverse=True)
    blog = next(run for run in runs if run["batch_size"] == base)
    soonest = min(runs, key=lambda run: run["epoch_seconds"][run["best_epoch"] - 1])
    spread = ranked[0]["best_val_accuracy"] - ranked[-1]["best_val_accuracy"]
    lines += [
        "",
        f"Batch {base}, the blog's, ranks {ranked.index(blog) + 1} of {len(runs)} by best validation accuracy; batch "
        f"{ranked[0]['batch_size']} is highest ({ranked[0]['best_val_accuracy']:.4f} at epoch "
        f"{ranked[0]['best_epoch']}), and all {len(runs)} lie within {spread * 100:.2f} points, one seed each. "
        f"At every size the validation loss is lowest by epoch {max(lowest_loss_epoch(run) for run in runs)} and "
        f"climbs after it, while the best validation accuracy, on a noisy plateau, comes anywhere from epoch "
        f"{min(run['best_epoch'] for run in runs)} to {max(run['best_epoch'] for run in runs)} of {report['epochs']}. "
        f"At batch {base} the validation loss goes from {min(blog['epoch_val_loss']):.3f} at epoch "
        f"{lowest_loss_epoch(blog)} to {blog['epoch_val_loss'][-1]:.3f} at epoch {len(blog['epoch_val_loss'])}, "
        f"and in the committed run's {blog_epochs} epochs (float32) to {reports['train_epochs']['val_loss'][-1]:.3f}. "
        f"Batch {soonest['batch_size']} reaches its best "
        f"soonest, after {duration(soonest['epoch_seconds'][soonest['best_epoch'] - 1])}.",
    ]
    return "\n".join(lines)


def bfloat16(reports: dict) -> str:
    """bfloat16 against float32 in the benchmark, epoch for epoch."""
    rows, machine = throughput(reports["benchmark"]), reports["benchmark"]["machine"]
    f32, bf16 = rows["float32"], rows["bfloat16"]
    native = "with" if machine["avx512_bf16"] else "without"
    return (
        f"On the benchmark's {machine['cpu']} ({machine['cores']} cores, {native} AVX512_BF16) the train stage's "
        f"fastest epoch took {bf16['fastest_epoch_seconds']} s in mixed bfloat16 against "
        f"{f32['fastest_epoch_seconds']} s in float32, "
        f"{f32['fastest_epoch_seconds'] / bf16['fastest_epoch_seconds']:.2f} times faster; the best validation "
        f"accuracy after {len(bf16['epoch_seconds'])} epochs was {bf16['best_val_accuracy']} against "
        f"{f32['best_val_accuracy']} ([Performance](#performance))."
    )


def export(reports: dict) -> str:
    """The float and int8 models side by side, and the goal."""
    metrics, timing, params = reports["export"], reports["export_timing"], reports["params"]
    met = metrics["size_ratio"] >= INT8_SIZE_GOAL and metrics["accuracy_drop_points"] <= INT8_DROP_GOAL
    drop = metrics["accuracy_drop_points"]
    change = f"{drop} points lost" if drop >= 0 else f"{-drop} points gained"
    return "\n".join(
        [
            "| model | size, bytes | test accuracy | top-1 agreement | one image, ms (median) "
            "| images per second, batches of 1,000 |",
            "|---|---|---|---|---|---|",
            f"| `{params['model']['name']}`, `models/final.keras` | {metrics['float_bytes']:,} "
            f"| {metrics['float_test_accuracy']:.4f} | | {timing['float_single_image_ms']} "
            f"| {timing['float_images_per_second']:,} |",
            f"| `{params['model']['name']}`, `models/final_int8.tflite` | {metrics['int8_bytes']:,} "
            f"(**{metrics['size_ratio']}× smaller**) | {metrics['int8_test_accuracy']:.4f} "
            f"(**{change}**) | {metrics['top1_agreement']:.2%} "
            f"| {timing['int8_single_image_ms']} | {timing['int8_images_per_second']:,} |",
            "",
            f"The model {'meets' if met else 'misses'} the goal. One image through Keras takes "
            f"{timing['float_single_image_ms']} ms, mostly the cost of a call into TensorFlow; the interpreter takes "
            f"{timing['int8_single_image_ms'] * 1000:.0f} µs.",
        ]
    )


def performance(reports: dict) -> str:
    """The benchmark's tables and what they say against the goals."""
    benchmark = reports["benchmark"]
    machine, rows, costs = benchmark["machine"], throughput(benchmark), benchmark["pipeline"]
    stages = costs["stages"]
    yes = {True: "yes", False: "no"}
    lines = [
        f"Measured {benchmark['date']} on {machine['cpu']}, {machine['cores']} cores (AVX512_BF16: "
        f"{yes[machine['avx512_bf16']]}, AMX: {yes[machine['amx_bf16']]}, GPUs: {', '.join(machine['gpus']) or 'none'}"
        f"), Keras {machine['keras']} on TensorFlow {machine['tensorflow-cpu']}, on the real data. The three loops "
        f"take turns, one epoch each, {len(rows['blog']['epoch_seconds'])} epochs; the first epoch, which includes "
        "tracing, is left out.",
        "",
        "| training loop, blog model | s per epoch (median) | speed-up over the blog's loop (median) "
        "| fastest epoch, s | speed-up (fastest epochs) | s to 0.92 val. accuracy | best val. accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in benchmark["epoch_throughput"]:
        reached = row["seconds_to_0.92_val_accuracy"]
        lines.append(
            f"| {row['variant']} | {row['seconds_per_epoch']} | {row['speedup_over_blog_loop']}× "
            f"| {row['fastest_epoch_seconds']} | {row['fastest_speedup_over_blog_loop']}× "
            f"| {'not reached' if reached is None else reached} | {row['best_val_accuracy']} |"
        )
    bf16, f32 = rows["bfloat16"], rows["float32"]
    speedup = bf16["fastest_speedup_over_blog_loop"]
    short = f", short of the {BFLOAT16_GOAL}× aimed at" if speedup < BFLOAT16_GOAL else ""
    lines += [
        "",
        "This shared machine now and then runs an epoch at half speed, whichever loop it falls on, so the medians "
        "swing with that luck; the fastest epoch is the speed without the interference, and the speed-ups that count "
        f"are those: **{speedup}× for bfloat16**{short}, and {f32['fastest_speedup_over_blog_loop']}× for the "
        "float32 path against the blog's loop.",
        "",
        "| stage | wall time, s | peak memory, MB |",
        "|---|---|---|",
        *(f"| {name} | {stage['seconds']} | {stage['peak_memory_mb']:.0f} |" for name, stage in stages.items()),
    ]
    if "final-train" not in stages:
        lines += ["", "(A run from before `final-train` was its own stage: the `final-evaluate` row includes it.)"]
    lines += [
        "",
        f"- No-op `dvc repro`: {costs['no_op_dvc_repro_seconds']} s.",
        f"- `dvc pull` of both models into a fresh clone: {costs['dvc_pull_models_seconds']} s, against "
        f"{costs['training_seconds']} s of training: {costs['pull_speedup_over_training']:.0f}× faster.",
        "",
        f"Against the goals: the train stage's peak memory ({stages['train']['peak_memory_mb']:.0f} MB) is "
        f"{'under' if stages['train']['peak_memory_mb'] < 1000 else 'over'} 1 GB, a no-op `dvc repro` takes "
        f"{costs['no_op_dvc_repro_seconds']} s against the 3 s allowed, and `dvc pull` is "
        f"{costs['pull_speedup_over_training']:.0f} times faster than retraining, against the 100 times asked. "
        f"The pipeline's float32 path runs at the speed of the blog's loop ({f32['fastest_epoch_seconds']} s against "
        f"{rows['blog']['fastest_epoch_seconds']} s, fastest epochs): the generator that shuffles by (seed, epoch) "
        "costs nothing measurable. What is left is the arithmetic of the convolutions on "
        f"{machine['cores']} cores, which bfloat16 cuts by "
        f"{1 - bf16['fastest_epoch_seconds'] / f32['fastest_epoch_seconds']:.0%}. The `plot` stage loads the model "
        f"to draw the convolution figure, hence its {stages['plot']['peak_memory_mb']:.0f} MB.",
    ]
    return "\n".join(lines)


def gpu(reports: dict) -> str:
    """The GPU runs: where, with what, the table, and the preset's command."""
    gpu, cpu_seconds = reports["gpu"], reports["train_timing"]["train_seconds"]
    blog = next(run for run in gpu["runs"] if run["params"]["model.name"] == "blog_cnn")
    preset = gpu_preset(gpu)
    others = [run for run in gpu["runs"] if run is not preset and run["test_accuracy"] > preset["test_accuracy"]]
    precisions = sorted({run["precision"] for run in gpu["runs"]})
    settings = [f"-S {key}={str(value).lower()}" for key, value in preset["params"].items()]
    settings += [f"-S train.precision={preset['precision']}", f"-S train.backend={gpu['backend']}"]
    # Three settings a line, as the README writes long commands.
    command = " \\\n    ".join(" ".join(settings[at : at + 3]) for at in range(0, len(settings), 3))
    goal = preset["test_accuracy"] >= GPU_ACCURACY_GOAL and preset["final_train_seconds"] <= GPU_SECONDS_GOAL
    lines = [
        f"Measured {gpu['date']} on an {gpu['gpu']} with Keras {gpu['keras']} on JAX {gpu['jax']} (that machine's "
        f"own CUDA build, newer than the {reports['jax_pin']} that `requirements-jax.txt` pins), running the stage "
        f"scripts on the real prepared data, in {', '.join(precisions)} "
        "([`reports/benchmark_gpu.json`](reports/benchmark_gpu.json), single runs):",
        "",
        "| run | train: epochs, s per epoch | validation accuracy (best epoch) | final retraining | test accuracy |",
        "|---|---|---|---|---|",
        *(
            f"| {run['run']} | {run['train_epochs']} in {run['train_seconds']} s, {run['train_seconds_per_epoch']} s "
            f"each | {run['val_accuracy']} ({run['best_epoch']}) | {run['final_epochs']} epochs, "
            f"{run['final_train_seconds']} s | {run['test_accuracy']} |"
            for run in gpu["runs"]
        ),
        "",
        "The seconds per epoch include the first epoch's compilation and each epoch's validation. The blog model's "
        f"train stage took {blog['train_seconds']} s there, against {duration(cpu_seconds)} for this repository's "
        f"run on 2 CPU cores in `{reports['params']['train']['precision']}` (`reports/train/timing.json`). "
        f"The GPU preset is the run validation prefers ({preset['val_accuracy']}):",
        "",
        "```bash",
        f"dvc exp run -n gpu-preset {command}",
        "dvc exp apply gpu-preset && dvc repro final/dvc.yaml",
        "```",
        "",
        f"Its final model scores {preset['test_accuracy']} on the test set after "
        f"{duration(preset['final_train_seconds'])} of retraining: **the goal of {GPU_ACCURACY_GOAL} within "
        f"{GPU_SECONDS_GOAL} s of training is {'reached' if goal else 'not reached'}.**",
    ]
    for run in others:
        lines[-1] += (
            f" The run *{run['run']}* happened to score {run['test_accuracy']} on the test set, but validation ranks "
            f"it lower ({run['val_accuracy']}), and validation alone chooses."
        )
    return "\n".join(lines)


def epoch_pace(ends: list[float]) -> float:
    """The median seconds of an epoch after the first (which compiles or loads the step), from their end times."""
    return statistics.median([later - earlier for earlier, later in pairwise(ends)] or ends[:1])


def gpu_label(label: str) -> str:
    """A GPU candidate's name as the README writes it: a change as code, the recipe as words."""
    return label if label == "the recipe" else f"`{label}`"


def gpu_chosen(report: dict) -> tuple[dict, dict]:
    """The GPU benchmark's chosen candidate, and its run with the recipe's seed, which final training repeated."""
    chosen = next(candidate for candidate in report["candidates"] if candidate["label"] == report["chosen"])
    return chosen, chosen["runs"][0]


GPU_RECIPE_SECTION = "toward-095-within-30-s-on-a-gpu-the-gpu-recipe"


def gpu_recipe_row(reports: dict) -> list[str]:
    """The results table's row of the gpu recipe's GPU run, if committed."""
    report = reports["gpu_recipe"]
    if not report:
        return []
    _, run = gpu_chosen(report)
    final = report["final"]
    return [
        f"| the `gpu` recipe, {gpu_label(report['chosen'])} (`{report['params']['model.name']}`), on an "
        f"{report['machine']['gpus'][0]} (`jax` backend) | `{report['params']['train.precision']}` "
        f"| train {run['epochs']}, best {run['best_epoch']}; final {final['epochs']} × {run['steps_per_epoch']} steps "
        f"| {run['val_accuracy']:.4f} | **{final['test_accuracy']:.4f}** | train {duration(run['train_seconds'])}, "
        f"final {duration(final['train_seconds'])} | | [the `gpu` recipe](#{GPU_RECIPE_SECTION}) |"
    ]


def gpu_candidate_row(candidate: dict) -> str:
    """One candidate of the GPU benchmark: its validation accuracy over its seeds, and its final training predicted."""
    runs = candidate["runs"]
    seeds = ", ".join(f"{run['val_accuracy']:.4f} ({run['seed']})" for run in runs)
    spread = f"{candidate['spread'] * 100:.2f}" if len(runs) > 1 else ""
    return (
        f"| {gpu_label(candidate['label'])} | {seeds} | {candidate['mean_val_accuracy']:.4f} | {spread} "
        f"| {candidate['predicted_final_seconds']} s |"
    )


def gpu_recipe(reports: dict) -> str:
    """The gpu recipe's run on a GPU, from reports/recipes/gpu/gpu.json: the candidates, the choice, the goal."""
    report, first = reports["gpu_recipe"], reports["gpu_recipe_first"]
    if not report:
        return "No committed GPU run of the `gpu` recipe yet."
    machine, final = report["machine"], report["final"]
    ranked = sorted(report["candidates"], key=lambda candidate: -candidate["mean_val_accuracy"])
    margin = (ranked[0]["mean_val_accuracy"] - ranked[1]["mean_val_accuracy"]) * 100 if len(ranked) > 1 else None
    seeded = [candidate for candidate in ranked[:2] if len(candidate["runs"]) > 1]
    if margin is not None and len(seeded) == 2 and margin < min(candidate["spread"] * 100 for candidate in seeded):
        decided = (
            f" The two best means differ by {margin:.2f} points, less than either spread: the seeds cannot tell them "
            "apart, and the rule lets the mean decide."
        )
    else:
        decided = ""
    met = final["test_accuracy"] >= GPU_ACCURACY_GOAL and final["train_seconds"] <= GPU_SECONDS_GOAL
    tries = " ".join(
        f"--try {key}={value}" for candidate in report["candidates"] for key, value in candidate["change"].items()
    )
    short = (GPU_ACCURACY_GOAL - final["test_accuracy"]) * 100
    verdict = (
        f"**the goal of {GPU_ACCURACY_GOAL} within {GPU_SECONDS_GOAL} s is {'reached' if met else 'not reached'}**"
        + (f", {short:.2f} points short" if short > 0 else "")
        + (f", {over:.1f} s over" if (over := final["train_seconds"] - GPU_SECONDS_GOAL) > 0 else "")
    )
    pace = epoch_pace(final["epoch_seconds"])
    lines = [
        f"One run of `python -m benchmarks.gpu gpu {tries} --budget {report['validation_budget_seconds']:.0f}` "
        f"on an {machine['gpus'][0]} (driver "
        f"{report['gpu_driver']}), Keras {machine['keras']} on JAX {machine['jax']}, {report['date']} "
        "([`reports/recipes/gpu/gpu.json`](reports/recipes/gpu/gpu.json)). Validation accuracy, seed 42 first; "
        f"where the two best were less than {SEED_RESOLUTION_POINTS} points apart, both ran with two more seeds:",
        "",
        "| candidate | validation accuracy (seed) | mean | spread (points) | final training, predicted |",
        "|---|---|---|---|---|",
        *(gpu_candidate_row(candidate) for candidate in report["candidates"]),
        "",
        f"Validation chose **{gpu_label(report['chosen'])}**.{decided} Final training repeated its "
        f"{final['steps']:,} steps on all the training images in **{final['train_seconds']} s** (the first epoch, "
        f"which loads the step that validation compiled, {final['epoch_seconds'][0]} s; each further one about "
        f"{pace:.2f} s, the median), and "
        f"the test set, read once, scored **{final['test_accuracy']:.4f}**: {verdict}. The chosen run's validation "
        f"accuracy is {report['validation_minus_test_points']:.2f} points above its test score.",
    ]
    if first:
        first_final = first["final"]
        _, first_validated = gpu_chosen(first)
        longest = max(first["candidates"], key=lambda candidate: candidate["mean_val_accuracy"])
        lines += [
            "",
            "An earlier run ([`first-run.json`](reports/recipes/gpu/first-run.json)) validated in Keras's batches of "
            f"32: its epochs took {epoch_pace(first_validated['epoch_seconds']):.2f} s, against "
            f"{epoch_pace(first_final['epoch_seconds']):.2f} s for its final training's without validation. Its "
            f"prediction of final training counted them, so only {gpu_label(first['chosen'])} fitted: test accuracy "
            f"{first_final['test_accuracy']:.4f} after "
            f"{first_final['train_seconds']} s. Its best validation accuracy, {longest['mean_val_accuracy']:.4f} with "
            f"{gpu_label(longest['label'])}, came from a run whose final training would take about "
            f"{longest['predicted_final_seconds']} s by that measure.",
        ]
    return "\n".join(lines)


def metrics_show(reports: dict) -> str:
    """What `dvc metrics show reports/train/metrics.json` prints for the committed run."""
    path = "reports/train/metrics.json"
    metrics = {key: round(value, 5) if isinstance(value, float) else value for key, value in reports["train"].items()}
    columns = [("Path", path)] + [(key, str(metrics[key])) for key in sorted(metrics)]
    # DVC pads the path by 2 and each number by 4, and nothing after the last column.
    widths = [len(path) + 2] + [max(len(key), len(value)) + 4 for key, value in columns[1:]]
    header = "".join(key.ljust(width) for (key, _), width in zip(columns, widths, strict=True))
    values = "".join(value.ljust(width) for (_, value), width in zip(columns, widths, strict=True))
    return "\n".join(["```", header.rstrip(), values.rstrip(), "```"])


def sweep_memory(reports: dict) -> str:
    """What each queue worker costs, from the train stage's timing file."""
    peak = reports["train_timing"]["peak_memory_mb"]
    return (
        "Each worker runs its experiment in a copy of the project under `.dvc/tmp/exps/`, and is a whole training "
        f"process: the train stage's peak memory ({gigabytes(peak)} in `reports/train/timing.json`) each, and "
        "TensorFlow's threads on every core. On a small machine, N is at most the free memory divided by that, "
        "and more workers than cores only share the same cores: on 2 cores, `-j 2` at most. Workers exit shortly "
        "after the queue is empty; `dvc queue stop --kill` stops them at once, killing the experiments still running."
    )


def pull_time(reports: dict) -> str:
    """How long a pull takes against training, from the timing files and the benchmark."""
    training = reports["train_timing"]["train_seconds"] + reports["final_train_timing"]["train_seconds"]
    costs = reports["benchmark"]["pipeline"]
    return (
        "In a fresh clone (on the same machine with the default remote, or anywhere with an S3 or SSH remote), fetch "
        f"the trained models instead of training for {duration(training)}; from the default remote the benchmark's "
        f"`dvc pull` of both models took {costs['dvc_pull_models_seconds']} s:"
    )


def test_times(reports: dict) -> str:
    """The test suite's measured time, when reports/test_suite.json holds it; nothing otherwise."""
    suite = reports["test_suite"] or {}
    commands = {"make_test_seconds": "`make test`", "make_test_fast_seconds": "`make test-fast`"}
    times = [f"{command} took {duration(suite[key])}" for key, command in commands.items() if key in suite]
    if not times:
        return ""
    machine = f"{suite['cpu']}, {suite['cores']} cores" if "cpu" in suite else f"{suite['cores']} CPU cores"
    return f"Measured {suite['date']} on {machine}: {', '.join(times)}."


def exp_show(reports: dict) -> str:
    """`dvc exp show` as it prints, captured with a two-epoch experiment beside the committed run."""
    return f"```\n{reports['exp_show'].rstrip()}\n```"


PARTS = {
    "exp-show": exp_show,
    "pipeline-time": pipeline_time,
    "results": results,
    "blog-curves": blog_curves,
    "epoch-rule": epoch_rule,
    "cpu-isa-cost": cpu_isa_cost,
    "hardest-class": hardest_class,
    "most-confused": most_confused,
    "real-photos": real_photos,
    "vgg-bn-benchmark": vgg_bn_benchmark,
    "fast-recipe": fast_recipe,
    "flip": flip_averaging,
    "accurate-recipe": accurate_recipe,
    "optimizers": optimizers,
    "batch-sizes": batch_sizes,
    "bfloat16": bfloat16,
    "export": export,
    "performance": performance,
    "gpu": gpu,
    "gpu-recipe": gpu_recipe,
    "metrics-show": metrics_show,
    "sweep-memory": sweep_memory,
    "pull-time": pull_time,
    "test-times": test_times,
}


def read_documents(root: Path) -> dict[str, str]:
    """The Markdown files that hold rendered parts or link to them, the README and the docs pages, by path."""
    documents = ["README.md", *(path.relative_to(root).as_posix() for path in sorted((root / "docs").glob("*.md")))]
    return {document: (root / document).read_text() for document in documents}


def anchors_of(texts: dict[str, str]) -> dict[str, list[str]]:
    """Each heading's anchor, as MkDocs and GitHub make it, and the documents that have it."""
    anchors: dict[str, list[str]] = {}
    for document, text in texts.items():
        for heading in HEADING.findall(FENCED.sub("", text)):
            anchors.setdefault(slugify(heading.replace("`", ""), "-"), []).append(document)
    return anchors


def adapt_links(text: str, document: str, anchors: dict[str, list[str]]) -> str:
    """`text`'s links, written from the repository's root, as `document` needs them.

    A file's path becomes one from the root (`/reports/...`), which GitHub resolves from the repository's root and
    MkDocs from the site's (docs/hooks.py adds the file); a docs file's path loses its `docs/`. An anchor moves to
    the document that has that heading: this one if it does, else a docs page.
    """
    folder = PurePosixPath(document).parent

    def adapted(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z]+:", target):
            return match.group(0)
        if target.startswith("#"):
            having = anchors.get(target[1:])
            if not having:
                raise ValueError(f"{document}: no heading has the anchor {target!r}")
            if document in having:
                return match.group(0)
            place = next((page for page in having if page.startswith("docs/")), having[0])
            target = posixpath.relpath(place, folder) + target
        elif folder.name == "docs":
            target = target.removeprefix("docs/") if target.startswith("docs/") else "/" + target
        return match.group(1) + target + ")"

    return LINK.sub(adapted, text)


def render(texts: dict[str, str], reports: dict) -> dict[str, str]:
    """Each document of `texts` (path: Markdown) with every rendered part rewritten from `reports`."""
    names = {document: [match.group(2) for match in MARKER.finditer(text)] for document, text in texts.items()}
    for document, text in texts.items():
        unknown = sorted(set(names[document]) - set(PARTS))
        if unknown:
            raise ValueError(f"{document}: no renderer for the part {unknown[0]!r}; expected one of {', '.join(PARTS)}")
        if text.count("<!-- rendered: ") != len(names[document]):
            raise ValueError(f"{document}: a `<!-- rendered: NAME -->` marker has no `<!-- end -->` after it")
    marked = {name for found in names.values() for name in found}
    missing = [name for name in PARTS if name not in marked]
    if missing:
        raise ValueError(f"no document marks the part {missing[0]!r} (<!-- rendered: {missing[0]} -->)")
    anchors = anchors_of(texts)

    def rendered(document: str, match: re.Match) -> str:
        text = adapt_links(PARTS[match.group(2)](reports), document, anchors)
        return match.group(1) + (text + "\n" if text else "") + match.group(4)

    return {
        document: MARKER.sub(lambda match, document=document: rendered(document, match), text)
        for document, text in texts.items()
    }


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """Rewrite the README and the docs pages, or with --check say whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a document is out of date")
    arguments = parser.parse_args(argv)
    texts = read_documents(root)
    expected = render(texts, load_reports(root))
    stale = [document for document in texts if expected[document] != texts[document]]
    if not arguments.check:
        for document in stale:
            (root / document).write_text(expected[document])
        return 0
    for document in stale:
        sys.stdout.writelines(
            difflib.unified_diff(
                texts[document].splitlines(True),
                expected[document].splitlines(True),
                document,
                f"{document} (rendered)",
            )
        )
    if stale:
        print(f"{', '.join(stale)}: out of date; run `python docs/render.py`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
