"""The model registry: a registered model version is downloaded by name, without a clone or a training run."""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPOSITORY, project_copy, run

pytestmark = pytest.mark.slow

ARTIFACTS = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["artifacts"]
VERSION = "v1.0.0"
STAGE = "prod"


@pytest.fixture(scope="module")
def registry(built_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project run and pushed to its default remote, every model registered as VERSION, fashion-cnn in STAGE."""
    project = project_copy(built_project, tmp_path_factory.mktemp("registry") / "project")
    run(["dvc", "push"], project)
    for name in ARTIFACTS:
        run(["gto", "register", name, "--version", VERSION], project)
    run(["gto", "assign", "fashion-cnn", "--version", VERSION, "--stage", STAGE], project)
    return project


def storage(project: Path) -> Path:
    """The default remote: the folder beside the clone."""
    return project.parent / "fashion-mnist-dvc-storage"


def pushed(project: Path, path: str) -> bytes:
    """The content of an output as the default remote holds it, found by its checksum in either lock file."""
    stages = {}
    for lock in ["dvc.lock", "final/dvc.lock"]:
        stages |= yaml.safe_load((project / lock).read_text())["stages"]
    md5 = next(out["md5"] for stage in stages.values() for out in stage.get("outs", []) if out["path"] == path)
    return (storage(project) / "files/md5" / md5[:2] / md5[2:]).read_bytes()


def download(
    project: Path, folder: Path, command: list[str], *arguments: str, remote: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run `command URL arguments` in an empty folder, as someone without a clone does, from the project's URL.

    A file:// URL makes DVC clone the repository into a temporary folder, as it does for a remote one, and so
    fetch from the DVC remote rather than the project's own cache; the remote's URL is given (by default the
    project's), since the default one is relative to the clone.
    """
    folder.mkdir()
    remote_url = ["--remote-config", f"url={remote or storage(project)}"]
    return run([*command, project.as_uri(), *arguments, *remote_url], folder, check=check)


@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_a_registered_version_downloads_byte_identical_to_the_pushed_model(registry: Path, name: str, tmp_path: Path):
    path = ARTIFACTS[name]["path"]
    download(registry, tmp_path / "by-version", ["dvc", "artifacts", "get"], name, "--rev", VERSION)

    assert (tmp_path / "by-version" / Path(path).name).read_bytes() == pushed(registry, path)


def test_the_latest_version_a_stage_and_a_path_download_the_same_model(registry: Path, tmp_path: Path):
    path = ARTIFACTS["fashion-cnn"]["path"]
    assert path == "models/final.keras", "the team page's `dvc get` fallback names this path"
    download(registry, tmp_path / "latest", ["dvc", "artifacts", "get"], "fashion-cnn")
    download(registry, tmp_path / "by-stage", ["dvc", "artifacts", "get"], "fashion-cnn", "--stage", STAGE)
    download(registry, tmp_path / "by-path", ["dvc", "get"], path, "--rev", f"fashion-cnn@{VERSION}")

    for folder in ["latest", "by-stage", "by-path"]:
        assert (tmp_path / folder / "final.keras").read_bytes() == pushed(registry, path), folder


def test_an_unknown_version_is_an_error(registry: Path, tmp_path: Path):
    absent = tmp_path / "absent"
    result = download(registry, absent, ["dvc", "artifacts", "get"], "fashion-cnn", "--rev", "v9.9.9", check=False)

    assert result.returncode != 0
    assert "Unable to find artifact 'fashion-cnn @ v9.9.9'" in result.stderr
    assert list(absent.iterdir()) == []


def test_the_model_comes_from_the_remote(registry: Path, tmp_path: Path):
    empty = tmp_path / "empty-storage"
    empty.mkdir()
    get = ["dvc", "artifacts", "get"]
    result = download(registry, tmp_path / "absent", get, "fashion-cnn", "--rev", VERSION, remote=empty, check=False)

    assert result.returncode != 0
    assert "No storage files available: 'models/final.keras'" in result.stderr
    assert list((tmp_path / "absent").iterdir()) == []
