"""Every kind of bad input the tinym2net CLI refuses, run for real, with the exact one-line message it prints.

Each :class:`Case` builds its inputs in a fresh work folder (a broken model, a board file, a data
manifest, a ``PATH`` without the cross compiler, a stand-in emulator that hangs, ...), runs
``python -m tinym2net.cli ...`` as a subprocess and records the exit status and stderr. The same
catalogue drives ``tests/test_errors.py`` (which asserts exit status, exactly one stderr line, no
traceback, the fragments each message must name, and that no output folder was left) and the table
in ``docs/errors.md`` that this script prints.

Bad models are made in memory with :class:`~tinym2net.importer.tflite_writer.TFLiteBuilder` (a valid
one-layer model and variants that differ from it in one property) or cut from the MLPerf Tiny
reference models in ``../shared/benchmarks/mlperf_tiny``.

Run: ``.venv/bin/python benchmarks/error_messages.py [--fuzz-cases N] [--only KEY ...]``
prints the markdown table (and, with ``--fuzz-cases``, the fuzzer's table from
``benchmarks/fuzz_importer.py``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tflite.BuiltinOptions import BuiltinOptions  # noqa: E402
from tflite.TensorType import TensorType  # noqa: E402

from tinym2net.importer.tflite_writer import TFLiteBuilder, fb  # noqa: E402

MLPERF = ROOT.parent / "shared" / "benchmarks" / "mlperf_tiny"

# Builtin opcodes (schema.fbs BuiltinOperator) used below.
OP_ADD, OP_FULLY_CONNECTED, OP_CUSTOM, OP_SUB, OP_WHILE = 0, 9, 32, 41, 119


@dataclass(frozen=True)
class Invocation:
    """One CLI run: its arguments, environment changes and the output folder it must not leave behind."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    out: Path | None = None  # must not exist afterwards (unless ``keep`` lists files it must still hold)
    keep: dict[str, str] = field(default_factory=dict)  # file name in ``out`` -> text it must still hold


@dataclass(frozen=True)
class Case:
    key: str
    title: str  # what is wrong, for the table
    setup: Callable[[Path], Invocation]
    expect: tuple[str, ...]  # fragments the message must contain
    exit_code: int = 1
    tools: tuple[str, ...] = ()  # external tools the case needs
    needs_mlperf: bool = False
    firmware: bool = False  # builds firmware (seconds, not milliseconds)


@dataclass
class Outcome:
    case: Case
    invocation: Invocation
    returncode: int
    stdout: str
    stderr: str
    work: Path

    @property
    def message(self) -> str:
        """stderr without its newline, the work folder shown as ``<work>``."""
        text = self.stderr.strip()
        for root in {str(self.work), str(self.work.resolve())}:
            text = text.replace(root, "<work>")
        return text


# ---------------------------------------------------------------------------------------------
# bad models
# ---------------------------------------------------------------------------------------------


def _fc_options(activation: int):
    def build(b):
        m = fb("FullyConnectedOptions")
        m.Start(b)
        m.AddFusedActivationFunction(b, activation)
        return m.End(b)

    return build


def fc_model(
    *,
    act_type: int = TensorType.INT8,
    w_type: int = TensorType.INT8,
    w_zero_point: int = 0,
    w_scale: float = 0.05,
    batch: int = 1,
    opcode: int = OP_FULLY_CONNECTED,
    version: int = 4,
    activation: int = 0,
    custom: str | None = None,
    extra_op: int | None = None,
    extra_subgraphs: int = 0,
    features: int = 5,
    units: int = 3,
) -> bytes:
    """input_x[batch, features] -> FULLY_CONNECTED(weights_w, bias_b) -> output_y[batch, units]
    (-> ``extra_op``(output_y, output_y) -> extra_z)."""
    b = TFLiteBuilder()
    floating = act_type == TensorType.FLOAT32
    act_q = {} if floating else {"scale": [0.1], "zero_point": [128 if act_type == TensorType.UINT8 else 0]}
    rng = np.random.default_rng(0)
    if w_type == TensorType.FLOAT32:
        w_data, w_q = rng.standard_normal((units, features)).astype("<f4").tobytes(), {}
        bias_data, bias_type, bias_q = np.zeros(units, "<f4").tobytes(), TensorType.FLOAT32, {}
    else:
        w_data = rng.integers(-127, 128, (units, features), dtype=np.int8).tobytes()
        w_q = {"scale": [w_scale], "zero_point": [w_zero_point]}
        bias_data, bias_type, bias_q = (
            np.arange(units, dtype="<i4").tobytes(),
            TensorType.INT32,
            {"scale": [0.005]},
        )
    x = b.add_tensor("input_x", (batch, features), act_type, **act_q)
    w = b.add_tensor("weights_w", (units, features), w_type, data=w_data, **w_q)
    bias = b.add_tensor("bias_b", (units,), bias_type, data=bias_data, **bias_q)
    y = b.add_tensor("output_y", (batch, units), act_type, **act_q)
    plain = custom is None
    b.add_operator(
        opcode,
        [x, w, bias],
        [y],
        version=version,
        custom_code=custom,
        options_type=BuiltinOptions.FullyConnectedOptions if plain else 0,
        options=_fc_options(activation) if plain else None,
    )
    out = y
    if extra_op is not None:
        out = b.add_tensor("extra_z", (batch, units), act_type, **act_q)
        b.add_operator(extra_op, [y, y], [out])
    return b.finish([x], [out], extra_subgraphs=extra_subgraphs)


def add_model(elements: int) -> bytes:
    """input_a[1, n] + input_b[1, n] -> sum_c[1, n]: an activation arena of about 2-3 n bytes."""
    b = TFLiteBuilder()
    q = {"scale": [0.1], "zero_point": [0]}
    a = b.add_tensor("input_a", (1, elements), TensorType.INT8, **q)
    c = b.add_tensor("input_b", (1, elements), TensorType.INT8, **q)
    s = b.add_tensor("sum_c", (1, elements), TensorType.INT8, **q)
    b.add_operator(OP_ADD, [a, c], [s])
    return b.finish([a, c], [s])


def mlperf(name: str) -> Path:
    return MLPERF / f"{name}.tflite"


def _model_file(work: Path, name: str, data: bytes) -> Path:
    path = work / name
    path.write_bytes(data)
    return path


def _compile(model: Path | str, work: Path, *extra: str) -> Invocation:
    out = work / "out"
    return Invocation(["compile", str(model), "--out", str(out), *extra], out=out)


def _compile_bytes(name: str, data: Callable[[], bytes], *extra: str) -> Callable[[Path], Invocation]:
    def setup(work: Path) -> Invocation:
        return _compile(_model_file(work, name, data()), work, *extra)

    return setup


def _random_bytes(n: int, seed: int, header: bytes = b"") -> bytes:
    rng = random.Random(seed)
    body = bytearray(rng.randrange(256) for _ in range(n))
    body[: len(header)] = header
    return bytes(body)


# ---------------------------------------------------------------------------------------------
# tools: PATH without a tool, or with a stand-in
# ---------------------------------------------------------------------------------------------

HANGING_EMULATOR = """#!/bin/sh
# Stand-in for qemu-system-arm: prints what firmware prints at start-up, then never finishes.
echo "tm2: model loaded, waiting for the first sample" >&2
exec sleep 120
"""


def tool_farm(
    work: Path, *, drop: tuple[str, ...] = (), replace: dict[str, str] | None = None
) -> dict[str, str]:
    """A ``PATH`` of one folder holding links to every program on the current PATH except ``drop``;
    ``replace`` maps program names to shell scripts written in their place."""
    farm = work / "bin"
    farm.mkdir()
    replace = replace or {}
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        d = Path(folder)
        if not d.is_dir():
            continue
        for exe in d.iterdir():
            link = farm / exe.name
            if exe.name in drop or exe.name in replace or link.is_symlink() or link.exists():
                continue
            if exe.is_file() and os.access(exe, os.X_OK):
                link.symlink_to(exe)
    for name, script in replace.items():
        path = farm / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"PATH": str(farm)}


def _check_without(tool: str) -> Callable[[Path], Invocation]:
    def setup(work: Path) -> Invocation:
        return Invocation(["check", str(mlperf("ad01_int8")), "--json"], env=tool_farm(work, drop=(tool,)))

    return setup


def _check_hanging(work: Path) -> Invocation:
    env = tool_farm(work, replace={"qemu-system-arm": HANGING_EMULATOR})
    return Invocation(
        ["check", str(mlperf("ad01_int8")), "--json", "--inputs", "1", "--timeout", "2"], env=env
    )


# ---------------------------------------------------------------------------------------------
# boards, data, output folders
# ---------------------------------------------------------------------------------------------


def _board_file(work: Path, name: str, text: str) -> Path:
    path = work / f"{name}.toml"
    path.write_text(text)
    return path


def _nano33_text(name: str) -> str:
    return (ROOT / "boards" / "nano33.toml").read_text().replace('name = "nano33"', f'name = "{name}"')


def _broken_board_field(work: Path) -> Invocation:
    text = _nano33_text("myboard").replace("sram_bytes = 262_144", 'sram_bytes = "256 KB"')
    return _compile(mlperf("ad01_int8"), work, "--board", str(_board_file(work, "myboard", text)))


def _broken_board_core(work: Path) -> Invocation:
    text = _nano33_text("myboard").replace('core = "cortex-m4"', 'core = "cortex-m99"')
    return _compile(mlperf("ad01_int8"), work, "--board", str(_board_file(work, "myboard", text)))


def _broken_board_toml(work: Path) -> Invocation:
    text = _nano33_text("myboard").replace("[memory]", "[memory")
    return _compile(mlperf("ad01_int8"), work, "--board", str(_board_file(work, "myboard", text)))


def _build_with_manifest(rows: list[str], files: dict[str, bytes]) -> Callable[[Path], Invocation]:
    def setup(work: Path) -> Invocation:
        data = work / "data"
        data.mkdir()
        for name, blob in files.items():
            (data / name).write_bytes(blob)
        (data / "manifest.csv").write_text("\n".join(rows) + "\n")
        out = work / "out"
        argv = ["build", "--data", str(data / "manifest.csv"), "--quick", "--quiet", "--out", str(out)]
        return Invocation(argv, out=out)

    return setup


def _npy(shape: tuple[int, ...], seed: int) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    return buf.getvalue()


_GOOD_NPY = {f"s{i}.npy": _npy((4, 4, 1), i) for i in range(40)}
_GOOD_ROWS = [f"s{i}.npy,{'ab'[i % 2]}" for i in range(40)]


def _foreign_out(work: Path) -> Invocation:
    out = work / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    return Invocation(
        ["compile", str(mlperf("ad01_int8")), "--out", str(out)], keep={"notes.txt": "my notes"}, out=out
    )


def _out_is_file(work: Path) -> Invocation:
    out = work / "afile"
    out.write_text("not a folder")
    return Invocation(
        ["compile", str(mlperf("ad01_int8")), "--out", str(out)], keep={"": "not a folder"}, out=out
    )


# ---------------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # model files
    Case(
        "missing",
        "model file missing",
        lambda w: _compile(w / "absent.tflite", w),
        ("absent.tflite", "does not exist"),
    ),
    Case("folder", "model path is a folder", lambda w: _compile(w, w), ("is a folder", ".tflite")),
    Case("empty", "empty file", _compile_bytes("empty.tflite", lambda: b""), ("is empty", "TFLiteConverter")),
    Case(
        "text",
        "not a flatbuffer (text)",
        _compile_bytes("notes.tflite", lambda: b"just some text\n" * 10),
        ("not a TFLite flatbuffer", "TFL3"),
    ),
    Case(
        "keras_h5",
        "a Keras .h5 file renamed",
        _compile_bytes("model.tflite", lambda: b"\x89HDF\r\n\x1a\n" + bytes(200)),
        ("not a TFLite flatbuffer", "Keras .h5"),
    ),
    Case(
        "random",
        "random bytes",
        _compile_bytes("random.tflite", lambda: _random_bytes(4096, 1)),
        ("not a TFLite flatbuffer",),
    ),
    Case(
        "random_tfl3",
        "random bytes with the TFL3 identifier",
        _compile_bytes("random.tflite", lambda: _random_bytes(4096, 2, b"\x10\x00\x00\x00TFL3")),
        ("corrupt or truncated", "re-export"),
    ),
    Case(
        "truncated",
        "truncated model (first 20000 bytes of kws)",
        _compile_bytes("kws_cut.tflite", lambda: mlperf("kws_ref_model").read_bytes()[:20000]),
        ("kws_cut", "corrupt or truncated"),
        needs_mlperf=True,
    ),
    # numeric types and quantisation
    Case(
        "float",
        "float model",
        _compile_bytes(
            "float.tflite", lambda: fc_model(act_type=TensorType.FLOAT32, w_type=TensorType.FLOAT32)
        ),
        ("is a float model", "representative_dataset", "TFLITE_BUILTINS_INT8", "tinym2net quantize"),
    ),
    Case(
        "dynamic_range",
        "dynamic-range (hybrid) model",
        _compile_bytes("hybrid.tflite", lambda: fc_model(act_type=TensorType.FLOAT32)),
        ("dynamic-range (hybrid)", "'weights_w'", "representative_dataset"),
    ),
    Case(
        "int16",
        "per-tensor int16 activations (16x8)",
        _compile_bytes("a16.tflite", lambda: fc_model(act_type=TensorType.INT16)),
        ("int16 activations", "'input_x'", "TFLITE_BUILTINS_INT8"),
    ),
    Case(
        "uint8",
        "legacy uint8 quantisation",
        _compile_bytes("u8.tflite", lambda: fc_model(act_type=TensorType.UINT8)),
        ("uint8", "'input_x'"),
    ),
    Case(
        "asymmetric",
        "asymmetric weights (zero point 3)",
        _compile_bytes("asym.tflite", lambda: fc_model(w_zero_point=3)),
        ("asymmetric weights 'weights_w'", "zero point 3", "operator 0"),
    ),
    Case(
        "extreme_scale",
        "absurd weight scale (1e30; found by the fuzzer)",
        _compile_bytes("scale.tflite", lambda: fc_model(w_scale=1e30)),
        ("operator 0 (FULLY_CONNECTED", "rescale multiplier", "left shift", "quantisation scales"),
    ),
    # operators
    Case(
        "unsupported_op",
        "unsupported op (SUB)",
        _compile_bytes("sub.tflite", lambda: fc_model(extra_op=OP_SUB)),
        ("operator 1", "SUB", "'output_y'", "'extra_z'", "supported ops"),
    ),
    Case(
        "custom_op",
        "custom op",
        _compile_bytes("custom.tflite", lambda: fc_model(opcode=OP_CUSTOM, custom="MyFancyOp")),
        ("custom op 'MyFancyOp'", "operator 0", "'weights_w'"),
    ),
    Case(
        "op_version",
        "op version newer than supported",
        _compile_bytes("v99.tflite", lambda: fc_model(version=99)),
        ("op version 99", "FULLY_CONNECTED", "operator 0"),
    ),
    Case(
        "activation",
        "unsupported fused activation (TANH)",
        _compile_bytes("tanh.tflite", lambda: fc_model(activation=4)),
        ("fused activation TANH", "operator 0", "relu6"),
    ),
    Case(
        "control_flow",
        "control flow (WHILE, 3 subgraphs)",
        _compile_bytes("while.tflite", lambda: fc_model(extra_op=OP_WHILE, extra_subgraphs=2)),
        ("3 subgraphs", "WHILE", "operator 1"),
    ),
    Case(
        "batch",
        "batch size 2",
        _compile_bytes("b2.tflite", lambda: fc_model(batch=2)),
        ("batch size 2", "batch-1"),
    ),
    # memory budgets
    Case(
        "ram_board",
        "activations larger than the board's RAM",
        _compile_bytes("wide_add.tflite", lambda: add_model(300_000)),
        ("B of RAM", "peak at operator 0 (ADD", "board nano33's SRAM is 262144 B", "--board"),
    ),
    Case(
        "flash_board",
        "weights larger than the board's flash",
        _compile_bytes("big_fc.tflite", lambda: fc_model(features=1100, units=1000)),
        ("B of flash (weights 11", "board nano33's flash is 1048576 B"),
    ),
    Case(
        "ram_budget",
        "arena + stack over --ram-budget",
        lambda w: _compile(mlperf("kws_ref_model"), w, "--ram-budget", "12000"),
        (
            "kws_ref_model",
            "B of RAM (tensor arena",
            "peak at operator",
            "8192 B stack",
            "--ram-budget is 12000 B",
        ),
        needs_mlperf=True,
    ),
    Case(
        "flash_budget",
        "weights over --flash-budget",
        lambda w: _compile(mlperf("ad01_int8"), w, "--flash-budget", "100000"),
        ("ad01_int8", "B of flash", "--flash-budget is 100000 B"),
        needs_mlperf=True,
    ),
    # boards
    Case(
        "unknown_board",
        "unknown board",
        lambda w: _compile(mlperf("ad01_int8"), w, "--board", "nosuchboard"),
        ("unknown board 'nosuchboard'", "nano33", "mps2_an385"),
        needs_mlperf=True,
    ),
    Case(
        "board_missing_file",
        "board file not found",
        lambda w: _compile(mlperf("ad01_int8"), w, "--board", str(w / "mine.toml")),
        ("mine.toml", "not found"),
        needs_mlperf=True,
    ),
    Case(
        "board_field",
        "board file: field of the wrong type",
        _broken_board_field,
        ("myboard.toml", "memory.sram_bytes", "must be an integer"),
        needs_mlperf=True,
    ),
    Case(
        "board_core",
        "board file: unknown core",
        _broken_board_core,
        ("myboard.toml", "'core'", "cortex-m99", "supported cores"),
        needs_mlperf=True,
    ),
    Case(
        "board_toml",
        "board file: TOML syntax error",
        _broken_board_toml,
        ("myboard.toml", "not valid TOML"),
        needs_mlperf=True,
    ),
    # data (tinym2net build --data manifest.csv)
    Case(
        "data_missing_file",
        "data manifest names a missing file",
        _build_with_manifest(["image,label", *_GOOD_ROWS[:5], "absent.npy,a", *_GOOD_ROWS[5:]], _GOOD_NPY),
        ("manifest.csv line 7", "absent.npy"),
    ),
    Case(
        "data_bad_file",
        "data file unreadable (not a .npy)",
        _build_with_manifest(
            ["image,label", *_GOOD_ROWS[:3], "junk.npy,b", *_GOOD_ROWS[3:]],
            {**_GOOD_NPY, "junk.npy": b"garbage"},
        ),
        ("manifest.csv line 5", "junk.npy"),
    ),
    Case(
        "data_no_label",
        "data manifest without a label column",
        _build_with_manifest(["image,klass", *_GOOD_ROWS], _GOOD_NPY),
        ("manifest.csv", "label"),
    ),
    # output folders
    Case(
        "foreign_out",
        "--out folder holds someone else's files",
        _foreign_out,
        ("mine", "--force"),
        exit_code=2,
        needs_mlperf=True,
    ),
    Case(
        "out_is_file",
        "--out is a file",
        _out_is_file,
        ("afile", "not a folder"),
        exit_code=2,
        needs_mlperf=True,
    ),
    # usage
    Case(
        "bad_option",
        "unknown option",
        lambda w: Invocation(["compile", "m.tflite", "--outt", str(w / "o")]),
        ("No such option", "--outt"),
        exit_code=2,
    ),
    Case(
        "bad_value",
        "option value out of range",
        lambda w: Invocation(["check", "m.tflite", "--inputs", "0"]),
        ("--inputs", "0"),
        exit_code=2,
    ),
    # tools
    Case(
        "no_cross_compiler",
        "cross compiler missing",
        _check_without("arm-none-eabi-gcc"),
        ("arm-none-eabi-gcc not found", "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
        needs_mlperf=True,
    ),
    Case(
        "no_emulator",
        "emulator missing",
        _check_without("qemu-system-arm"),
        ("qemu-system-arm not found", "sudo apt-get install qemu-system-arm"),
        needs_mlperf=True,
    ),
    Case(
        "hang",
        "emulator hangs (stand-in qemu that never exits)",
        _check_hanging,
        ("did not finish within 2 s", "last output: tm2: model loaded, waiting for the first sample"),
        tools=("arm-none-eabi-gcc",),
        needs_mlperf=True,
        firmware=True,
    ),
)


def case_by_key(key: str) -> Case:
    for case in CASES:
        if case.key == key:
            return case
    raise KeyError(key)


def cli_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_case(case: Case, work: Path, *, timeout_s: float = 600) -> Outcome:
    """Build the case's inputs in ``work`` (an empty folder) and run the CLI on them."""
    inv = case.setup(work)
    proc = subprocess.run(
        [sys.executable, "-m", "tinym2net.cli", *inv.argv],
        cwd=work,
        env=cli_env(inv.env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return Outcome(case, inv, proc.returncode, proc.stdout, proc.stderr, work)


def leftovers(inv: Invocation) -> list[str]:
    """What a failed run left that it should not have: the output folder, its temporary siblings,
    or changes to a folder it had to leave alone. Empty when all is well."""
    if inv.out is None:
        return []
    problems = []
    parent = inv.out.parent
    temps = (
        [p.name for p in parent.iterdir() if p.name.startswith(f".{inv.out.name}.")]
        if parent.is_dir()
        else []
    )
    problems += [f"temporary folder {t} left" for t in temps]
    if inv.keep:
        for name, text in inv.keep.items():
            path = inv.out / name if name else inv.out
            if not path.is_file() or path.read_text() != text:
                problems.append(f"{path} was changed")
    elif inv.out.exists():
        problems.append(f"output {inv.out} was written")
    return problems


def available(case: Case) -> str | None:
    """None if the case can run here, else why not."""
    for tool in case.tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if case.needs_mlperf and not MLPERF.is_dir():
        return f"{MLPERF} is missing"
    return None


def _code(text: str) -> str:
    """Markdown inline code; text holding backticks gets double-backtick delimiters."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def markdown_table(outcomes: list[Outcome]) -> str:
    rows = ["| # | Bad input | Command | Exit | Message (stderr, one line) |", "|---|---|---|---|---|"]
    for k, o in enumerate(outcomes, 1):
        argv = " ".join(o.invocation.argv)
        for root in {str(o.work), str(o.work.resolve())}:
            argv = argv.replace(root, "<work>")
        argv = argv.replace(str(MLPERF), "mlperf")
        cells = [str(k), o.case.title, _code(f"tinym2net {argv}"), str(o.returncode), _code(o.message)]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="run only these case keys")
    parser.add_argument("--fuzz-cases", type=int, default=0, help="also run the importer fuzzer with N cases")
    args = parser.parse_args(argv)
    outcomes: list[Outcome] = []
    bad = 0
    for case in CASES:
        if args.only and case.key not in args.only:
            continue
        why = available(case)
        if why:
            print(f"skipped {case.key}: {why}", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix=f"tm2-err-{case.key}-") as tmp:
            o = run_case(case, Path(tmp))
            problems = leftovers(o.invocation)
        lines = o.stderr.count("\n")
        ok = (
            o.returncode == case.exit_code
            and lines == 1
            and "Traceback" not in o.stderr
            and all(f in o.stderr for f in case.expect)
            and not problems
        )
        bad += not ok
        if not ok:
            print(
                f"UNEXPECTED {case.key}: exit {o.returncode}, {lines} stderr lines, {problems}",
                file=sys.stderr,
            )
        outcomes.append(o)
    print(markdown_table(outcomes))
    if args.fuzz_cases:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from fuzz_importer import format_report, run_fuzz

        print()
        print(format_report(run_fuzz(cases=args.fuzz_cases, seed=0)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
