"""`tinym2net build`: data -> teacher -> student (KD + attention transfer) -> int8 -> C -> firmware -> emulator.

The whole test split runs through the firmware in the emulator; its accuracy must equal the host
int8 accuracy (LiteRT reference kernels) exactly, sample for sample. Everything is written into a
temporary folder and moved into ``--out`` whole at the end.

Output folder::

    report.json        every figure of the run (see REPORT_KEYS)
    model.tflite       the int8 student
    model/             the model artifact (C sources + metadata.json, docs/artifact.md)
    project/           the PlatformIO project (pio run -e emulator / pio test -e emulator / -e nano33ble)
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np

from .boards import Board, load_board
from .errors import BudgetError, VerificationError
from .fsutil import atomic_output_dir, check_writable_output
from .importer import parse_tflite
from .models import DEFAULT_WEIGHT_BUDGET
from .reference import run_litert
from .verify import compare_outputs, run_on_firmware

Progress = Callable[[str], None]

REPORT_KEYS = (
    "demo",
    "board",
    "teacher_accuracy",
    "student_float_accuracy",
    "student_int8_accuracy",
    "device_accuracy",
    "single_modality_accuracy",
    "weights_bytes",
    "ram_bytes",
    "flash_bytes",
    "seed",
)


def _argmax(outputs: list[list[np.ndarray]]) -> np.ndarray:
    return np.array([int(np.argmax(o[0].reshape(-1))) for o in outputs], dtype=np.int64)


def check_budget(board: Board, *, ram_bytes: int, flash_bytes: int, ram_budget: int | None, flash_budget: int | None, peak: str) -> None:
    ram_cap = ram_budget if ram_budget is not None else board.sram_bytes
    flash_cap = flash_budget if flash_budget is not None else board.flash_bytes
    if ram_bytes > ram_cap:
        raise BudgetError(
            f"the model needs {ram_bytes} B of RAM but {ram_cap} B are available on {board.name} "
            f"({ram_bytes - ram_cap} B over; peak at {peak}); use a smaller student or raise --ram-budget"
        )
    if flash_bytes > flash_cap:
        raise BudgetError(
            f"the model needs {flash_bytes} B of flash but {flash_cap} B are available on {board.name} "
            f"({flash_bytes - flash_cap} B over); use a smaller student, --bits 4, or raise --flash-budget"
        )


def run_build(
    *,
    board_name: str,
    out_dir: Path | None,
    force: bool = False,
    seed: int = 0,
    demo: str = "posture",
    data: Path | None = None,
    epochs: int | None = None,
    quick: bool = False,
    ablations: bool = False,
    weight_budget: int = DEFAULT_WEIGHT_BUDGET,
    ram_budget: int | None = None,
    flash_budget: int | None = None,
    progress: Progress = lambda s: None,
) -> dict[str, Any]:
    from .verify import require_firmware_tools

    board = load_board(board_name)
    require_firmware_tools()  # fail before minutes of training, not after
    if out_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="tinym2net-build-"))
        progress(f"no --out given: writing into {out_dir}")
    check_writable_output(Path(out_dir), force=force)
    t0 = time.monotonic()

    from .data import load_dataset

    source = str(data) if data is not None else demo
    progress(f"loading data: {source}")
    dataset = load_dataset(source, seed=seed, quick=quick)

    from .training import train_pipeline

    progress(f"training teacher, students and distillation on {dataset.name} ({len(dataset.train)} train samples)")
    trained = train_pipeline(dataset, epochs=epochs, seed=seed, quick=quick, progress=True, ablations=ablations,
                             weight_budget=weight_budget)
    tflite = trained.tflite

    from .quantize import quantize_inputs

    graph = parse_tflite(tflite, name=f"{dataset.name}_student")
    q = quantize_inputs(tflite, dataset.test.x)
    samples = [[arr[i : i + 1].reshape(graph.tensors[graph.inputs[k]].shape) for k, arr in enumerate(q)] for i in range(len(dataset.test))]
    progress(f"int8 reference (LiteRT reference kernels) on the {len(samples)} test samples")
    host_out = run_litert(tflite, graph, samples)
    host_pred = _argmax(host_out)
    host_acc = float(np.mean(host_pred == dataset.test.y))

    with atomic_output_dir(Path(out_dir), force=force) as tmp:
        work = Path(tempfile.mkdtemp(prefix="tm2-build-"))
        try:
            fw = run_on_firmware(
                tflite, graph, board, samples, work, model_name=graph.name, expected=host_out, progress=progress
            )
            shutil.copytree(fw.artifact_dir, tmp / "model")
            shutil.copytree(fw.project_dir, tmp / "project", symlinks=True, ignore=shutil.ignore_patterns(".pio", ".platformio"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        dev_pred = _argmax(fw.outputs)
        dev_acc = float(np.mean(dev_pred == dataset.test.y))
        mismatched = compare_outputs(fw.outputs, host_out)
        peak = f"operator {fw.compiled.plan.peak_op} ({graph.operators[fw.compiled.plan.peak_op].kind.value})"
        check_budget(board, ram_bytes=fw.build.ram_bytes, flash_bytes=fw.build.flash_bytes, ram_budget=ram_budget, flash_budget=flash_budget, peak=peak)
        report: dict[str, Any] = {
            "demo": dataset.name,
            "board": board.name,
            "seed": seed,
            "quick": quick,
            "teacher_accuracy": trained.teacher.float_accuracy,
            "student_float_accuracy": trained.chosen.float_accuracy,
            "student_int8_accuracy": host_acc,
            "device_accuracy": dev_acc,
            "device_bit_exact": mismatched == 0,
            "test_samples": len(samples),
            "single_modality_accuracy": {k: v.float_accuracy for k, v in trained.single_modality.items()},
            "ablations": {k: trained.scores[k].float_accuracy for k in ("student", "student_kd") if k in trained.scores},
            "weight_budget_bytes": weight_budget,
            "student_config": asdict(trained.student_config),
            "weights_bytes": trained.weight_bytes,  # int8 weights + int32 biases, as the .tflite holds them
            "constants_bytes": fw.compiled.weights_bytes,  # all constant arrays in flash (+ requant tables)
            "arena_bytes": fw.compiled.arena_bytes,
            "ram_bytes": fw.build.ram_bytes,
            "flash_bytes": fw.build.flash_bytes,
            "board_sram_bytes": board.sram_bytes,
            "board_flash_bytes": board.flash_bytes,
            "train_seconds": round(trained.seconds, 1),
        }
        (tmp / "model.tflite").write_bytes(tflite)
        (tmp / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    report["seconds"] = round(time.monotonic() - t0, 1)
    _print_summary(report, Path(out_dir))
    if mismatched:
        raise VerificationError(
            f"the firmware's outputs differ from the int8 reference in {mismatched} bytes; "
            f"run `tinym2net check {Path(out_dir) / 'model.tflite'}` to find the first differing layer"
        )
    return report


def _pct(x: float) -> str:
    return f"{100 * x:6.2f} %"


def _print_summary(r: dict[str, Any], out: Path) -> None:
    rows = [
        ("teacher (float)", _pct(r["teacher_accuracy"])),
    ]
    rows += [(label, _pct(r["ablations"][k])) for k, label in (("student", "student alone (float)"), ("student_kd", "student KD (float)")) if k in r["ablations"]]
    rows += [
        ("student KD+AT (float)", _pct(r["student_float_accuracy"])),
        ("student KD+AT int8 (host)", _pct(r["student_int8_accuracy"])),
        ("student KD+AT int8 (device)", _pct(r["device_accuracy"])),
    ]
    rows += [(f"single modality: {k}", _pct(v)) for k, v in sorted(r["single_modality_accuracy"].items())]
    click.echo("")
    click.echo(f"tinym2net build: {r['demo']} on {r['board']} ({r['test_samples']} test samples, seed {r['seed']})")
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        click.echo(f"  {a:<{w}}  {b}")
    click.echo("")
    click.echo(f"  {'':<14}{'used':>10}{'budget':>10}{'share':>9}")
    for label, used, cap in (("RAM", r["ram_bytes"], r["board_sram_bytes"]), ("flash", r["flash_bytes"], r["board_flash_bytes"])):
        click.echo(f"  {label:<14}{used:>10}{cap:>10}{100 * used / cap:>8.1f}%")
    click.echo(f"  {'weights':<14}{r['weights_bytes']:>10}   int8 weights + int32 biases")
    click.echo(f"  {'constants':<14}{r['constants_bytes']:>10}   in flash, with per-channel requantisation tables")
    click.echo(f"  {'arena':<14}{r['arena_bytes']:>10}")
    ok = "bit-exact" if r["device_bit_exact"] else "MISMATCH"
    click.echo(f"\n  verification: every test sample run in the emulator, {ok} against the int8 reference")
    click.echo(f"  output: {out} (report.json, model.tflite, model/, project/)")
