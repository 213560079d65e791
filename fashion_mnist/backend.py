"""What depends on the Keras backend (TensorFlow or JAX) and the machine: determinism, bfloat16 where it is
native, and spreading one training run over several devices or processes with Keras's distribution API."""

import os
import platform
from collections.abc import Callable
from pathlib import Path

import keras

from fashion_mnist.errors import ParamsError, PipelineError
from fashion_mnist.params import CPU_ISAS, DISTRIBUTIONS, PRECISIONS

# XLA picks the fastest of several GPU kernels, some of which add in a varying order; this keeps one order.
DETERMINISTIC_XLA_FLAG = "--xla_gpu_deterministic_ops=true"
# XLA's cap on the instruction set its CPU code uses, as oneDNN's is ONEDNN_MAX_CPU_ISA.
XLA_MAX_ISA_FLAG = "--xla_cpu_max_isa"
# Where a run over several processes learns its coordinator, its size and its own place: JAX's variable
# for the coordinator, and the matching two for the rest.
PROCESS_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def cap_instruction_set(cpu_isa: str, environment: dict[str, str] = os.environ) -> str:
    """Apply `train.cpu_isa` to `environment`; return what the stage's numbers then depend on, in words.

    oneDNN (TensorFlow's kernels) and XLA (JAX's compiler) pick their code by the CPU's instruction set, and float32
    sums come out in another order with AVX-512 than with AVX2. `avx2` caps both at AVX2 with FMA, which every
    x86-64 CPU since about 2015 has, so the same params give the same bytes on all of them; `native` lets the CPU
    decide. Call it before the first computation: oneDNN reads its cap when it first runs a kernel, and XLA its flags
    when JAX first starts a device. ARM CPUs have their own kernels, which no cap makes equal to x86's.
    """
    if cpu_isa not in CPU_ISAS:
        raise ParamsError(f"train.cpu_isa must be one of {', '.join(CPU_ISAS)}, got {cpu_isa!r}")
    machine = platform.machine().lower()
    flags = environment.get("XLA_FLAGS", "").split()
    flags = [flag for flag in flags if not flag.startswith(f"{XLA_MAX_ISA_FLAG}=")]
    environment.pop("ONEDNN_MAX_CPU_ISA", None)
    if cpu_isa == "native":
        described = f"native ({machine}): results depend on this CPU"
    elif machine in ("x86_64", "amd64"):
        environment["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        flags.append(f"{XLA_MAX_ISA_FLAG}=AVX2")
        described = "avx2: the same bytes on every x86-64 CPU with AVX2 and FMA"
    else:
        described = f"avx2 has no effect on {machine}: results depend on this CPU"
    if flags:
        environment["XLA_FLAGS"] = " ".join(flags)
    else:
        environment.pop("XLA_FLAGS", None)
    return described


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and the backend, and make the backend's ops deterministic.

    Call it before any computation: XLA reads its flags when JAX first starts a device.
    """
    keras.utils.set_random_seed(seed)
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif keras.config.backend() == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        if DETERMINISTIC_XLA_FLAG not in flags.split():
            os.environ["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_XLA_FLAG}".strip()


def cache_compilations(directory: Path) -> None:
    """On JAX, keep the compiled XLA programs in `directory`, shared by the stages' processes: final-train then loads
    the step that train compiled for the same model, batch and schedule, where compiling it again would take most of
    a short run's seconds on a GPU. XLA compiles deterministically, so the numbers are the same either way."""
    if keras.config.backend() == "jax":
        import jax

        jax.config.update("jax_compilation_cache_dir", str(directory))


def gpus() -> list[tuple[str, tuple[int, int]]]:
    """The name and compute capability of each NVIDIA GPU the backend sees; empty on a machine without one."""
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        details = [tf.config.experimental.get_device_details(gpu) for gpu in tf.config.list_physical_devices("GPU")]
        return [(gpu.get("device_name", "GPU"), tuple(gpu.get("compute_capability", (0, 0)))) for gpu in details]
    if keras.config.backend() == "jax":
        import jax

        return [
            (device.device_kind, tuple(int(part) for part in str(device.compute_capability).split(".")))
            for device in jax.devices()
            if device.platform == "gpu" and hasattr(device, "compute_capability")
        ]
    return []


def native_bfloat16() -> bool:
    """Whether this machine computes in bfloat16 natively: a GPU of compute capability 8.0 or more, or a
    CPU with AVX512_BF16 or AMX. Elsewhere bfloat16 is emulated, slower than float32."""
    if any(capability >= (8, 0) for _, capability in gpus()):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """The Keras dtype policy for `precision`: `auto` is mixed_bfloat16 where it runs natively, else float32."""
    if precision == "auto":
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return precision


def set_precision(precision: str) -> str:
    """Make `precision` the policy of every model built from now on; return the policy chosen."""
    policy = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def process_settings(environment: dict[str, str]) -> tuple[str, int, int] | None:
    """The coordinator address, process count and process id that `environment` names, or None when it
    names none (a single process). Raises PipelineError naming the variable that is missing or wrong."""
    present = [name for name in PROCESS_VARIABLES if environment.get(name)]
    if not present:
        return None
    missing = [name for name in PROCESS_VARIABLES if name not in present]
    if missing:
        raise PipelineError(
            f"{', '.join(present)} set but not {', '.join(missing)}: a run over several processes needs all three"
        )
    address = environment["JAX_COORDINATOR_ADDRESS"]
    try:
        count, index = int(environment["JAX_NUM_PROCESSES"]), int(environment["JAX_PROCESS_ID"])
    except ValueError:
        raise PipelineError("JAX_NUM_PROCESSES and JAX_PROCESS_ID must be whole numbers") from None
    if count < 1 or not 0 <= index < count:
        raise PipelineError(f"JAX_PROCESS_ID must be from 0 to JAX_NUM_PROCESSES - 1 = {count - 1}, not {index}")
    return address, count, index


def start_distribution(distribution: str, environment: dict[str, str], batch_size: int) -> tuple[int, int, int]:
    """Set up `train.distribution`; return this process's index, the process count and the device count.

    data_parallel copies the model to every device, gives each a slice of every batch and averages the
    gradients: Keras's DataParallel, which runs on JAX. Over several processes (PROCESS_VARIABLES),
    each feeds its own slice of the global batch.
    """
    if distribution == "none":
        return 0, 1, 1
    if distribution != "data_parallel":
        raise ParamsError(f"train.distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    if keras.config.backend() != "jax":
        raise ParamsError(
            f"train.distribution: data_parallel runs on the JAX backend (KERAS_BACKEND=jax); "
            f"this run uses {keras.config.backend()}"
        )
    import jax

    settings = process_settings(environment)
    if settings:
        address, count, index = settings
        # Processes on CPUs exchange gradients over Gloo; GPUs use NCCL whatever this says.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize(job_addresses=address, num_processes=count, process_id=index)
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise ParamsError(
            f"train.batch_size must be a multiple of the {len(devices)} devices that data_parallel splits "
            f"every batch over, got {batch_size}"
        )
    keras.distribution.set_distribution(
        # Each process feeds its own slice of every batch (epoch_batches' `part`), so Keras must not shard again.
        keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    )
    return jax.process_index(), jax.process_count(), len(devices)


def local_copy(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """A copy of a data-parallel `model` that lives in this process alone, made by `build`.

    Saving reads the variables, and a variable spread over several processes is read by all of them
    together; the process that writes the outputs saves this copy instead.
    """
    weights = model.get_weights()
    keras.distribution.set_distribution(None)
    copy = build()
    copy.set_weights(weights)
    return copy
