"""Issue 7: bad input and faults give one clear line, nothing is lost, builds are byte-for-byte repeatable.

* Every case of the catalogue in ``benchmarks/error_messages.py`` (bad model files, float / hybrid /
  int16 / uint8 models, unsupported ops, versions, activations and quantisation, models too big for
  the RAM or flash budget, unknown and broken boards, broken data manifests, missing cross compiler
  or emulator, a hanging emulator, bad output folders, usage errors) runs the CLI as a subprocess:
  the exit status, exactly one line on stderr, no traceback, the fragments the message must name,
  and no output or temporary folder left behind.
* Interrupted compiles (an exception in the middle, SIGINT, SIGTERM, SIGKILL) leave no partial
  output, and an earlier output stays whole.
* Two compiles of the same model give identical sources, metadata, project files and firmware image.
* Firmware hygiene: the heap guard fails a build that links malloc; the stack high-water mark is
  reported (``stack_bytes`` in the check JSON) and an exhausted stack or a fault is an error; the
  generated C compiles under ``-Wall -Wextra -Werror`` for host and target; the C API refuses wrong
  sizes (``tm2_model_set_input`` / ``tm2_model_get_output``).
* A few hundred importer fuzz cases (``benchmarks/fuzz_importer.py``): no uncaught exception and no
  crash of host-compiled accepted mutants.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, mlperf_path, require_cross_tools

from tinym2net import cli, verify
from tinym2net.artifact import write_artifact
from tinym2net.boards import load_board
from tinym2net.compiler import compile_graph
from tinym2net.errors import BudgetError, ToolchainError
from tinym2net.fsutil import atomic_output_dir, remove_stale_temporaries
from tinym2net.importer import parse_tflite
from tinym2net.project import DEFAULT_STACK_BYTES, generate_project
from tinym2net.reference import run_litert
from tinym2net.resources import firmware_dir
from tinym2net.toolchain import CROSS_CFLAGS, HOST_CFLAGS, host_build, pio_build


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


em = _load("error_messages")
fz = _load("fuzz_importer")


def _one_error_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert "Traceback" not in stderr, stderr
    return stderr.strip()


def _cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinym2net.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=em.cli_env({}),
    )


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# ---------------------------------------------------------------------------------------------
# the catalogue of bad inputs, through the CLI
# ---------------------------------------------------------------------------------------------

FAST_CASES = [c for c in em.CASES if not c.firmware]
FIRMWARE_CASES = [c for c in em.CASES if c.firmware]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Runs every fast case (two at a time: they are subprocesses) once; returns key -> Future[Outcome]."""
    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[str, Future] = {}
    for case in FAST_CASES:
        if em.available(case) is None:
            futures[case.key] = pool.submit(em.run_case, case, tmp_path_factory.mktemp(case.key))
    yield futures
    pool.shutdown(wait=True)


def _assert_outcome(o) -> None:
    case = o.case
    line = _one_error_line(o.stderr)
    assert o.returncode == case.exit_code, line
    assert line.startswith("tinym2net: error: "), line
    for fragment in case.expect:
        assert fragment in line, (fragment, line)
    assert o.stdout == "", o.stdout
    assert em.leftovers(o.invocation) == []


@pytest.mark.parametrize("case", FAST_CASES, ids=[c.key for c in FAST_CASES])
def test_bad_input_is_one_clear_line(case, catalogue) -> None:
    why = em.available(case)
    if why:
        pytest.skip(why)
    _assert_outcome(catalogue[case.key].result(timeout=600))


@pytest.mark.emulator
@pytest.mark.parametrize("case", FIRMWARE_CASES, ids=[c.key for c in FIRMWARE_CASES])
def test_fault_during_check_is_one_clear_line(case, tmp_path: Path) -> None:
    why = em.available(case)
    if why:
        pytest.skip(why)
    t0 = time.monotonic()
    _assert_outcome(em.run_case(case, tmp_path))
    assert time.monotonic() - t0 < 120  # the time limit stopped it, not the test's own timeout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = _cli("--debug", "compile", str(tmp_path / "absent.tflite"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ModelError" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tinym2net: error: model file")


def test_no_command_prints_help_not_an_error() -> None:
    proc = _cli()
    assert proc.returncode == 2 and proc.stderr == ""
    assert "Usage:" in proc.stdout and "compile" in proc.stdout


# ---------------------------------------------------------------------------------------------
# nothing lost: interrupted output
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(em.fc_model())
    return path


def _cli_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``tinym2net ARGS`` in this process (so that monkeypatches apply): (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_exception_mid_compile_leaves_no_output_and_keeps_the_old_one(
    tmp_path, tiny_model, capsys, monkeypatch
) -> None:
    import tinym2net.project as project

    out = tmp_path / "out"
    code, _, err = _cli_in_process(capsys, "compile", str(tiny_model), "--out", str(out))
    assert code == 0, err
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert Path("model/src/model.c") in before

    real = project.generate_project

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # the project is written into the temporary folder, then ^C
        assert any(".tmp-" in p.name for p in tmp_path.iterdir()), "no temporary folder while compiling"
        raise KeyboardInterrupt

    monkeypatch.setattr(project, "generate_project", interrupted)
    other = tmp_path / "other"
    for dest in (out, other):
        code, _, err = _cli_in_process(capsys, "compile", str(tiny_model), "--out", str(dest))
        assert code == 130
        assert "stopped by signal SIGINT" in _one_error_line(err)
        assert _siblings(dest) == []
    assert not other.exists()
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before  # the earlier output is whole and untouched


_SLOW_COMPILE = """
import signal, sys, time
# A parent that ignores SIGINT or SIGHUP (a background job, nohup) makes the child ignore them too, and the CLI
# rightly keeps an ignored signal ignored: restore Ctrl-C and the default SIGTERM/SIGHUP of a terminal session.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
import tinym2net.project as project
real = project.generate_project
def slow(*args, **kwargs):
    result = real(*args, **kwargs)
    print("READY", flush=True)
    time.sleep(120)
    return result
project.generate_project = slow
from tinym2net.cli import main
main(sys.argv[1:])
"""


def _start_slow_compile(model: Path, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_COMPILE, "compile", str(model), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=em.cli_env({}),
    )
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    if not ready:
        proc.kill()
    assert ready and proc.stdout.readline().strip() == "READY"
    assert any(out.parent.glob(f".{out.name}.tmp-{proc.pid}-*/project/platformio.ini"))  # half-way through
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_mid_compile_leaves_no_partial_output(sig, tmp_path: Path, tiny_model: Path) -> None:
    out = tmp_path / "out"
    proc = _start_slow_compile(tiny_model, out)
    try:
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig
    assert f"stopped by signal {sig.name}" in _one_error_line(stderr)
    assert not out.exists() and _siblings(out) == []


def test_killed_compile_is_cleaned_up_by_the_next_run(tmp_path: Path, tiny_model: Path) -> None:
    out = tmp_path / "out"
    proc = _start_slow_compile(tiny_model, out)
    proc.kill()  # SIGKILL: no clean-up possible
    proc.communicate(timeout=60)
    assert not out.exists()
    assert len(_siblings(out)) == 1  # the dead run's temporary folder
    again = _cli("compile", str(tiny_model), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert (out / "model" / "metadata.json").is_file() and _siblings(out) == []


def test_stale_temporaries_of_running_processes_are_kept(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    mine = tmp_path / f".out.tmp-{os.getpid()}-abc"
    dead = tmp_path / ".out.tmp-999999999-abc"
    unrelated = tmp_path / ".other.tmp-999999999-abc"
    for d in (mine, dead, unrelated):
        d.mkdir()
    assert remove_stale_temporaries(dest) == [dead]
    assert mine.is_dir() and unrelated.is_dir() and not dead.exists()


def test_atomic_output_refuses_foreign_folder_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="--force"), atomic_output_dir(dest):
        pass
    assert (dest / "notes.txt").read_text() == "keep me"
    with atomic_output_dir(dest, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == [".tinym2net-output", "new.txt"]


# ---------------------------------------------------------------------------------------------
# determinism: identical bytes, firmware image included
# ---------------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[Path, bytes]:
    return {
        p.relative_to(root): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".pio" not in p.parts
    }


@pytest.mark.emulator
def test_two_compiles_give_identical_sources_metadata_and_firmware(tmp_path: Path) -> None:
    require_cross_tools()
    model = mlperf_path("kws_ref_model")
    images = []
    trees = []
    for k in range(2):
        out = tmp_path / f"build{k}"
        proc = _cli("compile", str(model), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(out))
        build = pio_build(out / "project", env="emulator")
        images.append((build.elf.parent / "firmware.bin").read_bytes())
    assert trees[0] == trees[1]
    assert {Path("model/metadata.json"), Path("model/src/model.c"), Path("project/platformio.ini")} <= set(
        trees[0]
    )
    assert len(images[0]) > 10_000
    assert images[0] == images[1]


# ---------------------------------------------------------------------------------------------
# firmware hygiene
# ---------------------------------------------------------------------------------------------


def _artifact(model_bytes: bytes, name: str, where: Path) -> tuple[Path, object]:
    graph = parse_tflite(model_bytes, name=name)
    compiled = compile_graph(graph, model_bytes)
    write_artifact(compiled, where, model_name=name, board="nano33")
    return where, compiled


@pytest.mark.emulator
def test_heap_use_in_a_generated_project_fails_the_build(tmp_path: Path) -> None:
    require_cross_tools()
    art, _ = _artifact(em.fc_model(), "tiny", tmp_path / "art")
    proj = generate_project(art, load_board("nano33"), tmp_path / "proj")
    pio_build(proj)  # as generated: heap-free, builds
    model_c = proj / "src" / "model" / "model.c"
    text = model_c.read_text().replace("#include <string.h>", "#include <string.h>\n#include <stdlib.h>", 1)
    text = text.replace(
        "int tm2_model_init(void) {", "int tm2_model_init(void) {\n  if (malloc(16) == NULL) return 1;", 1
    )
    model_c.write_text(text)
    with pytest.raises(ToolchainError, match="heap") as err:
        pio_build(proj)
    assert "\n" not in str(err.value)


_DEEP_STACK = """
__attribute__((noinline)) static int tm2_test_deep(int seed) {
  volatile uint8_t pad[1536];
  for (int i = 0; i < 1536; ++i) pad[i] = (uint8_t)(seed + i);
  return pad[1535];
}
"""
_BAD_READ = "if (*(volatile uint32_t *)0x50000000u == 1u) return 1;"


def _patch_model_c(monkeypatch, *, decl: str = "", first_statement: str = "") -> None:
    """Make every artifact ``tinym2net check`` writes carry extra C in model.c (a deep frame, a fault)."""
    real = verify.write_artifact

    def patched(compiled, out_dir, **kwargs):
        meta = real(compiled, out_dir, **kwargs)
        model_c = Path(out_dir) / "src" / "model.c"
        text = model_c.read_text().replace("/* Kept out of line", decl + "\n/* Kept out of line", 1)
        text = text.replace(
            "int tm2_model_invoke(void) {", "int tm2_model_invoke(void) {\n  " + first_statement, 1
        )
        model_c.write_text(text)
        return meta

    monkeypatch.setattr(verify, "write_artifact", patched)


@pytest.mark.emulator
def test_check_reports_stack_use_and_fails_when_the_stack_is_exhausted(tmp_path, monkeypatch, capsys) -> None:
    require_cross_tools()
    model = str(mlperf_path("ad01_int8"))
    code, out, err = _cli_in_process(capsys, "check", model, "--json", "--inputs", "1")
    assert code == 0, err
    plain = json.loads(out)["stack_bytes"]
    assert 0 < plain < 1024

    _patch_model_c(monkeypatch, decl=_DEEP_STACK, first_statement="if (tm2_test_deep(1) == 7) return 1;")
    code, out, err = _cli_in_process(capsys, "check", model, "--json", "--inputs", "1")
    assert code == 0, err
    res = json.loads(out)
    assert res["bit_exact"] is True
    assert 1536 < res["stack_bytes"] < res["stack_size_bytes"] == 8192

    code, out, err = _cli_in_process(
        capsys, "check", model, "--json", "--inputs", "1", "--stack-bytes", "1024"
    )
    assert code == 1 and out == ""
    line = _one_error_line(err)
    assert "stack" in line and "--stack-bytes" in line, line


@pytest.mark.emulator
def test_check_fails_clearly_when_the_firmware_faults(tmp_path, monkeypatch, capsys) -> None:
    require_cross_tools()
    _patch_model_c(monkeypatch, first_statement=_BAD_READ)
    code, out, err = _cli_in_process(
        capsys, "check", str(mlperf_path("ad01_int8")), "--json", "--inputs", "1"
    )
    assert code == 1 and out == ""
    line = _one_error_line(err)
    assert "stopped with status 3" in line and "tm2: fault exception" in line and "bfar=0x5000000" in line, (
        line
    )


def test_emulator_log_checks() -> None:
    log = "tm2: stack used 700\ntm2: stack size 8192\n"
    assert verify.check_emulator_run(0, log, "mps2-an386") == (700, 8192)
    assert verify.check_emulator_run(0, "no report\n", "mps2-an386") is None
    with pytest.raises(BudgetError, match="8192 B stack"):
        verify.check_emulator_run(0, "tm2: stack used 8192\ntm2: stack size 8192\n", "mps2-an386")
    with pytest.raises(ToolchainError, match="status 3 .*last output: tm2: fault"):
        verify.check_emulator_run(3, "starting\ntm2: fault exception 03 pc=0x00000100\n", "mps2-an386")


@pytest.mark.emulator
def test_linked_size_over_the_budget_is_refused_after_the_link(tmp_path: Path) -> None:
    """A budget one byte above the plan's bound (arena + stack) passes the pre-build check; the linked
    image (which also holds the runtime's own data) does not fit it."""
    require_cross_tools()
    model = mlperf_path("kws_ref_model")
    data = model.read_bytes()
    bound = compile_graph(parse_tflite(data, name="kws"), data).arena_bytes + DEFAULT_STACK_BYTES
    proc = _cli("check", str(model), "--json", "--ram-budget", str(bound + 1))
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert (
        "the firmware of model 'kws_ref_model' needs" in line and f"--ram-budget is {bound + 1} B" in line
    ), line


def _werror_sources(art: Path) -> list[Path]:
    return [art / "src" / n for n in ("model.c", "model_weights.c", "main.c")]


def test_generated_c_is_warning_free_with_werror(tmp_path: Path) -> None:
    """Host (gcc) and, where installed, target (arm-none-eabi-gcc, bare-metal branch of main.c)."""
    assert {"-Wall", "-Wextra", "-Werror"} <= set(HOST_CFLAGS) and {"-Wall", "-Wextra", "-Werror"} <= set(
        CROSS_CFLAGS
    )
    fw = firmware_dir()
    includes = [f"-I{fw / 'kernels'}", f"-I{fw / 'runtime'}"]
    # the flags do fail on a warning
    bad = tmp_path / "bad.c"
    bad.write_text("int f(int x) { int unused; return x; }\n")
    assert (
        subprocess.run(
            ["gcc", *HOST_CFLAGS, "-c", str(bad), "-o", str(tmp_path / "bad.o")], capture_output=True
        ).returncode
        != 0
    )
    models = {
        "tiny": em.fc_model(),
        "add": em.add_model(16),
        "kws": mlperf_path("kws_ref_model").read_bytes(),
    }
    cross = shutil.which("arm-none-eabi-gcc")
    board = load_board("nano33")
    for name, data in models.items():
        art, _ = _artifact(data, name, tmp_path / name)
        for src in _werror_sources(art):
            host = subprocess.run(
                [
                    "gcc",
                    *HOST_CFLAGS,
                    f"-I{art / 'src'}",
                    *includes,
                    "-c",
                    str(src),
                    "-o",
                    str(tmp_path / "x.o"),
                ],
                capture_output=True,
                text=True,
            )
            assert host.returncode == 0, host.stderr
            if cross:
                target = subprocess.run(
                    [
                        cross,
                        *board.gcc_flags,
                        *CROSS_CFLAGS,
                        f"-I{art / 'src'}",
                        *includes,
                        "-c",
                        str(src),
                        "-o",
                        str(tmp_path / "y.o"),
                    ],
                    capture_output=True,
                    text=True,
                )
                assert target.returncode == 0, target.stderr


_C_API_TEST = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"

int main(void) {
  int8_t a[TM2_INPUT_0_BYTES], b[TM2_INPUT_1_BYTES];
  int8_t zeros[TM2_INPUT_0_BYTES + 1], out[TM2_OUTPUT_0_BYTES + 1];
  for (size_t i = 0; i < sizeof a; ++i) a[i] = (int8_t)(7 * (int)i - 60);
  for (size_t i = 0; i < sizeof b; ++i) b[i] = (int8_t)(100 - 13 * (int)i);
  memset(zeros, 0, sizeof zeros);
  tm2_model_init();
  printf("%d %d\n", tm2_model_set_input(0, a, sizeof a), tm2_model_set_input(1, b, sizeof b));
  printf("%d %d %d %d %d\n", tm2_model_set_input(0, zeros, sizeof a - 1),
         tm2_model_set_input(0, zeros, sizeof a + 1),
         tm2_model_set_input(2, zeros, sizeof a), tm2_model_set_input(-1, zeros, sizeof a),
         tm2_model_set_input(0, NULL, sizeof a));
  printf("%d\n", memcmp(tm2_model_input(0), a, sizeof a) == 0);
  tm2_model_invoke();
  printf("%d %d %d %d\n", tm2_model_get_output(0, out, TM2_OUTPUT_0_BYTES + 1),
         tm2_model_get_output(1, out, TM2_OUTPUT_0_BYTES),
         tm2_model_get_output(0, NULL, TM2_OUTPUT_0_BYTES), tm2_model_get_output(0, out, TM2_OUTPUT_0_BYTES));
  for (size_t i = 0; i < TM2_OUTPUT_0_BYTES; ++i) printf("%d ", out[i]);
  printf("\n");
  return 0;
}
"""


def test_c_api_checks_input_and_output_sizes(tmp_path: Path) -> None:
    data = em.add_model(24)
    art, compiled = _artifact(data, "add", tmp_path / "art")
    header = (art / "src" / "model.h").read_text()
    assert "int tm2_model_set_input(int index, const void *data, size_t bytes);" in header
    assert "int tm2_model_get_output(int index, void *data, size_t bytes);" in header
    codes = {k: int(v) for k, v in re.findall(r"#define (TM2_OK|TM2_ERROR_\w+) \(?(-?\d+)\)?", header)}
    assert codes == {"TM2_OK": 0, "TM2_ERROR_INDEX": -1, "TM2_ERROR_SIZE": -2, "TM2_ERROR_NULL": -3}
    test_c = tmp_path / "api_test.c"
    test_c.write_text(_C_API_TEST)
    fw = firmware_dir()
    sources = [
        art / "src" / "model.c",
        art / "src" / "model_weights.c",
        test_c,
        *sorted((fw / "kernels").glob("*.c")),
    ]
    exe = host_build(sources, [art / "src", fw / "kernels", fw / "runtime"], tmp_path / "api_test")
    lines = subprocess.run(
        [str(exe)], capture_output=True, text=True, check=True, timeout=30
    ).stdout.splitlines()
    ok, size, index, null = (
        codes["TM2_OK"],
        codes["TM2_ERROR_SIZE"],
        codes["TM2_ERROR_INDEX"],
        codes["TM2_ERROR_NULL"],
    )
    assert lines[0].split() == [str(ok)] * 2
    assert lines[1].split() == [str(v) for v in (size, size, index, index, null)]
    assert lines[2] == "1"  # refused calls copied nothing
    assert lines[3].split() == [str(v) for v in (size, index, null, ok)]
    got = np.array([int(v) for v in lines[4].split()], dtype=np.int8)
    a = np.array([(7 * i - 60 + 128) % 256 - 128 for i in range(24)], dtype=np.int8).reshape(1, 24)
    b = np.array([(100 - 13 * i + 128) % 256 - 128 for i in range(24)], dtype=np.int8).reshape(1, 24)
    want = run_litert(data, compiled.graph, [[a, b]])[0][0].reshape(-1)
    assert np.array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# fuzzing (a few hundred cases; benchmarks/fuzz_importer.py runs thousands)
# ---------------------------------------------------------------------------------------------


def test_fuzzed_models_never_raise_uncaught_and_accepted_ones_run(tmp_path: Path) -> None:
    models = {n: mlperf_path(n).read_bytes() for n in ("kws_ref_model", "pretrainedResnet_quant")}
    report = fz.run_fuzz(cases=300, seed=11, models=models, host_runs=2 if shutil.which("gcc") else 0)
    assert report.cases == 300
    assert report.uncaught == [], fz.format_report(report)
    assert report.total("rejected") >= 100 and report.total("accepted") >= 20
    assert len(report.by_kind) >= 15  # the field-targeted mutations reach many kinds of field
    if shutil.which("gcc"):
        assert len(report.host) == 2
        assert report.host_crashes == 0 and report.host_build_failures == 0, fz.format_report(report)
