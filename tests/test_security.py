"""No pickle, safe model loading, a Keras without the known safe_mode bypasses, no credentials in git."""

import ast
import re
import subprocess
from pathlib import Path

import keras
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.loading import load_model
from fashion_mnist.predict import parse_arguments
from tests.conftest import REPOSITORY

PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "shelve"}
SOURCES = sorted(
    path for folder in ["fashion_mnist", "stages", "tests"] for path in (REPOSITORY / folder).rglob("*.py")
)


def calls_with_keyword(tree: ast.AST, keyword: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for argument in node.keywords:
                if argument.arg == keyword:
                    yield node, argument.value


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_no_source_file_imports_a_pickling_module(source: Path):
    tree = ast.parse(source.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & PICKLING_MODULES


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_no_source_file_turns_on_pickle_or_off_safe_mode(source: Path):
    tree = ast.parse(source.read_text())
    for _, value in calls_with_keyword(tree, "allow_pickle"):
        assert isinstance(value, ast.Constant) and value.value is False, f"{source}: allow_pickle must be False"
    for _, value in calls_with_keyword(tree, "safe_mode"):
        assert isinstance(value, ast.Constant) and value.value is True, f"{source}: safe_mode must be True"


def test_the_scan_would_catch_pickle():
    tree = ast.parse("import numpy as np\nnp.load('x.npz', allow_pickle=True)\n")
    assert [value.value for _, value in calls_with_keyword(tree, "allow_pickle")] == [True]


def test_a_model_carrying_python_code_is_refused(tmp_path: Path):
    # A Lambda layer stores Python bytecode in the file; safe mode must refuse to run it. The file is written
    # by Keras itself, as anyone could write it (the project's save_model rebuilds its models in safe mode).
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Lambda(lambda inputs: inputs * 2)])
    model.save(tmp_path / "model.keras")
    with pytest.raises(DataError, match=r"model\.keras: not a readable Keras model.*unsafe"):
        load_model(tmp_path / "model.keras")


def test_keras_is_pinned_at_or_after_the_safe_mode_fixes():
    pinned = re.search(
        r"^keras==(\d+)\.(\d+)\.(\d+)$", (REPOSITORY / "requirements-training.txt").read_text(), re.MULTILINE
    )
    assert pinned, "requirements-training.txt pins keras"
    assert tuple(map(int, pinned.groups())) >= (3, 13, 2)
    assert keras.__version__ == ".".join(pinned.groups())


def test_the_model_option_says_to_load_only_trusted_models(capsys):
    # safe_mode has had bypasses, and LiteRT's parser has no safe mode: the user decides what to trust.
    with pytest.raises(SystemExit):
        parse_arguments(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--model MODEL a .keras model or the export's int8 .tflite; load only models you trust" in help_text


@pytest.mark.parametrize("path", [".dvc/config.local", ".dvc/tmp/anything", ".env"])
def test_local_credentials_are_ignored_by_git(path: str):
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPOSITORY)
    assert result.returncode == 0, f"{path} must be ignored by git"
