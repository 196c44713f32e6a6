"""Mutation fuzzing of the importer, compiler and code generator on real TFLite models.

Each case takes one seed model (the MLPerf Tiny reference models, optionally the zoo models) and
applies one seeded mutation:

* ``field:<what>``: one field of the flatbuffer, found by walking the valid model (a field kind is
  picked uniformly, then one field of that kind), gets an awkward
  value (0, -1, the count plus one, 2**31 - 1, NaN for a scale, ...). The fields: tensor shapes,
  types and buffer indices; quantisation scales, zero points and quantised dimensions; operator
  opcode indices, input / output tensor lists and options-union types; every field of the operators'
  options tables; opcode codes and versions; graph input / output lists; the length words of those
  vectors and of the constant buffers.
* ``bitflip`` / ``bytes``: 1-4 bit flips or 1-8 overwritten bytes, in the flatbuffer's structure
  (the tables and vectors, not inside constant data) with probability 0.8, else anywhere;
* ``wordcopy``: a 4-byte word of the structure copied over another (offsets pointing elsewhere);
* ``truncate``: the file cut short at a random length.

Every mutant goes through ``parse_tflite`` -> ``compile_graph`` -> ``generate_sources`` and
``build_metadata`` (the artifact's metadata.json). Outcomes:
*rejected* (a :class:`~tinym2net.errors.TinyM2NetError`, the one-line error a user would see),
*accepted* (C sources produced) or *uncaught* (any other exception: a bug; must be 0).

A seeded sample of accepted mutants (at most two per mutation kind) is then written as an artifact,
compiled for the host with gcc
(the flags of the firmware: ``-Wall -Wextra -Werror``; ``--sanitize`` adds AddressSanitizer and
UndefinedBehaviorSanitizer) and run on two random inputs under a time limit. A run killed by a
signal, stopped by a sanitizer or exiting non-zero is a *crash* (must be 0); a generated source
that does not compile is a *build failure* (must be 0). Mutants whose arena exceeds 8 MB are not
run (a mutated shape can legitimately make a model huge).

Run: ``.venv/bin/python benchmarks/fuzz_importer.py [--cases 5000] [--seed 0] [--host-runs 30]
[--zoo] [--sanitize] [--models a.tflite ...]``; prints two tables (per model, per mutation kind) and
every uncaught exception with the model and case number that reproduce it.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tflite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinym2net.artifact import build_metadata, write_artifact  # noqa: E402
from tinym2net.codegen import generate_sources  # noqa: E402
from tinym2net.compiler import compile_graph  # noqa: E402
from tinym2net.errors import TinyM2NetError  # noqa: E402
from tinym2net.hostrun import host_sources  # noqa: E402
from tinym2net.importer import parse_tflite  # noqa: E402
from tinym2net.reference import pack_samples, random_inputs  # noqa: E402
from tinym2net.toolchain import HOST_CFLAGS  # noqa: E402

MLPERF = ROOT.parent / "shared" / "benchmarks" / "mlperf_tiny"
MLPERF_MODELS = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
MAX_RUN_ARENA = 8 << 20
SANITIZE_FLAGS = (
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
)


# ---------------------------------------------------------------------------------------------
# where the fields of a valid model live
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A scalar in the file: its byte position and encoding (struct code), and what it is."""

    pos: int
    code: str  # struct format: "b", "B", "h", "H", "i", "I", "q", "f"
    kind: str  # e.g. "tensor.shape", "operator.inputs", "quant.scale"
    count: int = 0  # size of the thing the value indexes or counts (for "count + 1" style values)


def _slot_pos(tab, slot: int) -> int | None:
    off = tab.Offset(slot)
    return tab.Pos + off if off else None


def _vector(tab, slot: int) -> tuple[int, int] | None:
    """(position of element 0, length) of the vector field in ``slot``, or None if absent."""
    off = tab.Offset(slot)
    if not off:
        return None
    return tab.Vector(off), tab.VectorLen(off)


def _vector_fields(tab, slot: int, code: str, kind: str, count: int = 0) -> list[Field]:
    vec = _vector(tab, slot)
    if vec is None:
        return []
    start, n = vec
    size = struct.calcsize("<" + code)
    out = [Field(start + i * size, code, kind, count) for i in range(n)]
    out.append(Field(start - 4, "I", kind + ".length", n))
    return out


def _scalar(tab, slot: int, code: str, kind: str, count: int = 0) -> list[Field]:
    pos = _slot_pos(tab, slot)
    return [] if pos is None else [Field(pos, code, kind, count)]


def _table_fields(tab, kind: str) -> list[Field]:
    """Every present field of a table whose layout the walker does not know (options tables)."""
    buf = tab.Bytes
    vtable = tab.Pos - struct.unpack_from("<i", buf, tab.Pos)[0]
    vt_size, inline = struct.unpack_from("<HH", buf, vtable)
    offsets = sorted(
        o for o in (struct.unpack_from("<H", buf, vtable + s)[0] for s in range(4, vt_size, 2)) if o
    )
    fields = []
    for k, off in enumerate(offsets):
        width = (offsets[k + 1] if k + 1 < len(offsets) else inline) - off
        code = {1: "b", 2: "h"}.get(width, "i")
        fields.append(Field(tab.Pos + off, code, kind))
    return fields


def model_fields(data: bytes) -> tuple[list[Field], list[tuple[int, int]]]:
    """The mutable fields of a valid model, and the byte ranges of its constant buffer payloads."""
    m = tflite.Model.GetRootAs(data, 0)
    fields: list[Field] = _scalar(m._tab, 4, "I", "model.version")
    payloads: list[tuple[int, int]] = []
    n_buffers = m.BuffersLength()
    for j in range(n_buffers):
        b = m.Buffers(j)
        vec = _vector(b._tab, 4)
        if vec is not None and vec[1] > 0:
            payloads.append((vec[0], vec[0] + vec[1]))
            fields.append(Field(vec[0] - 4, "I", "buffer.length", vec[1]))
    n_codes = m.OperatorCodesLength()
    for i in range(n_codes):
        oc = m.OperatorCodes(i)._tab
        fields += _scalar(oc, 4, "b", "opcode.deprecated_code")
        fields += _scalar(oc, 8, "i", "opcode.version")
        fields += _scalar(oc, 10, "i", "opcode.builtin_code")
    sg = m.Subgraphs(0)
    n_tensors = sg.TensorsLength()
    fields += _vector_fields(sg._tab, 6, "i", "graph.inputs", n_tensors)
    fields += _vector_fields(sg._tab, 8, "i", "graph.outputs", n_tensors)
    for t in range(n_tensors):
        tt = sg.Tensors(t)
        fields += _vector_fields(tt._tab, 4, "i", "tensor.shape")
        fields += _scalar(tt._tab, 6, "b", "tensor.type")
        fields += _scalar(tt._tab, 8, "I", "tensor.buffer", n_buffers)
        q = tt.Quantization()
        if q is not None:
            fields += _vector_fields(q._tab, 8, "f", "quant.scale")
            fields += _vector_fields(q._tab, 10, "q", "quant.zero_point")
            fields += _scalar(
                q._tab,
                16,
                "i",
                "quant.quantized_dimension",
                len(tt.ShapeAsNumpy()) if tt.ShapeLength() else 0,
            )
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        fields += _scalar(op._tab, 4, "I", "operator.opcode_index", n_codes)
        fields += _vector_fields(op._tab, 6, "i", "operator.inputs", n_tensors)
        fields += _vector_fields(op._tab, 8, "i", "operator.outputs", n_tensors)
        fields += _scalar(op._tab, 10, "B", "operator.options_type")
        options = op.BuiltinOptions()
        if options is not None:
            fields += _table_fields(options, "operator.options")
    payloads.sort()
    return fields, payloads


# ---------------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------------

_RANGES = {
    "b": (-128, 127),
    "B": (0, 255),
    "h": (-32768, 32767),
    "H": (0, 65535),
    "i": (-(1 << 31), (1 << 31) - 1),
    "I": (0, (1 << 32) - 1),
    "q": (-(1 << 63), (1 << 63) - 1),
}


def _awkward_value(rng: random.Random, f: Field, old: float | int) -> float | int:
    if f.code == "f":
        return rng.choice(
            [
                0.0,
                -0.0,
                -1.0,
                math.nan,
                math.inf,
                -math.inf,
                1e-45,
                1e-30,
                1e30,
                float(old) * 1000.0,
                float(old) / 1000.0,
                float(old) * -1.0,
                3.0e38,
            ]
        )
    lo, hi = _RANGES[f.code]
    old = int(old)
    choices = [
        0,
        1,
        -1,
        2,
        old + 1,
        old - 1,
        old * 2,
        old + 2,
        127,
        128,
        255,
        256,
        65535,
        65536,
        (1 << 31) - 1,
        -(1 << 31),
        rng.randint(lo, hi),
        rng.randint(-8, 8),
    ]
    if f.count:
        choices += [f.count, f.count - 1, f.count + 1, f.count * 2]
    value = rng.choice(choices)
    if value < lo or value > hi:  # wrap into the field's width, as a raw write would
        span = hi - lo + 1
        value = (value - lo) % span + lo
    return value


def _structural_pos(rng: random.Random, n: int, payloads: list[tuple[int, int]], starts: list[int]) -> int:
    """A random byte position outside the constant payloads (80 %) or anywhere (20 %)."""
    if rng.random() < 0.2 or not payloads:
        return rng.randrange(n)
    for _ in range(64):
        pos = rng.randrange(n)
        k = bisect.bisect_right(starts, pos) - 1
        if k < 0 or pos >= payloads[k][1]:
            return pos
    return rng.randrange(n)


@dataclass
class SeedModel:
    name: str
    data: bytes
    fields: list[Field]
    payloads: list[tuple[int, int]]
    starts: list[int] = field(default_factory=list)
    fields_by_kind: dict[str, list[Field]] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, name: str, data: bytes) -> SeedModel:
        """Walk a valid model once; mutations pick a field kind uniformly, then one field of that kind."""
        fields, payloads = model_fields(data)
        by_kind: dict[str, list[Field]] = {}
        for f in fields:
            by_kind.setdefault(f.kind, []).append(f)
        return cls(name, data, fields, payloads, [a for a, _ in payloads], by_kind, sorted(by_kind))


def mutate(model: SeedModel, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of ``model``: (kind, mutated bytes)."""
    buf = bytearray(model.data)
    n = len(buf)
    r = rng.random()
    if r < 0.55 and model.fields:
        f = rng.choice(model.fields_by_kind[rng.choice(model.kinds)])
        old = struct.unpack_from("<" + f.code, buf, f.pos)[0]
        struct.pack_into("<" + f.code, buf, f.pos, _awkward_value(rng, f, old))
        return f"field:{f.kind}", bytes(buf)
    if r < 0.70:
        for _ in range(rng.randint(1, 4)):
            buf[_structural_pos(rng, n, model.payloads, model.starts)] ^= 1 << rng.randrange(8)
        return "bitflip", bytes(buf)
    if r < 0.80:
        for _ in range(rng.randint(1, 8)):
            buf[_structural_pos(rng, n, model.payloads, model.starts)] = rng.randrange(256)
        return "bytes", bytes(buf)
    if r < 0.90:
        src = _structural_pos(rng, n - 4, model.payloads, model.starts)
        dst = _structural_pos(rng, n - 4, model.payloads, model.starts)
        buf[dst : dst + 4] = buf[src : src + 4]
        return "wordcopy", bytes(buf)
    return "truncate", bytes(buf[: rng.randrange(n)])


# ---------------------------------------------------------------------------------------------
# running the mutants
# ---------------------------------------------------------------------------------------------


@dataclass
class Uncaught:
    model: str
    case: int
    kind: str
    error: str  # "TypeName: message"
    where: str  # innermost frame of tinym2net code


@dataclass
class HostRun:
    model: str
    case: int
    kind: str
    status: str  # "ok", "crash", "build-failed", "timeout"
    detail: str = ""


@dataclass
class FuzzReport:
    cases: int = 0
    seconds: float = 0.0
    by_model: dict[str, Counter] = field(default_factory=dict)
    by_kind: dict[str, Counter] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)  # rejection error class -> count
    uncaught: list[Uncaught] = field(default_factory=list)
    host: list[HostRun] = field(default_factory=list)
    sanitize: bool = False

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.by_model.values())

    @property
    def host_crashes(self) -> int:
        return sum(r.status in ("crash", "timeout") for r in self.host)

    @property
    def host_build_failures(self) -> int:
        return sum(r.status in ("build-failed", "uncaught") for r in self.host)


def _innermost_tinym2net_frame(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "tinym2net" in f.filename]
    if not frames:
        return "?"
    f = frames[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"


def host_run(compiled, name: str, work: Path, *, sanitize: bool, timeout_s: float = 30) -> tuple[str, str]:
    """Write the artifact, build it for the host and run two random inputs: (status, detail)."""
    art = work / "artifact"
    write_artifact(compiled, art, model_name=name, board=None)
    sources, includes = host_sources(art)
    exe = work / "model_host"
    flags = [*HOST_CFLAGS, *(SANITIZE_FLAGS if sanitize else ())]
    cmd = ["gcc", *flags, *[f"-I{d}" for d in includes], *map(str, sources), "-o", str(exe), "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if build.returncode != 0:
        first = next((ln for ln in build.stderr.splitlines() if "error" in ln), build.stderr.strip()[-200:])
        return "build-failed", first
    inp, out = work / "in.bin", work / "out.bin"
    inp.write_bytes(pack_samples(random_inputs(compiled.graph, 2, seed=0)))
    try:
        proc = subprocess.run(
            [str(exe), str(inp), str(out)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"no exit within {timeout_s:g} s"
    if proc.returncode < 0:
        return "crash", f"signal {-proc.returncode}"
    if proc.returncode != 0:
        last = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return "crash", f"exit {proc.returncode}: {(last[0] if last else '')[:200]}"
    expected = sum(compiled.graph.tensors[i].nbytes for i in compiled.graph.outputs) * 2
    if not out.is_file() or out.stat().st_size != expected:
        return (
            "crash",
            f"wrote {out.stat().st_size if out.is_file() else 0} output bytes, expected {expected}",
        )
    return "ok", ""


def run_fuzz(
    *,
    cases: int,
    seed: int = 0,
    models: dict[str, bytes] | None = None,
    host_runs: int = 10,
    sanitize: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Run ``cases`` mutants (round robin over ``models``; default the MLPerf Tiny models)."""
    if models is None:
        models = {
            n: (MLPERF / f"{n}.tflite").read_bytes()
            for n in MLPERF_MODELS
            if (MLPERF / f"{n}.tflite").is_file()
        }
    if not models:
        raise SystemExit(f"no seed models (looked in {MLPERF})")
    seeds = [SeedModel.load(name, data) for name, data in models.items()]
    report = FuzzReport(sanitize=sanitize)
    report.by_model = {s.name: Counter() for s in seeds}
    # Host runs: accepted mutants of a mutation kind not yet run twice, each with probability 1/2, until
    # the quota is spent (spreads the runs over kinds and seed models).
    picker = random.Random(f"host:{seed}")
    runs_of_kind: Counter = Counter()
    gcc = shutil.which("gcc") is not None
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tm2-fuzz-") as tmp:
        for case in range(cases):
            sm = seeds[case % len(seeds)]
            rng = random.Random(f"{seed}:{case}")
            kind, data = mutate(sm, rng)
            kind_stats = report.by_kind.setdefault(kind, Counter())
            outcome = "accepted"
            compiled = None
            try:
                graph = parse_tflite(data, name="fuzz")
                compiled = compile_graph(graph, data)
                generate_sources(compiled, model_name="fuzz")
                build_metadata(compiled, model_name="fuzz", board=None)
            except TinyM2NetError as err:
                outcome = "rejected"
                report.errors[type(err).__name__] += 1
            except Exception as exc:  # a bug: recorded with what reproduces it
                outcome = "uncaught"
                report.uncaught.append(
                    Uncaught(
                        sm.name,
                        case,
                        kind,
                        f"{type(exc).__name__}: {str(exc)[:200]}",
                        _innermost_tinym2net_frame(exc),
                    )
                )
            report.by_model[sm.name][outcome] += 1
            kind_stats[outcome] += 1
            report.cases += 1
            if (
                outcome == "accepted"
                and gcc
                and len(report.host) < host_runs
                and compiled is not None
                and compiled.arena_bytes <= MAX_RUN_ARENA
                and runs_of_kind[kind] < 2
                and picker.random() < 0.5
            ):
                runs_of_kind[kind] += 1
                work = Path(tmp) / f"case{case}"
                work.mkdir()
                try:
                    status, detail = host_run(compiled, "fuzz", work, sanitize=sanitize)
                except Exception as exc:  # writing the artifact failed: a bug, reported with the others
                    status, detail = (
                        "uncaught",
                        f"{type(exc).__name__}: {exc} at {_innermost_tinym2net_frame(exc)}",
                    )
                report.host.append(HostRun(sm.name, case, kind, status, detail))
                shutil.rmtree(work, ignore_errors=True)
            if progress and (case + 1) % 500 == 0:
                progress(
                    f"{case + 1}/{cases} cases, {len(report.uncaught)} uncaught, {len(report.host)} host runs"
                )
    report.seconds = time.monotonic() - t0
    return report


def format_report(r: FuzzReport) -> str:
    lines = [
        f"Importer fuzzing: {r.cases} mutants in {r.seconds:.0f} s "
        "(parse_tflite -> compile_graph -> generate_sources + build_metadata)",
        "",
        "| seed model | cases | rejected (one-line error) | accepted (C generated) | uncaught exceptions |",
        "|---|---|---|---|---|",
    ]
    for name, c in r.by_model.items():
        lines.append(f"| {name} | {sum(c.values())} | {c['rejected']} | {c['accepted']} | {c['uncaught']} |")
    lines.append(
        f"| **all** | {r.cases} | {r.total('rejected')} | {r.total('accepted')} | {r.total('uncaught')} |"
    )
    lines += ["", "| mutation | cases | rejected | accepted | uncaught |", "|---|---|---|---|---|"]
    for kind in sorted(r.by_kind):
        c = r.by_kind[kind]
        lines.append(f"| {kind} | {sum(c.values())} | {c['rejected']} | {c['accepted']} | {c['uncaught']} |")
    errs = ", ".join(f"{k} {v}" for k, v in r.errors.most_common())
    lines += ["", f"Rejections by error class: {errs or 'none'}."]
    statuses = Counter(h.status for h in r.host)
    flags = "gcc " + " ".join(HOST_CFLAGS) + (" + ASan/UBSan" if r.sanitize else "")
    lines.append(
        f"Host runs of accepted mutants ({flags}, 2 random inputs each): {len(r.host)} run, "
        f"{statuses['ok']} ok, {r.host_crashes} crashed or hung, {r.host_build_failures} failed to build."
    )
    for u in r.uncaught:
        lines.append(f"- UNCAUGHT {u.error} at {u.where} (model {u.model}, case {u.case}, {u.kind})")
    for h in r.host:
        if h.status != "ok":
            lines.append(f"- HOST {h.status}: {h.detail} (model {h.model}, case {h.case}, {h.kind})")
    return "\n".join(lines)


def _zoo_models() -> dict[str, bytes]:
    from tinym2net.zoo import ZOO_MODELS, build_zoo_model

    return {f"zoo:{name}": build_zoo_model(name, seed=0) for name in ZOO_MODELS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host-runs", type=int, default=30)
    parser.add_argument("--zoo", action="store_true", help="also mutate the zoo models (needs TensorFlow)")
    parser.add_argument("--sanitize", action="store_true", help="host builds with ASan + UBSan")
    parser.add_argument(
        "--models", nargs="*", type=Path, help="seed .tflite files instead of the MLPerf Tiny models"
    )
    args = parser.parse_args(argv)
    models = {p.stem: p.read_bytes() for p in args.models} if args.models else None
    if args.zoo:
        models = dict(models or {n: (MLPERF / f"{n}.tflite").read_bytes() for n in MLPERF_MODELS})
        models.update(_zoo_models())
    report = run_fuzz(
        cases=args.cases,
        seed=args.seed,
        models=models,
        host_runs=args.host_runs,
        sanitize=args.sanitize,
        progress=lambda s: print(s, file=sys.stderr, flush=True),
    )
    print(format_report(report))
    return 1 if report.uncaught or report.host_crashes or report.host_build_failures else 0


if __name__ == "__main__":
    sys.exit(main())
