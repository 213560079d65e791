"""The machine a benchmark ran on: its CPU and the flags that matter here, its cores, GPUs and library versions.

python -m benchmarks.machine --output reports/recipes/accurate/float32/machine.json   # beside a run's copied reports
"""

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from fashion_mnist.backend import gpus, native_bfloat16
from fashion_mnist.files import write_json
from fashion_mnist.identity import library_versions


def machine() -> dict:
    """The CPU, its flags that matter here, the core count, the GPUs, and the library versions."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    flags = set(cpuinfo.split())
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "native_bfloat16": native_bfloat16(),
        "gpus": [name for name, _ in gpus()],
        "python": platform.python_version(),
        **library_versions(),
    }


def main() -> None:
    """Write this machine's description, dated, where a run's reports say which machine made them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="the JSON file to write")
    arguments = parser.parse_args()
    write_json(arguments.output, {"date": datetime.now(UTC).date().isoformat(), **machine()})


if __name__ == "__main__":
    main()
