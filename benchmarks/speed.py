"""Speed, memory and cost of the pipeline against the blog's own loop, measured on this machine.

    python -m benchmarks.speed            # the full benchmark on the real data (about 25 minutes on 2 cores)
    python -m benchmarks.speed --quick    # every measurement on tiny data, in a few minutes, to reports/quick/

In a scratch copy of the project it runs every stage of dvc.yaml and final/dvc.yaml (downloading the
data, or in quick mode tiny synthetic data), then times training epochs on that copy's training images:
the blog's loop, then the train stage's own `train_model` in float32 and in bfloat16, one after the
other (see benchmarks/throughput.py for what the median and the fastest epoch say), then the models'
inference. Run it from the repository root; it writes reports/benchmark.json (or --output; in quick mode
reports/quick/benchmark.json) and prints the performance page's markdown tables.
"""

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.inference import inference
from benchmarks.machine import machine
from benchmarks.outputs import output_path
from benchmarks.pipeline import pipeline_costs, scratch_project
from benchmarks.report import markdown
from benchmarks.throughput import epoch_throughput, time_to_strong_accuracy
from fashion_mnist import paths
from fashion_mnist.backend import set_precision
from fashion_mnist.dataset import load_split
from fashion_mnist.files import write_json


def main() -> None:
    """Run every measurement and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, a few epochs: checks that it all runs")
    parser.add_argument("--output", type=Path, help="default: reports/benchmark.json; --quick: reports/quick/")
    arguments = parser.parse_args()
    output = output_path(arguments.output, paths.REPORTS_DIR / "benchmark.json", arguments.quick)

    with tempfile.TemporaryDirectory(prefix="fashion-mnist-benchmark-") as scratch:
        project = scratch_project(Path(scratch), arguments.quick)
        print("pipeline: each stage of both pipeline files, a no-op dvc repro, dvc pull against training", flush=True)
        pipeline = pipeline_costs(project)
        images, labels = load_split(project / paths.TRAIN_DATA)
        print("epoch throughput: each loop in turn, to its end", flush=True)
        throughput = epoch_throughput(images, labels, epochs=3 if arguments.quick else 8)
        print("time to 0.94 validation accuracy, vgg_bn", flush=True)
        strong = time_to_strong_accuracy(images, labels, target=0.94, max_epochs=2 if arguments.quick else 30)
        print("inference", flush=True)
        # The stages that load a model leave the precision at Keras's default; so does this.
        set_precision("float32")
        test_images, _ = load_split(project / paths.TEST_DATA)
        repeats = 2 if arguments.quick else 20
        speeds = [
            {"model": str(model), **inference(project / model, test_images, repeats)}
            for model in (paths.MODEL, paths.FINAL_MODEL, paths.INT8_MODEL)
        ]
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": arguments.quick,
        "machine": machine(),
        "epoch_throughput": throughput,
        "strong_model": strong,
        "pipeline": pipeline,
        "inference": speeds,
    }
    write_json(output, report)
    print(markdown(report))


if __name__ == "__main__":
    main()
