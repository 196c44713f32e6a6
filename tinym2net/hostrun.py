"""Rung two of the numeric ladder: the generated model compiled for the host and run natively."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ToolchainError
from .ir import Graph
from .reference import Sample, pack_samples, unpack_outputs
from .resources import firmware_dir
from .toolchain import host_build


def host_sources(artifact_dir: Path) -> tuple[list[Path], list[Path]]:
    fw = firmware_dir()
    src = artifact_dir / "src"
    sources = sorted(src.glob("*.c")) + sorted((fw / "kernels").glob("*.c")) + [fw / "runtime" / "io_host.c"]
    includes = [src, fw / "kernels", fw / "runtime"]
    return sources, includes


def build_host_model(artifact_dir: Path, out_exe: Path, *, trace: bool = False) -> Path:
    sources, includes = host_sources(artifact_dir)
    defines = {"TM2_TRACE": "1"} if trace else {}
    host_build(sources, includes, out_exe, defines)
    return out_exe


def run_host_model(exe: Path, graph: Graph, samples: Sequence[Sample], *, timeout_s: float = 120) -> list[Sample]:
    with tempfile.TemporaryDirectory(prefix="tm2-host-") as tmp:
        inp, out = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        inp.write_bytes(pack_samples(samples))
        proc = subprocess.run([str(exe), str(inp), str(out)], capture_output=True, timeout=timeout_s)
        if proc.returncode != 0:
            raise ToolchainError(
                f"host build of the model exited with {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[-300:]}"
            )
        return unpack_outputs(out.read_bytes(), graph, len(samples))


def trace_host_model(exe: Path, graph: Graph, sample: Sample, *, timeout_s: float = 120) -> dict[int, bytes]:
    """Run one sample through a TM2_TRACE build; returns operator index -> its output bytes."""
    with tempfile.TemporaryDirectory(prefix="tm2-trace-") as tmp:
        inp, out, tr = (Path(tmp) / n for n in ("in.bin", "out.bin", "trace.bin"))
        inp.write_bytes(pack_samples([sample]))
        proc = subprocess.run([str(exe), str(inp), str(out), str(tr)], capture_output=True, timeout=timeout_s)
        if proc.returncode != 0:
            raise ToolchainError(f"traced host build of the model exited with {proc.returncode}")
        data = tr.read_bytes()
    result: dict[int, bytes] = {}
    pos = 0
    while pos + 8 <= len(data):
        op, n = np.frombuffer(data[pos : pos + 8], dtype=np.int32)
        pos += 8
        result[int(op)] = data[pos : pos + int(n)]
        pos += int(n)
    return result
