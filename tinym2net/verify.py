"""`tinym2net check`: compile, build, run in the emulator, compare with the TFLite reference byte for byte.

On a mismatch the model is also compiled for the host with a per-operator trace and compared layer
by layer with LiteRT's preserved intermediate tensors, so the first differing operator is named.

Before anything is built, the tools are looked up (a missing cross compiler or emulator fails at once
with its install command) and the memory plan is held against the RAM / flash budget
(:func:`check_plan_budget`: arena + stack and constant bytes are lower bounds of what the firmware
will need, so a model refused here could never fit). After the link the real section sizes are held
against the same budget (:func:`check_linked_budget`); the linker's region-overflow error stays the
backstop for the board's own sizes. After the emulator run, its exit status and the stack high-water
mark the firmware logs (``tm2: stack used N`` / ``tm2: stack size N``, painted-stack method of
``firmware/runtime/tm2_stack.h``) are checked: a fault or an exhausted stack is an error even when the
outputs happen to match.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import write_artifact
from .boards import Board
from .compiler import Compiled, compile_graph
from .errors import BudgetError, ToolchainError
from .hostrun import build_host_model, trace_host_model
from .importer import parse_tflite
from .ir import Graph
from .project import DEFAULT_STACK_BYTES, generate_project
from .reference import Sample, pack_samples, random_inputs, run_litert, run_litert_all_tensors, unpack_outputs
from .toolchain import BuildResult, pio_build, pio_executable, require_tool, run_qemu

Progress = Callable[[str], None]

# A high-water mark this close to the stack's size means the paint ran out: QEMU's MPS2 machines
# ignore writes below RAM, so an overflow shows up as "used == size" rather than as a fault.
STACK_HEADROOM_BYTES = 64
DEFAULT_EMULATOR_TIMEOUT_S = 600.0
_STACK_USED_RE = re.compile(r"tm2: stack used (\d+)")
_STACK_SIZE_RE = re.compile(r"tm2: stack size (\d+)")


@dataclass(frozen=True)
class Budget:
    """RAM and flash bytes the firmware may use, and where each figure came from (for messages)."""

    ram_bytes: int
    flash_bytes: int
    ram_from: str  # e.g. "--ram-budget" or "board nano33's SRAM"
    flash_from: str
    board: str


def resolve_budget(board: Board, ram_budget: int | None = None, flash_budget: int | None = None) -> Budget:
    """The user's budgets where given, else the board's SRAM and flash sizes."""
    return Budget(
        ram_bytes=ram_budget if ram_budget is not None else board.sram_bytes,
        flash_bytes=flash_budget if flash_budget is not None else board.flash_bytes,
        ram_from="--ram-budget" if ram_budget is not None else f"board {board.name}'s SRAM",
        flash_from="--flash-budget" if flash_budget is not None else f"board {board.name}'s flash",
        board=board.name,
    )


def _ram_fix(budget: Budget) -> str:
    if budget.ram_from == "--ram-budget":
        return "use a smaller model (fewer channels or a smaller input) or raise --ram-budget"
    return "use a smaller model (fewer channels or a smaller input) or a board with more RAM (--board)"


def _flash_fix(budget: Budget) -> str:
    if budget.flash_from == "--flash-budget":
        return "use a smaller model (fewer or narrower layers, int4 weights) or raise --flash-budget"
    return "use a smaller model (fewer or narrower layers, int4 weights) or a board with more flash (--board)"


def peak_layer(compiled: Compiled) -> str:
    """``operator 3 (CONV_2D -> 'conv1')``: the operator at which the arena's live bytes peak."""
    op_index = compiled.plan.peak_op
    if op_index < 0:
        return "no operator"
    op = compiled.graph.operators[op_index]
    out = compiled.graph.tensors[op.outputs[0]].name.split(";")[0]
    return f"operator {op_index} ({op.kind.value} -> '{out}')"


def check_plan_budget(compiled: Compiled, budget: Budget, *, stack_bytes: int = DEFAULT_STACK_BYTES) -> None:
    """Refuse, before building, a model whose memory plan cannot fit the budget.

    RAM needed >= tensor arena (planned exactly) + the firmware's stack section; flash needed >=
    constant data (weights + per-op tables). Both are lower bounds of the linked image (code, I/O
    buffers and libc come on top), so a model refused here would be refused after the link too.
    """
    ram = compiled.arena_bytes + stack_bytes
    if ram > budget.ram_bytes:
        raise BudgetError(
            f"model '{compiled.graph.name}' needs at least {ram} B of RAM (tensor arena "
            f"{compiled.arena_bytes} B, peak at {peak_layer(compiled)}, + {stack_bytes} B stack) but "
            f"{budget.ram_from} is {budget.ram_bytes} B ({ram - budget.ram_bytes} B over): {_ram_fix(budget)}"
        )
    flash = compiled.weights_bytes + compiled.tables_bytes
    if flash > budget.flash_bytes:
        raise BudgetError(
            f"model '{compiled.graph.name}' needs at least {flash} B of flash (weights "
            f"{compiled.weights_bytes} B + per-op tables {compiled.tables_bytes} B) but "
            f"{budget.flash_from} is {budget.flash_bytes} B ({flash - budget.flash_bytes} B over): "
            f"{_flash_fix(budget)}"
        )


def check_linked_budget(compiled: Compiled, build: BuildResult, budget: Budget) -> None:
    """Hold the linked firmware's RAM (data + bss + stack) and flash (text + data) against the budget."""
    if build.ram_bytes > budget.ram_bytes:
        raise BudgetError(
            f"the firmware of model '{compiled.graph.name}' needs {build.ram_bytes} B of RAM (tensor arena "
            f"{compiled.arena_bytes} B, peak at {peak_layer(compiled)}) but {budget.ram_from} is "
            f"{budget.ram_bytes} B ({build.ram_bytes - budget.ram_bytes} B over): {_ram_fix(budget)}"
        )
    if build.flash_bytes > budget.flash_bytes:
        raise BudgetError(
            f"the firmware of model '{compiled.graph.name}' needs {build.flash_bytes} B of flash (weights "
            f"{compiled.weights_bytes} B) but {budget.flash_from} is {budget.flash_bytes} B "
            f"({build.flash_bytes - budget.flash_bytes} B over): {_flash_fix(budget)}"
        )


def require_firmware_tools() -> None:
    """Fail at once, with the install command, if the cross compiler, PlatformIO or QEMU is missing."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    pio_executable()


def parse_stack_report(log: str) -> tuple[int, int] | None:
    """``(used, size)`` from the firmware's ``tm2: stack used N`` / ``tm2: stack size N`` lines, if any."""
    used, size = _STACK_USED_RE.findall(log), _STACK_SIZE_RE.findall(log)
    if not used or not size:
        return None
    return int(used[-1]), int(size[-1])


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def check_emulator_run(
    returncode: int, log: str, machine: str, stack_flag: str = "--stack-bytes"
) -> tuple[int, int] | None:
    """Refuse a firmware run that stopped with a non-zero status or exhausted its painted stack.

    Returns the stack report ``(used, size)`` (None if the firmware printed none).
    """
    stack = parse_stack_report(log)
    if returncode != 0:
        hint = " (stack overflow: raise " + stack_flag + ")" if "stack overflow" in log else ""
        raise ToolchainError(
            f"the firmware stopped with status {returncode} in qemu {machine}{hint}; "
            f"last output: {_last_line(log)}"
        )
    if stack is not None:
        used, size = stack
        if used + STACK_HEADROOM_BYTES > size:
            raise BudgetError(
                f"the firmware used {used} B of its {size} B stack: the painted stack is exhausted (it "
                f"probably overflowed); raise {stack_flag} (e.g. {stack_flag} {max(2 * size, 1024)})"
            )
    return stack


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
    stack_bytes: int = 0  # stack high-water mark measured in the emulator (0: not reported)
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
    stack_used: int = 0  # bytes, from the firmware's report (0: not reported)
    stack_size: int = 0


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
    timeout_s: float = DEFAULT_EMULATOR_TIMEOUT_S,
    budget: Budget | None = None,
    stack_bytes: int | None = None,
) -> FirmwareRun:
    """Compile, build and run ``samples`` in the emulator; ``budget`` defaults to the board's sizes."""
    require_firmware_tools()
    progress("compiling the model to C")
    compiled = compile_graph(graph, model)
    budget = budget if budget is not None else resolve_budget(board)
    stack = stack_bytes if stack_bytes is not None else DEFAULT_STACK_BYTES
    check_plan_budget(compiled, budget, stack_bytes=stack)
    artifact = work / "artifact"
    artifact.mkdir(parents=True, exist_ok=True)
    n_embedded = min(len(expected), 4)
    write_artifact(
        compiled, artifact, model_name=model_name, board=board.name,
        samples=samples[:n_embedded], expected=expected[:n_embedded],
    )
    progress("generating the PlatformIO project")
    project = generate_project(artifact, board, work / "project", stack_bytes=stack_bytes)
    progress("cross-building the firmware (pio run)")
    build = pio_build(project, env="emulator")
    check_linked_budget(compiled, build, budget)
    progress(f"running {len(samples)} inputs in QEMU ({board.emulator_machine})")
    run_dir = work / "run"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "tm2_in.bin").write_bytes(pack_samples(samples))
    res = run_qemu(build.elf, board, run_dir, timeout_s)
    stack_report = check_emulator_run(res.returncode, res.stderr, board.emulator_machine)
    out_file = run_dir / "tm2_out.bin"
    data = out_file.read_bytes() if out_file.exists() else b""
    outputs = unpack_outputs(data, graph, len(samples))
    used, size = stack_report if stack_report is not None else (0, 0)
    return FirmwareRun(
        compiled, build, outputs, project, artifact, res.stderr, stack_used=used, stack_size=size
    )


def check_model(
    model_path: Path,
    board: Board,
    *,
    inputs: int = 8,
    seed: int = 0,
    keep_dir: Path | None = None,
    progress: Progress = lambda s: None,
    ram_budget: int | None = None,
    flash_budget: int | None = None,
    stack_bytes: int | None = None,
    timeout_s: float = DEFAULT_EMULATOR_TIMEOUT_S,
    count: bool = False,
) -> CheckResult:
    """Compile, build, run ``inputs`` random samples in the emulator and compare with LiteRT byte for byte.

    With ``count``, the same firmware ELF also runs one sample in the instruction counter
    (:func:`tinym2net.counting.count_invoke`): the result gains ``macs``, ``instructions``, ``est_cycles``
    (Cortex-M4 estimate of one inference) and ``est_ms`` (at the board's clock), or ``count_error``.
    """
    require_firmware_tools()
    model = Path(model_path).read_bytes()
    graph = parse_tflite(model, name=Path(model_path).stem)
    budget = resolve_budget(board, ram_budget, flash_budget)
    samples = random_inputs(graph, inputs, seed)
    progress("running the TFLite reference interpreter (reference kernels)")
    want = run_litert(model, graph, samples)
    with tempfile.TemporaryDirectory(prefix="tm2-check-") as tmp:
        work = Path(keep_dir) if keep_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        fw = run_on_firmware(
            model, graph, board, samples, work, model_name=Path(model_path).stem, expected=want,
            progress=progress, timeout_s=timeout_s, budget=budget, stack_bytes=stack_bytes,
        )
        bad = compare_outputs(fw.outputs, want)
        first = None
        if bad:
            progress("outputs differ: comparing layer by layer on the host")
            mismatch_sample = next(
                s for s, g, w in zip(samples, fw.outputs, want, strict=False) if compare_outputs([g], [w])
            )
            first = first_differing_layer(model, graph, fw.artifact_dir, mismatch_sample, work)
        speed = count_one_inference(fw.build.elf, graph, board, samples[0], work / "count") if count else {}
    return CheckResult(
        model=str(model_path),
        board=board.name,
        bit_exact=bad == 0,
        inputs_compared=len(samples),
        arena_bytes=fw.compiled.arena_bytes,
        ram_bytes=fw.build.ram_bytes,
        flash_bytes=fw.build.flash_bytes,
        weights_bytes=fw.compiled.weights_bytes,
        stack_bytes=fw.stack_used,
        mismatched_bytes=bad,
        first_mismatch=first,
        extra={"peak_op": fw.compiled.plan.peak_op, "stack_size_bytes": fw.stack_size, **speed},
    )


def count_one_inference(elf: Path, graph: Graph, board: Board, sample: Sample, run_dir: Path) -> dict[str, Any]:
    """MACs of the graph and the counted instructions / estimated Cortex-M4 cycles of one inference."""
    from .analysis import op_macs
    from .counting import count_invoke

    macs = sum(op_macs(graph, op) for op in graph.operators)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tm2_in.bin").write_bytes(pack_samples([sample]))
    try:
        res = count_invoke(elf, board, run_dir)
    except ToolchainError as exc:
        return {"macs": macs, "count_error": str(exc)}
    return {
        "macs": macs,
        "instructions": res.instructions,
        "est_cycles": res.est_cycles,
        "est_ms": round(res.est_ms(board.clock_hz), 3),
        "by_function": {
            name: {"instructions": fc.instructions, "est_cycles": fc.est_cycles} for name, fc in res.by_function.items()
        },
    }
