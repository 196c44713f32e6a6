"""`tinym2net check`: compile, build, run in the emulator, compare with the TFLite reference byte for byte.

On a mismatch the model is also compiled for the host with a per-operator trace and compared layer
by layer with LiteRT's preserved intermediate tensors, so the first differing operator is named.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import write_artifact
from .boards import Board
from .compiler import Compiled, compile_graph
from .hostrun import build_host_model, trace_host_model
from .importer import parse_tflite
from .ir import Graph
from .project import generate_project
from .reference import Sample, pack_samples, random_inputs, run_litert, run_litert_all_tensors, unpack_outputs
from .toolchain import BuildResult, pio_build, run_qemu

Progress = Callable[[str], None]


@dataclass
class CheckResult:
    model: str
    board: str
    bit_exact: bool
    inputs_compared: int
    arena_bytes: int
    ram_bytes: int
    flash_bytes: int
    weights_bytes: int
    mismatched_bytes: int = 0
    first_mismatch: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d


@dataclass
class FirmwareRun:
    compiled: Compiled
    build: BuildResult
    outputs: list[Sample]
    project_dir: Path
    artifact_dir: Path
    stderr: str


def compare_outputs(got: Sequence[Sample], want: Sequence[Sample]) -> int:
    """Number of output bytes that differ (0 means bit-exact)."""
    bad = 0
    for g_s, w_s in zip(got, want, strict=True):
        for g, w in zip(g_s, w_s, strict=True):
            gb = np.ascontiguousarray(g).view(np.uint8).reshape(-1)
            wb = np.ascontiguousarray(w.astype(g.dtype)).view(np.uint8).reshape(-1)
            if gb.shape != wb.shape:
                bad += max(gb.size, wb.size)
            else:
                bad += int(np.count_nonzero(gb != wb))
    return bad


def first_differing_layer(model: bytes, graph: Graph, artifact_dir: Path, sample: Sample, work: Path) -> dict[str, Any] | None:
    """Compile the artifact for the host with a per-op trace and name the first op that differs from LiteRT."""
    exe = build_host_model(artifact_dir, work / "model_trace", trace=True)
    traced = trace_host_model(exe, graph, sample)
    ref = run_litert_all_tensors(model, graph, sample)
    for op_index, data in traced.items():
        op = graph.operators[op_index]
        out = op.outputs[0]
        if out not in ref:
            continue
        want = np.ascontiguousarray(ref[out]).view(np.uint8).reshape(-1).tobytes()
        if want != data:
            diff = sum(a != b for a, b in zip(want, data, strict=False)) + abs(len(want) - len(data))
            return {
                "operator": op_index,
                "op": op.kind.value,
                "output_tensor": graph.tensors[out].name,
                "differing_bytes": int(diff),
            }
    return None


def build_firmware(
    compiled: Compiled, board: Board, *, model_name: str, progress: Progress = lambda s: None
) -> BuildResult:
    """Generate the artifact and project in a temporary folder and cross-build it (no run)."""
    with tempfile.TemporaryDirectory(prefix="tm2-build-") as tmp:
        work = Path(tmp)
        write_artifact(compiled, work / "artifact", model_name=model_name, board=board.name)
        project = generate_project(work / "artifact", board, work / "project")
        progress("cross-building the firmware (pio run)")
        build = pio_build(project, env="emulator")
        return build  # its elf/log paths are gone with the temporary folder; the sizes remain


def run_on_firmware(
    model: bytes,
    graph: Graph,
    board: Board,
    samples: Sequence[Sample],
    work: Path,
    *,
    model_name: str,
    expected: Sequence[Sample] = (),
    progress: Progress = lambda s: None,
    timeout_s: float = 600,
) -> FirmwareRun:
    progress("compiling the model to C")
    compiled = compile_graph(graph, model)
    artifact = work / "artifact"
    artifact.mkdir(parents=True, exist_ok=True)
    n_embedded = min(len(expected), 4)
    write_artifact(
        compiled, artifact, model_name=model_name, board=board.name,
        samples=samples[:n_embedded], expected=expected[:n_embedded],
    )
    progress("generating the PlatformIO project")
    project = generate_project(artifact, board, work / "project")
    progress("cross-building the firmware (pio run)")
    build = pio_build(project, env="emulator")
    progress(f"running {len(samples)} inputs in QEMU ({board.emulator_machine})")
    run_dir = work / "run"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "tm2_in.bin").write_bytes(pack_samples(samples))
    res = run_qemu(build.elf, board, run_dir, timeout_s)
    out_file = run_dir / "tm2_out.bin"
    data = out_file.read_bytes() if out_file.exists() else b""
    outputs = unpack_outputs(data, graph, len(samples))
    return FirmwareRun(compiled, build, outputs, project, artifact, res.stderr)


def check_model(
    model_path: Path,
    board: Board,
    *,
    inputs: int = 8,
    seed: int = 0,
    keep_dir: Path | None = None,
    progress: Progress = lambda s: None,
) -> CheckResult:
    model = Path(model_path).read_bytes()
    graph = parse_tflite(model, name=Path(model_path).stem)
    samples = random_inputs(graph, inputs, seed)
    progress("running the TFLite reference interpreter (reference kernels)")
    want = run_litert(model, graph, samples)
    with tempfile.TemporaryDirectory(prefix="tm2-check-") as tmp:
        work = Path(keep_dir) if keep_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        fw = run_on_firmware(
            model, graph, board, samples, work, model_name=Path(model_path).stem, expected=want, progress=progress
        )
        bad = compare_outputs(fw.outputs, want)
        first = None
        if bad:
            progress("outputs differ: comparing layer by layer on the host")
            mismatch_sample = next(
                s for s, g, w in zip(samples, fw.outputs, want, strict=False) if compare_outputs([g], [w])
            )
            first = first_differing_layer(model, graph, fw.artifact_dir, mismatch_sample, work)
    return CheckResult(
        model=str(model_path),
        board=board.name,
        bit_exact=bad == 0,
        inputs_compared=len(samples),
        arena_bytes=fw.compiled.arena_bytes,
        ram_bytes=fw.build.ram_bytes,
        flash_bytes=fw.build.flash_bytes,
        weights_bytes=fw.compiled.weights_bytes,
        mismatched_bytes=bad,
        first_mismatch=first,
        extra={"peak_op": fw.compiled.plan.peak_op},
    )
