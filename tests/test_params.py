"""params.yaml validation: every bad value stops a stage with an error naming the key."""

import re
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from fashion_mnist.errors import ParamsError
from fashion_mnist.params import SCHEMA, load_params
from tests.conftest import REPOSITORY

ALL_SECTIONS = list(SCHEMA)


def write_params(tmp_path: Path, changes: dict) -> Path:
    """The project's params.yaml with `changes` (dotted key to value) applied."""
    params = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        params[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_shipped_params_are_valid_and_complete():
    params = load_params(ALL_SECTIONS, path=REPOSITORY / "params.yaml")
    assert {section: set(values) for section, values in params.items()} == {
        section: set(rules) for section, rules in SCHEMA.items()
    }
    assert set(params["download"]) == {"idle_timeout_seconds", "minimum_rate_kb_per_second", "deadline_floor_seconds"}


@pytest.mark.parametrize(
    ("key", "written", "value"),
    [
        ("train.learning_rate", "1e-3", 0.001),
        ("train.learning_rate", "1.0e-3", 0.001),
        ("train.weight_decay", "5e-2", 0.05),
        ("download.idle_timeout_seconds", "1e1", 10.0),
        ("download.minimum_rate_kb_per_second", "2.5e1", 25.0),
        ("final.epochs", "auto", "auto"),
        ("final.epochs", "12", 12),
        ("train.early_stopping_patience", "5", 5),
        ("base.seed", str(2**32 - 1), 2**32 - 1),
    ],
)
def test_values_as_yaml_1_2_and_dvc_write_them_are_read(tmp_path: Path, key: str, written: str, value):
    path = write_params(tmp_path, {key: "PLACEHOLDER"})
    path.write_text(path.read_text().replace("PLACEHOLDER", written))
    section, name = key.split(".")
    assert load_params(ALL_SECTIONS, path=path)[section][name] == value


def test_a_value_set_by_dvc_exp_run_s_is_read(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text((REPOSITORY / "params.yaml").read_text())
    # What `dvc exp run -S train.learning_rate=1e-4 ...` does to params.yaml before running the stages.
    apply_overrides(path, ["train.learning_rate=1e-4", "final.epochs=12", "model.name=vgg_bn"])
    params = load_params(ALL_SECTIONS, path=path)
    assert params["train"]["learning_rate"] == 0.0001
    assert params["final"]["epochs"] == 12 and params["model"]["name"] == "vgg_bn"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("train.epochs", -1),
        ("train.epochs", 0),
        ("train.epochs", "forty"),
        ("train.epochs", 2.5),
        ("train.epochs", True),
        ("train.batch_size", 0),
        ("train.learning_rate", 0),
        ("train.validation_split", 0),
        ("train.validation_split", 1),
        ("train.validation_split", 1.5),
        ("preprocess.max_train_samples", -5),
        ("preprocess.max_train_samples", "all"),
        ("final.epochs", -3),
        ("base.seed", -1),
        ("base.seed", 2**32),
        ("train.learning_rate", float("inf")),
        ("train.learning_rate", float("nan")),
        ("download.idle_timeout_seconds", float("inf")),
        ("download.minimum_rate_kb_per_second", float("inf")),
        ("train.validation_split", float("nan")),
        ("train.weight_decay", -0.1),
        ("train.label_smoothing", 1),
        ("train.label_smoothing", -0.1),
        ("train.ema_momentum", 1.0),
        ("train.ema_momentum", 0),
        ("train.optimizer", "rmsprop"),
        ("train.schedule", "step"),
        ("train.augment", "yes"),
        ("train.augment_on", "gpu"),
        ("train.precision", "float16"),
        ("train.early_stopping_patience", 0),
        ("model.name", "resnet"),
        ("model.test_time_augmentation", "rotate"),
        ("final.epochs", "best"),
        ("final.epochs", 0),
        ("final.epochs", None),
        ("export.calibration_images", 0),
        ("export.calibration_images", "all"),
        ("export.calibration_images", 300.5),
        ("download.idle_timeout_seconds", 0),
        ("download.minimum_rate_kb_per_second", 0),
        ("download.deadline_floor_seconds", -1),
        ("download.deadline_floor_seconds", "1 minute"),
    ],
)
def test_an_invalid_value_names_its_key(tmp_path: Path, key: str, value):
    path = write_params(tmp_path, {key: value})
    with pytest.raises(
        ParamsError, match=rf"{re.escape(str(path))}: {re.escape(key)} must be .*, got {re.escape(repr(value))}"
    ):
        load_params(ALL_SECTIONS, path=path)


def test_an_unknown_key_is_named(tmp_path: Path):
    path = write_params(tmp_path, {"train.epoch": 3})
    with pytest.raises(ParamsError, match=r"unknown key train\.epoch; expected one of epochs, batch_size"):
        load_params(["train"], path=path)


@pytest.mark.parametrize(("key", "value"), [("random_erasing", 0.5), ("batch_norm_statistics", "recomputed")])
def test_the_removed_params_are_unknown_keys(tmp_path: Path, key: str, value: object):
    # Params that no default run, recipe or answer used were removed; an old experiment's -S names them plainly.
    path = write_params(tmp_path, {f"train.{key}": value})
    with pytest.raises(ParamsError, match=rf"unknown key train\.{key}; expected one of epochs"):
        load_params(["train"], path=path)


@pytest.mark.parametrize("key", ["mirrors", "files"])
def test_the_download_sources_are_not_params(tmp_path: Path, key: str):
    # They live in data/sources.yaml, so that `dvc exp show` keeps to what experiments vary.
    path = write_params(tmp_path, {f"download.{key}": []})
    with pytest.raises(ParamsError, match=rf"unknown key download\.{key}; expected one of idle_timeout_seconds"):
        load_params(["download"], path=path)


def test_an_unknown_section_is_named(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text((REPOSITORY / "params.yaml").read_text() + "\ntrian:\n  epochs: 3\n")
    with pytest.raises(ParamsError, match=r"unknown section 'trian'"):
        load_params(["train"], path=path)


def test_a_missing_key_is_named(tmp_path: Path):
    params = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    del params["train"]["batch_size"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=r"missing key train\.batch_size \(an integer >= 1\)"):
        load_params(["train"], path=path)


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ParamsError, match=r"params\.yaml: file not found"):
        load_params(["train"], path=tmp_path / "params.yaml")


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [epochs: 3\n")
    with pytest.raises(ParamsError, match=r"params\.yaml: not valid YAML"):
        load_params(["train"], path=path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ParamsError, match=r"expected a mapping of sections"):
        load_params(["train"], path=path)


def test_a_section_that_is_not_a_mapping_is_refused(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("base:\n  seed: 1\ntrain: 3\n")
    with pytest.raises(ParamsError, match=r"section 'train' must be a mapping"):
        load_params(["train"], path=path)
