"""Sharing the pipeline through DVC remotes: one clone runs and pushes, a fresh clone pulls instead of training.

Every remote runs on this machine: a folder beside the clone, a real OpenSSH server and moto's S3 server,
the last two on free loopback ports.
"""

import getpass
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPRODUCE_ALL, commit, project_copy, run, set_params, stages_run

pytestmark = pytest.mark.slow

SSHD = Path("/usr/sbin/sshd")
# What a teammate needs from the remote instead of recomputing it: DVC-cached outputs of every stage.
CACHED_OUTPUTS = [
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/model.keras",
    "reports/train/model_summary.txt",
    "models/final.keras",
]
# Why pushing the run cache cannot yet spare a teammate the training of a params combination not at HEAD.
RUN_CACHE_BLOCKED = (
    "DVC 3.67's `dvc push --run-cache` uploads the run-cache entries but not the `cache: false` metrics and "
    "plots they name (push collects only the workspace's cached outputs), so a fresh clone finds the entry, "
    "misses those files and trains again. Passes once DVC uploads them, or once train caches every output."
)


@dataclass
class Remote:
    """A DVC remote: its URL (None for the default one already in .dvc/config) and settings kept out of git."""

    name: str
    url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(command: list[str], port: int, log: Path) -> Iterator[None]:
    """Run a server until the block ends, once it accepts connections on `port`."""
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited with {process.returncode}:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} did not listen on port {port}:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def local_remote() -> Remote:
    """The default remote of .dvc/config: a folder beside the clone."""
    return Remote("local")


@pytest.fixture
def ssh_remote(tmp_path: Path) -> Iterator[Remote]:
    """A real OpenSSH server on a free loopback port that lets in one throwaway key."""
    assert SSHD.exists(), f"the OpenSSH server ({SSHD}) is missing: `make test` installs it (openssh-server)"
    folder = tmp_path / "sshd"
    folder.mkdir()
    for key in ["host_key", "client_key"]:
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], folder)
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        textwrap.dedent(f"""\
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {folder / "host_key"}
            AuthorizedKeysFile {folder / "authorized_keys"}
            PidFile {folder / "sshd.pid"}
            UsePAM no
            StrictModes no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            Subsystem sftp internal-sftp
        """)
    )
    # sshd refuses to start without its privilege separation folder, which the system service normally creates.
    Path("/run/sshd").mkdir(exist_ok=True)
    with server([str(SSHD), "-D", "-e", "-f", str(config)], port, folder / "sshd.log"):
        url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{tmp_path / 'ssh-storage'}"
        yield Remote("ssh", url, {"keyfile": str(folder / "client_key")})


@pytest.fixture
def s3_remote(tmp_path: Path) -> Iterator[Remote]:
    """An empty bucket on moto's S3 server, running on a free loopback port."""
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"access_key_id": "testing", "secret_access_key": "testing"}
    with server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port, tmp_path / "moto.log"):
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["access_key_id"],
            aws_secret_access_key=keys["secret_access_key"],
        )
        s3.create_bucket(Bucket="dvc-storage")
        yield Remote("s3", "s3://dvc-storage/fashion-mnist", {"endpointurl": endpoint, **keys})


@pytest.fixture(scope="module")
def pipeline_run(built_project: Path) -> Path:
    """The project after one `dvc repro`, committed; built once per session and copied by `teammate`."""
    return built_project


@pytest.fixture
def teammate(pipeline_run: Path, tmp_path: Path) -> Path:
    """A clone that has run the pipeline (with its outputs and cache), alone in this test's folder."""
    return project_copy(pipeline_run, tmp_path / "project")


def set_credentials(project: Path, remote: Remote) -> None:
    """Store the remote's credentials in .dvc/config.local, which git ignores."""
    for option, value in remote.credentials.items():
        run(["dvc", "remote", "modify", "--local", remote.name, option, value], project)


def git_clone(project: Path, destination: Path) -> Path:
    """A fresh clone of the project's git repository: code, params and dvc.lock, but no data."""
    run(["git", "clone", "-q", str(project), str(destination)], destination.parent)
    return destination


def push_then_clone(project: Path, remote: Remote, destination: Path) -> Path:
    """Push the project's data to `remote` (committing its URL), then make a fresh clone set up to pull from it."""
    if remote.url:
        run(["dvc", "remote", "add", "--default", remote.name, remote.url], project)
        commit(project, f"Keep the data on the {remote.name} remote")
    set_credentials(project, remote)
    run(["dvc", "push", "--run-cache"], project)
    clone = git_clone(project, destination)
    set_credentials(clone, remote)
    return clone


def test_default_remote_is_a_folder_beside_the_clone(project: Path, tmp_path: Path):
    from dvc.repo import Repo

    with Repo(project) as repo:
        remote = repo.cloud.get_remote()
    assert (remote.name, remote.path) == ("local", str(tmp_path / "fashion-mnist-dvc-storage"))


@pytest.mark.parametrize("remote_fixture", ["local_remote", "ssh_remote", "s3_remote"])
def test_a_fresh_clone_pulls_the_outputs_instead_of_training(
    remote_fixture: str, request: pytest.FixtureRequest, teammate: Path, tmp_path: Path
):
    remote: Remote = request.getfixturevalue(remote_fixture)
    clone = push_then_clone(teammate, remote, tmp_path / "clone")

    pulled = run(["dvc", "pull"], clone)
    assert "files fetched" in pulled.stdout
    for output in CACHED_OUTPUTS:
        assert (clone / output).read_bytes() == (teammate / output).read_bytes(), output
    assert run(["dvc", "status"], clone).stdout.strip() == "Data and pipelines are up to date."
    assert f"Cache and remote '{remote.name}' are in sync." in run(["dvc", "status", "--cloud"], clone).stdout
    assert stages_run(run(REPRODUCE_ALL, clone).stdout) == []
    committed_config = (clone / ".dvc/config").read_text()
    assert not any(value in committed_config for value in remote.credentials.values())


def test_repro_pull_in_a_fresh_clone_fetches_what_it_needs_and_runs_nothing(teammate: Path, tmp_path: Path):
    run(["dvc", "push", "--run-cache"], teammate)
    clone = git_clone(teammate, tmp_path / "clone")

    # With --allow-missing DVC only checks that nothing changed since dvc.lock, and so downloads nothing.
    checked = run([*REPRODUCE_ALL, "--pull", "--allow-missing"], clone)
    assert stages_run(checked.stdout) == []
    assert not (clone / "models/model.keras").exists()

    restored = run([*REPRODUCE_ALL, "--pull"], clone)
    assert stages_run(restored.stdout) == []
    assert "Pulling data for stage: 'train'" in restored.stdout
    for output in CACHED_OUTPUTS:
        assert (clone / output).read_bytes() == (teammate / output).read_bytes(), output


def train_run_cache_entries(project: Path) -> list[dict]:
    """The run-cache entries DVC can use for train: the code and data of dvc.lock, the params now in params.yaml."""
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["train"]
    locked = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["train"]
    # The command as run, with train.backend filled in: dvc.yaml's holds the template.
    command, deps = locked["cmd"], locked["deps"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    params = {section: params[section] for section in stage["params"]}
    entries = (yaml.safe_load(path.read_text()) for path in (project / ".dvc/cache/runs").glob("*/*/*"))
    return [
        entry
        for entry in entries
        if entry["cmd"] == command and entry["deps"] == deps and entry["params"]["params.yaml"] == params
    ]


@pytest.fixture
def untried_params_on_the_remote(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, bool]:
    """Each output that the run-cache entry of params never committed names, and whether the remote holds it.

    A teammate trains with 4 epochs and pushes the run cache, committing nothing; a fresh clone set to
    4 epochs fetches the run cache and finds that run's entry.
    """
    # The test below expects an AssertionError: a broken setup must raise something else, to error out.
    try:
        teammate = request.getfixturevalue("teammate")
        set_params(teammate, {"train": {"epochs": 4}})
        assert stages_run(run(["dvc", "repro", "train"], teammate).stdout) == ["train"]
        run(["dvc", "push", "--run-cache"], teammate)
        clone = git_clone(teammate, tmp_path / "clone")
        set_params(clone, {"train": {"epochs": 4}})
        run(["dvc", "fetch", "--run-cache"], clone)
        entries = train_run_cache_entries(clone)
        assert len(entries) == 1, f"the clone should find one run-cache entry for train, found {len(entries)}"
        storage = tmp_path / "fashion-mnist-dvc-storage"  # the default remote, beside both clones
        on_remote = {
            out["path"]: (storage / "files/md5" / out["md5"][:2] / out["md5"][2:]).is_file()
            for out in entries[0]["outs"]
        }
        # dvc.yaml lists train's cached outputs under `outs`; its metrics and history are `cache: false`.
        cached_outputs = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"]["train"]["outs"]
        assert all(on_remote[output] for output in cached_outputs), on_remote
    except AssertionError as error:
        pytest.fail(f"setting up the clone with the pushed run cache failed: {error}")
    return on_remote


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=RUN_CACHE_BLOCKED)
def test_the_remote_holds_every_output_of_a_pushed_run_cache_entry(untried_params_on_the_remote: dict[str, bool]):
    # The cached outputs are there (the fixture checks it): what is missing are train's metrics and history.
    missing = sorted(path for path, present in untried_params_on_the_remote.items() if not present)
    assert missing == []


def test_an_experiment_shared_with_exp_push_is_pulled_not_retrained(teammate: Path, tmp_path: Path):
    # The way to share a params combination that is not at HEAD: an experiment, pushed to the git
    # remote (its params, dvc.lock and git-tracked metrics) and to the DVC remote (its models).
    origin = tmp_path / "origin.git"  # Stands in for the team's git server.
    run(["git", "clone", "-q", "--bare", str(teammate), str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], teammate)
    ran = run(["dvc", "exp", "run", "plot", "-n", "four-epochs", "-S", "train.epochs=4"], teammate)
    assert stages_run(ran.stdout) == ["train", "plot"]
    tried_model = (teammate / "models/model.keras").read_bytes()
    run(["dvc", "exp", "push", "origin", "four-epochs"], teammate)

    clone = git_clone(origin, tmp_path / "clone")
    run(["dvc", "exp", "pull", "origin", "four-epochs"], clone)
    run(["dvc", "exp", "apply", "four-epochs"], clone)
    run(["dvc", "pull", "train"], clone)
    assert yaml.safe_load((clone / "params.yaml").read_text())["train"]["epochs"] == 4
    assert (clone / "models/model.keras").read_bytes() == tried_model
    assert stages_run(run(["dvc", "repro", "plot"], clone).stdout) == []
