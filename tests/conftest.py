import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.synthetic import write_dataset

REPOSITORY = Path(__file__).resolve().parent.parent
# What a fresh clone holds that the pipeline needs: the code, its settings and DVC's own files.
PROJECT_FILES = [
    "dvc.yaml",
    "final/dvc.yaml",
    "params.yaml",
    "data/sources.yaml",
    "data/photos",
    "requirements-training.txt",
    "requirements-jax.txt",
    "requirements.txt",
    "stages",
    "fashion_mnist",
    ".dvc/config",
    "dvc_plots_template",
    ".dvcignore",
    ".gitignore",
]

# The README's command that builds every output: both pipeline files, dvc.yaml and final/dvc.yaml.
REPRODUCE_ALL = ["dvc", "repro", "--all-pipelines"]
# The stages of final/dvc.yaml, as DVC names them.
FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS, EXPORT = (
    f"final/dvc.yaml:{name}" for name in ("final-train", "final-evaluate", "score-photos", "export")
)

# final.epochs stays `auto`, as shipped: the retraining runs for train's best epoch.
QUICK_PARAMS = {"train": {"epochs": 3, "batch_size": 32}}


def environment() -> dict[str, str]:
    """The current environment with this interpreter's folder first on PATH, so stages run with it."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run(command: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command the way a user would in the project folder, capturing its output."""
    result = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def set_params(project: Path, changes: dict) -> None:
    """Merge `changes` (section to keys) into the project's params.yaml."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in changes.items():
        params[section].update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def set_sources(project: Path, changes: dict) -> None:
    """Replace keys (mirrors, files) of the project's data/sources.yaml with `changes`."""
    path = project / "data/sources.yaml"
    sources = yaml.safe_load(path.read_text())
    sources.update(changes)
    path.write_text(yaml.safe_dump(sources, sort_keys=False))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Debian's copy of Fashion-MNIST, which `make test` installs: without it a test fails, it is never skipped."""
    folder = Path("/usr/share/datasets/fashion-mnist")
    assert folder.is_dir(), f"{folder} is missing: `make test` installs it (apt-get install dataset-fashion-mnist)"
    return folder


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder of synthetic Fashion-MNIST files and their checksums."""
    folder = tmp_path / "mirror"
    return folder, write_dataset(folder)


def copy_project(destination: Path) -> Path:
    """Copy the project, as a fresh clone holds it, into a new git repository with the shipped params."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPOSITORY / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    run(["git", "init", "-q", "-b", "main"], destination)
    run(["git", "config", "user.email", "tests@example.com"], destination)
    run(["git", "config", "user.name", "tests"], destination)
    return destination


def keep_quick_photos(project: Path) -> None:
    """Keep one real photo of each label in the project's data/photos, so that score-photos takes seconds."""
    labels = project / "data/photos/labels.csv"
    lines = labels.read_text().splitlines(keepends=True)
    kept, seen = [lines[0]], set()
    for line in lines[1:]:
        label = line.split(",")[1]
        if label in seen:
            (project / "data/photos" / line.split(",")[0]).unlink()
        else:
            seen.add(label)
            kept.append(line)
    labels.write_text("".join(kept))


def make_project(destination: Path, mirror_folder: Path, checksums: dict[str, str]) -> Path:
    """Copy the project into a new git repository whose download stage reads the synthetic mirror."""
    copy_project(destination)
    set_sources(destination, {"mirrors": [mirror_folder.as_uri() + "/"], "files": checksums})
    set_params(destination, QUICK_PARAMS)
    keep_quick_photos(destination)
    commit(destination, "project")
    return destination


def run_project(root: Path) -> Path:
    """A project on synthetic data in `root`, after one run of both pipelines whose results are committed."""
    project = make_project(root / "project", root / "mirror", write_dataset(root / "mirror"))
    run(REPRODUCE_ALL, project)
    commit(project, "Run the pipeline")
    return project


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project on synthetic data after one run of both pipelines, committed, built once for the whole session:
    the tests that need a project that has run take a copy of it (project_copy), and none changes it."""
    return run_project(tmp_path_factory.mktemp("built"))


def project_copy(built: Path, destination: Path) -> Path:
    """A copy of the project `built`, its outputs, git history and DVC cache included, in `destination`; without
    DVC's state databases, which describe the original folder's files."""

    def skip_dvc_tmp(folder: str, names: list[str]) -> list[str]:
        return ["tmp"] if Path(folder).name == ".dvc" else []

    return Path(shutil.copytree(built, destination, symlinks=True, ignore=skip_dvc_tmp))


@pytest.fixture
def project(tmp_path: Path, mirror: tuple[Path, dict[str, str]]) -> Path:
    """The project in a temporary git repository, set up for a quick run on synthetic data."""
    return make_project(tmp_path / "project", *mirror)


def commit(project: Path, message: str) -> None:
    """Commit everything in the project, as a user does after `dvc repro` (dvc.lock and the git-tracked reports)."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", message], project)


def stages_run(output: str) -> list[str]:
    """The stages that DVC's output says it ran, in order."""
    return re.findall(r"^Running stage '([^']+)'", output, flags=re.MULTILINE)
