"""The installed `fashion-mnist` command: it works from any folder, and its pins are the project's."""

import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from fashion_mnist import predict
from fashion_mnist.errors import DataError
from tests.conftest import REPOSITORY, run


def pins(path: Path) -> dict[str, str]:
    """The `name==version` lines of a requirements file and of those it includes with -r."""
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            found |= pins(path.parent / line.split()[1])
        elif match := re.fullmatch(r"([A-Za-z0-9_.\[\],-]+)==(\S+)", line.split("#")[0].strip()):
            found[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return found


def test_the_command_is_installed_and_runs_from_any_folder(tmp_path: Path):
    command = shutil.which("fashion-mnist", path=str(Path(sys.executable).parent))
    assert command, "`make setup` installs the project, which provides the command"
    shown = run([command, "predict", "--help"], tmp_path)
    assert "usage: fashion-mnist predict" in shown.stdout and "--model" in shown.stdout


def test_the_command_names_its_subcommands_and_refuses_an_unknown_one(tmp_path: Path):
    bare = run(["fashion-mnist"], tmp_path, check=False)
    assert bare.returncode == 2 and "usage: fashion-mnist {predict,recipe,serve}" in bare.stdout
    unknown = run(["fashion-mnist", "train"], tmp_path, check=False)
    assert unknown.returncode == 1 and "error: unknown command 'train'" in unknown.stderr


def test_the_package_pins_what_the_requirements_files_pin():
    declared = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["dependencies"]
    required = pins(REPOSITORY / "requirements.txt")
    for dependency in declared:
        name, version = dependency.split("==")
        assert required.get(name.lower()) == version, dependency


def test_the_default_model_is_this_folders_else_the_installed_projects(tmp_path: Path, monkeypatch):
    here, project = tmp_path / "here", tmp_path / "project"
    for folder in (here, project):
        (folder / "models").mkdir(parents=True)
    monkeypatch.chdir(here)
    monkeypatch.setattr(predict, "PROJECT", project)
    assert predict.default_model() == Path("models/final.keras"), "neither has one: the usual name, for the error"
    (project / "models/final.keras").write_bytes(b"")
    assert predict.default_model() == project / "models/final.keras"
    (here / "models/final.keras").write_bytes(b"")
    assert predict.default_model() == Path("models/final.keras")


def test_without_a_model_anywhere_the_error_says_how_to_get_one(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(predict, "PROJECT", tmp_path / "project")
    with pytest.raises(
        DataError,
        match=r"models/final\.keras: model file not found here or in .*project; run `make pipeline` or `dvc pull`",
    ):
        arguments = predict.parse_arguments(["photo.jpg"], prog="fashion-mnist predict")
        predict.require_model(arguments.model, given=arguments.model_given)
    # A model named with --model is not checked here: its loading names it, after the photos are checked.
    arguments = predict.parse_arguments(["photo.jpg", "--model", "elsewhere.keras"])
    predict.require_model(arguments.model, given=arguments.model_given)
