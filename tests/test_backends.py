"""The same pipeline on TensorFlow and JAX, and one model trained by several processes together."""

import json
import socket
import subprocess
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from fashion_mnist import backend, identity
from fashion_mnist.backend import (
    cap_instruction_set,
    process_settings,
    start_distribution,
)
from fashion_mnist.batches import epoch_batches, steps_per_epoch
from fashion_mnist.errors import ParamsError, PipelineError
from fashion_mnist.identity import identity_changes
from fashion_mnist.learning_curves import METRICS
from fashion_mnist.progress import read_history
from tests.conftest import (
    EXPORT,
    FINAL_EVALUATE,
    FINAL_TRAIN,
    REPRODUCE_ALL,
    SCORE_PHOTOS,
    environment,
    make_project,
    run,
    set_params,
    stages_run,
)
from tests.synthetic import balanced_labels, make_images, write_dataset

PROCESS_VARIABLES = {"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}


def run_on(backend: str, command: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run `command` as a user would, with KERAS_BACKEND=`backend` and `variables` set."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**environment(), "KERAS_BACKEND": backend, **variables},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_the_avx2_cap_sets_onednn_and_xla_on_x86_and_keeps_other_xla_flags(monkeypatch):
    monkeypatch.setattr(backend.platform, "machine", lambda: "x86_64")
    environment = {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true --xla_cpu_max_isa=AVX512"}
    assert cap_instruction_set("avx2", environment).startswith("avx2: the same bytes")
    assert environment == {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "XLA_FLAGS": "--xla_gpu_deterministic_ops=true --xla_cpu_max_isa=AVX2",
    }


def test_native_lifts_any_cap_that_the_environment_had(monkeypatch):
    monkeypatch.setattr(backend.platform, "machine", lambda: "x86_64")
    environment = {"ONEDNN_MAX_CPU_ISA": "SSE41", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}
    assert "results depend on this CPU" in cap_instruction_set("native", environment)
    assert environment == {}


def test_the_avx2_cap_says_it_has_no_effect_on_arm(monkeypatch):
    monkeypatch.setattr(backend.platform, "machine", lambda: "arm64")
    environment = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert cap_instruction_set("avx2", environment) == "avx2 has no effect on arm64: results depend on this CPU"
    assert environment == {}


def test_an_unknown_cpu_isa_is_refused_naming_the_key():
    with pytest.raises(ParamsError, match="train.cpu_isa must be one of avx2, native, got 'avx512'"):
        cap_instruction_set("avx512", {})


def test_no_process_variables_means_a_single_process():
    assert process_settings({}) is None
    assert process_settings(PROCESS_VARIABLES) == ("127.0.0.1:1234", 2, 1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"JAX_PROCESS_ID": ""}, "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES set but not JAX_PROCESS_ID"),
        ({"JAX_NUM_PROCESSES": "two"}, "must be whole numbers"),
        ({"JAX_PROCESS_ID": "2"}, "JAX_PROCESS_ID must be from 0 to JAX_NUM_PROCESSES - 1 = 1, not 2"),
    ],
)
def test_incomplete_or_wrong_process_variables_are_refused_by_name(changes: dict, message: str):
    with pytest.raises(PipelineError, match=message):
        process_settings(PROCESS_VARIABLES | changes)


def test_data_parallel_on_tensorflow_is_refused_naming_the_key_and_the_backend():
    assert keras.config.backend() == "tensorflow"
    assert start_distribution("none", PROCESS_VARIABLES, batch_size=128) == (0, 1, 1)
    with pytest.raises(ParamsError, match=r"train.distribution: data_parallel runs on the JAX backend.*tensorflow"):
        start_distribution("data_parallel", {}, batch_size=128)
    with pytest.raises(ParamsError, match=r"train.distribution: expected one of none, data_parallel, got 'model'"):
        start_distribution("model", {}, batch_size=128)


@pytest.mark.parametrize("augment", [False, True])
@pytest.mark.parametrize(
    ("samples", "processes", "devices"), [(100, 2, 2), (101, 2, 2), (100, 3, 3), (33, 4, 4), (100, 2, 8), (44, 1, 8)]
)
def test_the_processes_parts_make_up_the_single_process_batches(
    samples: int, processes: int, devices: int, augment: bool
):
    labels = balanced_labels(samples // 10 + 1, seed=0)[:samples]
    images = make_images(labels, seed=1)
    settings = {"batch_size": 16, "seed": 3, "epoch": 2, "augment": augment}
    whole = list(epoch_batches(images, labels, **settings))
    parts = [
        list(epoch_batches(images, labels, part=(index, processes), devices=devices, **settings))
        for index in range(processes)
    ]
    assert all(len(batches) == steps_per_epoch(samples, batch_size=16, devices=devices) for batches in parts)
    for step, batches in enumerate(zip(*parts, strict=True)):
        joined_images = np.concatenate([batch[0] for batch in batches])
        joined_labels = np.concatenate([batch[1] for batch in batches])
        # Every part has the same size, a whole number of images for each of its devices; only the
        # images that would not split evenly are left out.
        assert len({len(batch[1]) for batch in batches}) == 1
        assert len(batches[0][1]) % (devices // processes) == 0
        assert np.array_equal(joined_images, whole[step][0][: len(joined_images)])
        assert np.array_equal(joined_labels, whole[step][1][: len(joined_labels)])
        assert len(whole[step][1]) - len(joined_labels) < devices


def test_a_checkpoint_made_on_another_backend_is_not_resumed():
    versions = identity.library_versions()
    other = "jax" if versions["backend"] == "tensorflow" else "tensorflow"
    old = {"settings": "x", "sources": {}, "versions": versions | {"backend": other}}
    new = {"settings": "x", "sources": {}, "versions": versions}
    assert identity_changes(old, new) == [f"backend {other} instead of {versions['backend']}"]


@pytest.mark.slow
def test_the_pipeline_runs_on_jax_and_reruns_bit_identically(tmp_path: Path):
    project = make_project(tmp_path / "project", tmp_path / "mirror", write_dataset(tmp_path / "mirror"))
    # The backend is a param: dvc.yaml sets KERAS_BACKEND from it, whatever the shell says.
    set_params(project, {"train": {"backend": "jax"}})
    result = run_on("tensorflow", REPRODUCE_ALL, project)
    assert sorted(stages_run(result.stdout)) == sorted(
        ["download", "preprocess", "train", "plot", FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS, EXPORT]
    )
    for stage in ["train", "final-train"]:
        environment_file = json.loads((project / f"reports/{stage}/environment.json").read_text())
        assert environment_file["backend"] == "jax" and environment_file["jax"] != "not installed"
    assert 0 <= json.loads((project / "reports/final/metrics.json").read_text())["test_accuracy"] <= 1
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    run_on("tensorflow", ["dvc", "repro", "--force", "--single-item", "train"], project)
    again = yaml.safe_load((project / "dvc.lock").read_text())
    # The model, its summary, the metrics, the history.
    assert again["stages"]["train"] == lock["stages"]["train"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# One epoch of data_parallel at the quick params' batch of 32, split over two devices in all.
DATA_PARALLEL = {"train": {"epochs": 1, "distribution": "data_parallel", "backend": "jax"}}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[list[Path], list[str]]:
    """Two JAX processes on 127.0.0.1 that train one model, each in its own project folder; their outputs."""
    root = tmp_path_factory.mktemp("two-processes")
    # Two folders, as on two machines: each process reads its own copy of the data.
    mirror = write_dataset(root / "mirror")
    folders = []
    for name in ["first", "second"]:
        project = make_project(root / name, root / "mirror", mirror)
        set_params(project, DATA_PARALLEL)
        run(["dvc", "repro", "preprocess"], project)
        folders.append(project)
    address = f"127.0.0.1:{free_port()}"
    variables = {"JAX_PLATFORMS": "cpu", "JAX_COORDINATOR_ADDRESS": address, "JAX_NUM_PROCESSES": "2"}
    processes = [
        subprocess.Popen(
            ["python", "-m", "stages.train"],
            cwd=project,
            env={**environment(), "KERAS_BACKEND": "jax", **variables, "JAX_PROCESS_ID": str(index)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index, project in enumerate(folders)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], "\n".join(outputs)
    return folders, outputs


@pytest.mark.slow
def test_two_processes_train_one_model_and_only_the_first_writes(two_processes):
    folders, outputs = two_processes
    digests = [next(line.split()[-1] for line in output.splitlines() if "weights sha256" in line) for output in outputs]
    assert digests[0] == digests[1], "the two processes ended with different weights"
    assert "process 1 of 2: each feeds 1/2 of every batch of 32" in outputs[1]
    first, second = folders
    assert json.loads((first / "reports/train/environment.json").read_text())["processes"] == 2
    assert json.loads((first / "reports/train/metrics.json").read_text())["epochs"] == 1
    assert (first / "models/model.keras").is_file()
    assert not (second / "models/model.keras").exists() and not (second / "reports/train/metrics.json").exists()
    # The saved model holds the weights both processes agreed on.
    saved = keras.saving.load_model(first / "models/model.keras", compile=False)
    assert identity.weights_digest(saved) == digests[0]


@pytest.mark.slow
def test_two_processes_end_with_the_weights_of_one_process_over_two_devices(two_processes, tmp_path: Path):
    project = make_project(tmp_path / "project", tmp_path / "mirror", write_dataset(tmp_path / "mirror"))
    set_params(project, DATA_PARALLEL)
    run(["dvc", "repro", "preprocess"], project)
    # The same two devices and global batches in one process: XLA's flag gives its CPU two devices.
    devices = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert "data_parallel over 2 devices" in run_on("jax", ["python", "-m", "stages.train"], project, **devices).stdout
    (first, _), outputs = two_processes
    one_process = keras.saving.load_model(project / "models/model.keras", compile=False)
    two_processes_model = keras.saving.load_model(first / "models/model.keras", compile=False)
    for one, two in zip(one_process.get_weights(), two_processes_model.get_weights(), strict=True):
        np.testing.assert_array_equal(one, two)
    assert f"weights sha256 {identity.weights_digest(one_process)}" in outputs[0]

    # Training's loss and both accuracies match too. The validation loss differs in its last bits: each
    # process feeds the whole validation batch, so the two together evaluate every image twice, and the
    # float32 sums of the same losses, grouped otherwise, round otherwise (measured: 2.4e-7, 2 ulps).
    one_history = read_history(project / "reports/train/plots/metrics", METRICS)
    two_history = read_history(first / "reports/train/plots/metrics", METRICS)
    exact = ["epoch", "accuracy", "loss", "val_accuracy"]
    pd.testing.assert_frame_equal(one_history[exact], two_history[exact], check_exact=True)
    difference = (one_history["val_loss"] - two_history["val_loss"]).abs().max()
    assert difference <= 4 * np.spacing(np.float32(two_history["val_loss"].max())), difference


@pytest.mark.slow
def test_one_process_spreads_each_batch_over_its_devices(tmp_path: Path):
    project = make_project(tmp_path / "project", tmp_path / "mirror", write_dataset(tmp_path / "mirror"))
    run(["dvc", "repro", "preprocess"], project)
    # XLA's flag gives the CPU two devices, as a machine with two GPUs has.
    devices = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    set_params(project, {"train": {"epochs": 1, "batch_size": 33, "distribution": "data_parallel", "backend": "jax"}})
    refused = subprocess.run(
        ["python", "-m", "stages.train"],
        cwd=project,
        env={**environment(), "KERAS_BACKEND": "jax", **devices},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1
    assert "error: train.batch_size must be a multiple of the 2 devices that data_parallel splits" in refused.stderr
    assert not (project / "models/model.keras").exists()

    set_params(project, {"train": {"batch_size": 30}})  # 160 images: the last batch of 10 splits evenly too.
    run_on("jax", ["python", "-m", "stages.train"], project, **devices)
    environment_file = json.loads((project / "reports/train/environment.json").read_text())
    assert environment_file["devices"] == 2 and environment_file["processes"] == 1
