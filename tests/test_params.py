"""params.yaml validation: every bad value stops a stage with an error naming the key."""

import re
from pathlib import Path

import pytest
import yaml

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


def test_the_shipped_params_are_valid():
    params = load_params(ALL_SECTIONS, path=REPOSITORY / "params.yaml")
    assert params["train"] == {"epochs": 40, "batch_size": 128, "learning_rate": 0.001, "validation_split": 0.2}
    assert params["download"]["mirrors"][-1] == "file:///usr/share/datasets/fashion-mnist/"


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
        ("download.mirrors", []),
        ("download.mirrors", "file:///somewhere/"),
        ("download.timeout_seconds", 0),
        ("download.files", {"train-images-idx3-ubyte.gz": "not-a-checksum"}),
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
