"""Speed of the generated firmware: MACs, counted instructions and estimated Cortex-M4 cycles per inference.

For each model (the four MLPerf Tiny reference models and the zoo's ``depth_thermal`` / ``audio_image``
as stand-ins for the demo students) the firmware is built twice for the nano33 board (Cortex-M4F, the
core both builds run on):

* ``reference``: the reference kernels (tm2_conv.c, tm2_fc.c, ...: tensors in their own layouts, the
  packed lowerings switched off) with ``-DTM2_PORTABLE`` -- the code before the DSP work;
* ``portable``: the packed kernels with ``-DTM2_PORTABLE``, so every kernel uses its plain C body;
* ``dsp``: the normal build, whose kernels take their SIMD paths under ``__ARM_FEATURE_DSP``.

Each build runs ``--inputs`` random samples in QEMU and is compared byte for byte with LiteRT's reference
kernels; then one sample runs in the instruction counter (:func:`tinym2net.counting.count_invoke`), whose
per-block Cortex-M4 cost table gives the cycle estimate (zero wait states; docs/cycle_model.md).
MACs come from :func:`tinym2net.analysis.op_macs` (conv, depthwise and fully connected layers).

Columns: MACs, instructions, estimated cycles, cycles per MAC, estimated ms at 64 MHz (the nRF52840's
clock) and 120 MHz, and whether the outputs were bit-exact. Prints a markdown table.

With ``--profile`` each build's counted cycles are also split by function (the ELF function symbol that
holds each executed block; :attr:`tinym2net.counting.CountResult.by_function`) and printed after the table.

Run: ``.venv/bin/python benchmarks/speed.py [--models kws_ref_model,...] [--variants portable,dsp]
[--inputs 2] [--json out.json] [--keep DIR] [--profile [--profile-top N]]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinym2net.analysis import op_macs  # noqa: E402
from tinym2net.boards import load_board  # noqa: E402
from tinym2net.importer import parse_tflite  # noqa: E402
from tinym2net.reference import random_inputs, run_litert  # noqa: E402
from tinym2net.verify import compare_outputs, count_one_inference, run_on_firmware  # noqa: E402

MLPERF_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "mlperf_tiny"
MLPERF = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
ZOO = ("depth_thermal", "audio_image")
VARIANTS = {"reference": "-DTM2_PORTABLE", "portable": "-DTM2_PORTABLE", "dsp": ""}
CLOCKS_HZ = (64_000_000, 120_000_000)


@dataclass
class Row:
    model: str
    variant: str
    macs: int
    instructions: int
    est_cycles: int
    bit_exact: bool
    arena_bytes: int
    flash_bytes: int = 0  # the linked firmware's flash (code, weights, tables, vectors)
    by_function: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def cycles_per_mac(self) -> float:
        return self.est_cycles / self.macs if self.macs else float("nan")

    def ms(self, clock_hz: int) -> float:
        return 1000.0 * self.est_cycles / clock_hz


def model_bytes(name: str, work: Path) -> bytes:
    if name in MLPERF:
        return (MLPERF_DIR / f"{name}.tflite").read_bytes()
    from tinym2net.zoo import build_zoo_model

    data = build_zoo_model(name, seed=0)
    (work / f"{name}.tflite").write_bytes(data)
    return data


@contextlib.contextmanager
def without_inplace_convolutions():
    """Compile with no in-place convolution offers (``params["inplace_conv"]`` dropped from every lowering),
    so the planner keeps each convolution's input and output apart and its kernel runs in one call (more
    RAM, no row bands). Restores the compiler's lowering afterwards."""
    import tinym2net.compiler as compiler

    original = compiler.lower

    def lower(op, graph):
        low = original(op, graph)
        low.params.pop("inplace_conv", None)
        return low

    compiler.lower = lower
    try:
        yield
    finally:
        compiler.lower = original


@contextlib.contextmanager
def reference_kernels():
    """Lower int8 convolutions and fully connected layers to the reference kernels (packing.PACKED off)."""
    from tinym2net.ops import packing

    saved = packing.PACKED
    packing.PACKED = False
    try:
        yield
    finally:
        packing.PACKED = saved


def measure(name: str, variant: str, data: bytes, inputs: int, work: Path, inplace: bool = True) -> Row:
    """Build with the variant's extra flags, check bit-exactness in QEMU, count one inference."""
    board = load_board("nano33")
    graph = parse_tflite(data, name=name)
    samples = random_inputs(graph, inputs, seed=0)
    want = run_litert(data, graph, samples)
    old = os.environ.get("PLATFORMIO_BUILD_FLAGS")
    os.environ["PLATFORMIO_BUILD_FLAGS"] = VARIANTS[variant]  # PlatformIO adds these to build_flags
    try:
        with contextlib.ExitStack() as stack:
            if not inplace:
                stack.enter_context(without_inplace_convolutions())
            if variant == "reference":
                stack.enter_context(reference_kernels())
            fw = run_on_firmware(data, graph, board, samples, work, model_name=name, expected=want)
    finally:
        if old is None:
            os.environ.pop("PLATFORMIO_BUILD_FLAGS", None)
        else:
            os.environ["PLATFORMIO_BUILD_FLAGS"] = old
    exact = compare_outputs(fw.outputs, want) == 0
    speed = count_one_inference(fw.build.elf, graph, board, samples[0], work / "count")
    if "count_error" in speed:
        raise SystemExit(f"{name} ({variant}): {speed['count_error']}")
    macs = sum(op_macs(graph, op) for op in graph.operators)
    return Row(
        name, variant, macs, speed["instructions"], speed["est_cycles"], exact, fw.compiled.arena_bytes,
        fw.build.flash_bytes, speed.get("by_function", {}),
    )


def markdown(rows: list[Row]) -> str:
    head = (
        "| model | build | MACs | instructions | est. cycles | cycles/MAC | ms @ 64 MHz | ms @ 120 MHz | arena B "
        "| flash B | bit-exact |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.variant} | {r.macs:,} | {r.instructions:,} | {r.est_cycles:,} | "
            f"{r.cycles_per_mac:.2f} | {r.ms(CLOCKS_HZ[0]):.1f} | {r.ms(CLOCKS_HZ[1]):.1f} | {r.arena_bytes:,} | "
            f"{r.flash_bytes:,} | "
            f"{'yes' if r.bit_exact else 'NO'} |"
        )
    by_model: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_model.setdefault(r.model, {})[r.variant] = r
    for base in ("reference", "portable"):
        speedups = [
            f"{m}: {v[base].est_cycles / v['dsp'].est_cycles:.1f}x" for m, v in by_model.items() if base in v and "dsp" in v
        ]
        if speedups:
            lines.append("")
            lines.append(f"DSP speed-up over the {base} build (estimated cycles): " + ", ".join(speedups))
    return "\n".join(lines)


def profile(rows: list[Row], top: int) -> str:
    """Per build, the functions with the most estimated cycles (share of the build's total)."""
    lines: list[str] = []
    for r in rows:
        lines += [
            "",
            f"#### {r.model} / {r.variant}: {r.est_cycles:,} cycles",
            "",
            "| function | est. cycles | share | instructions | cycles/instruction |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        items = list(r.by_function.items())
        shown, rest = items[:top], items[top:]
        for fname, c in shown:
            cyc, ins = c["est_cycles"], c["instructions"]
            lines.append(
                f"| {fname} | {cyc:,} | {100.0 * cyc / max(r.est_cycles, 1):.1f}% | {ins:,} | {cyc / max(ins, 1):.2f} |"
            )
        if rest:
            cyc = sum(c["est_cycles"] for _, c in rest)
            ins = sum(c["instructions"] for _, c in rest)
            lines.append(
                f"| ({len(rest)} more) | {cyc:,} | {100.0 * cyc / max(r.est_cycles, 1):.1f}% | {ins:,} | "
                f"{cyc / max(ins, 1):.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MLPERF + ZOO), help="comma-separated model names")
    ap.add_argument("--variants", default="reference,portable,dsp", help="comma-separated: reference, portable, dsp")
    ap.add_argument("--inputs", type=int, default=2, help="random inputs compared with LiteRT per build")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the build folders here")
    ap.add_argument(
        "--no-inplace", action="store_true",
        help="plan without in-place convolutions (row bands): more RAM, kernels run in one call",
    )
    ap.add_argument("--profile", action="store_true", help="also print each build's cycles per function")
    ap.add_argument("--profile-top", type=int, default=12, help="functions listed per build with --profile")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tm2-speed-") as tmp:
        root = args.keep or Path(tmp)
        for name in models:
            for variant in variants:
                work = root / name / variant
                work.mkdir(parents=True, exist_ok=True)
                data = model_bytes(name, work)
                row = measure(name, variant, data, args.inputs, work, inplace=not args.no_inplace)
                rows.append(row)
                print(
                    f"[speed] {name} {variant}: {row.est_cycles:,} cycles, {row.cycles_per_mac:.2f}/MAC, "
                    f"bit-exact {row.bit_exact}",
                    file=sys.stderr,
                )
    print(markdown(rows))
    if args.profile:
        print(profile(rows, args.profile_top))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"cycles_per_mac": r.cycles_per_mac} for r in rows], indent=1))
    return 0 if all(r.bit_exact for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
