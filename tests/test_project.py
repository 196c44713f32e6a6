"""Project generation, offline PlatformIO build, QEMU runs, and the firmware guards.

The dummy artifact's "model" copies each 48-byte input sample to the output; its main() also
measures the stack after using a 600-byte local buffer and exercises the FPU (so a missing CPACR
enable would fault on FPU boards). Firmware tests need arm-none-eabi-gcc and qemu-system-arm.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tinym2net.boards import load_board
from tinym2net.errors import BudgetError, ToolchainError, UsageError
from tinym2net.project import generate_project, read_artifact
from tinym2net.resources import firmware_dir
from tinym2net.toolchain import (
    cross_build,
    elf_sizes,
    explain_link_failure,
    host_build,
    pio_build,
    pio_environment,
    pio_executable,
    require_tool,
    run_qemu,
)

SAMPLE_BYTES = 48
STACK_BYTES = 4096

needs_cross = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"
)
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"
)

MODEL_H = f"""#ifndef MODEL_H
#define MODEL_H
#include <stdint.h>
#define TM2_MODEL_IN_BYTES {SAMPLE_BYTES}
#define TM2_MODEL_OUT_BYTES {SAMPLE_BYTES}
void tm2_model_invoke(const int8_t *in, int8_t *out);
#endif
"""

MODEL_C = """#include "model.h"
void tm2_model_invoke(const int8_t *in, int8_t *out) {
  for (int i = 0; i < TM2_MODEL_IN_BYTES; ++i) out[i] = in[i];
}
"""

MAIN_C = r"""#include <stddef.h>
#include <stdint.h>
#include "model.h"
#include "tm2_io.h"
#include "tm2_stack.h"
EXTRA_DECLS
static int8_t in_buf[TM2_MODEL_IN_BYTES];
static int8_t out_buf[TM2_MODEL_OUT_BYTES];

/* Uses 600 bytes of stack so that the measured high-water mark has a known lower bound. */
__attribute__((noinline)) static int deep(int seed) {
  volatile uint8_t pad[600];
  for (int i = 0; i < 600; ++i) pad[i] = (uint8_t)(seed + i);
  return pad[599];
}

static void log_number(const char *label, size_t v) {
  char line[64];
  char digits[12];
  int n = 0, k = 0;
  while (label[k] != '\0') { line[k] = label[k]; ++k; }
  do { digits[n++] = (char)('0' + v % 10u); v /= 10u; } while (v != 0u);
  while (n > 0) line[k++] = digits[--n];
  line[k++] = '\n';
  line[k] = '\0';
  tm2_io_log(line);
}

int main(int argc, char **argv) {
  uint32_t n = 0;
  if (tm2_io_open(argc, argv) != 0) return 2;
  if (tm2_io_read(&n, sizeof n) != 0) return 3;
  volatile float scale = 1.5f;
  for (uint32_t i = 0; i < n; ++i) {
    if (tm2_io_read(in_buf, sizeof in_buf) != 0) return 4;
    scale = scale * 2.0f;
    tm2_model_invoke(in_buf, out_buf);
    if (tm2_io_write(out_buf, sizeof out_buf) != 0) return 5;
  }
  EXTRA_CODE
  if (scale != 1.5f * (float)(1u << n)) return 6;
  (void)deep((int)n);
  tm2_io_close();
  log_number("tm2: stack used ", tm2_stack_used());
  log_number("tm2: stack size ", tm2_stack_size());
  return 0;
}
"""


def make_artifact(root: Path, *, extra_decls: str = "", extra_code: str = "", samples: int = 3) -> Path:
    """A dummy model artifact: copy model + main.c + a random sample and its expected output."""
    src = root / "src"
    src.mkdir(parents=True)
    (src / "model.h").write_text(MODEL_H)
    (src / "model.c").write_text(MODEL_C)
    (src / "main.c").write_text(MAIN_C.replace("EXTRA_DECLS", extra_decls).replace("EXTRA_CODE", extra_code))
    rng = random.Random(7)
    payload = bytes(rng.randrange(256) for _ in range(samples * SAMPLE_BYTES))
    (root / "tm2_in.bin").write_bytes(struct.pack("<I", samples) + payload)
    (root / "tm2_out.bin").write_bytes(payload)
    (root / "metadata.json").write_text(
        json.dumps({"name": "copy48", "stack_bytes": STACK_BYTES, "qemu_timeout_s": 30})
    )
    return root


def stack_numbers(stderr: str) -> tuple[int, int]:
    used = re.search(r"tm2: stack used (\d+)", stderr)
    size = re.search(r"tm2: stack size (\d+)", stderr)
    assert used and size, stderr
    return int(used.group(1)), int(size.group(1))


# ---------------------------------------------------------------- generation (no tools needed)


def test_generated_project_layout(tmp_path: Path) -> None:
    art = make_artifact(tmp_path / "art")
    board = load_board("nano33")
    proj = generate_project(art, board, tmp_path / "proj")
    for rel in (
        "platformio.ini",
        "linker.ld",
        "boards/tm2_nano33.json",
        "platform/tinym2net-arm/platform.json",
        "platform/tinym2net-arm/builder/main.py",
        ".platformio/packages/tool-scons/scons.py",
        ".platformio/packages/tool-scons/.piopm",
        "src/model/main.c",
        "src/runtime/startup.c",
        "src/runtime/io_semihost.c",
        "src/runtime/tm2_io.h",
        "src/arduino/sketch.cpp",
        "src/arduino/app_main.c",
        "test/test_custom_runner.py",
        "test/data/tm2_in.bin",
        "test/data/tm2_out.bin",
        "tinym2net_project.json",
    ):
        assert (proj / rel).is_file(), rel
    kernels = {p.name for p in (firmware_dir() / "kernels").iterdir() if p.suffix in (".c", ".h")}
    assert kernels <= {p.name for p in (proj / "src/kernels").iterdir()}
    ini = (proj / "platformio.ini").read_text()
    assert "[env:emulator]" in ini and "[env:nano33ble]" in ini
    assert "test_framework = custom" in ini and "mps2-an386" in ini and "platform = nordicnrf52" in ini
    assert "symlink://${PROJECT_DIR}/platform/tinym2net-arm" in ini
    manifest = json.loads((proj / "boards/tm2_nano33.json").read_text())
    assert manifest["upload"] == {"maximum_size": 1048576, "maximum_ram_size": 262144}
    assert manifest["build"]["tinym2net"]["gcc_flags"] == list(board.gcc_flags)
    ld = (proj / "linker.ld").read_text()
    assert "LENGTH = 1048576" in ld and "LENGTH = 262144" in ld and f"TM2_STACK_SIZE = {STACK_BYTES};" in ld
    sketch = (proj / "src/arduino/sketch.cpp").read_text()
    assert "0x03, 0x00, 0x00, 0x00," in sketch  # the embedded sample starts with its count (3)
    piopm = json.loads((proj / ".platformio/packages/tool-scons/.piopm").read_text())
    assert piopm["spec"]["owner"] == "platformio" and piopm["version"].startswith("4.41101")


def test_emulator_only_board_has_no_sketch_env(tmp_path: Path) -> None:
    proj = generate_project(make_artifact(tmp_path / "art"), load_board("mps2_an385"), tmp_path / "p")
    ini = (proj / "platformio.ini").read_text()
    assert "[env:emulator]" in ini and "nordicnrf52" not in ini
    assert not (proj / "src/arduino").exists()


def test_generation_refuses_foreign_folder_and_regenerates_own(tmp_path: Path) -> None:
    art = make_artifact(tmp_path / "art")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a tinym2net project"):
        generate_project(art, load_board("nano33"), foreign)
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    (proj / "src/model/stale.c").write_text("int stale;\n")
    generate_project(art, load_board("mps2_an500"), proj, stack_bytes=2048)
    assert not (proj / "src/model/stale.c").exists()
    assert "TM2_STACK_SIZE = 2048;" in (proj / "linker.ld").read_text()


def test_artifact_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no metadata.json"):
        read_artifact(tmp_path)
    art = make_artifact(tmp_path / "art")
    (art / "src/main.c").unlink()
    with pytest.raises(UsageError, match="no src/main.c"):
        read_artifact(art)
    art2 = make_artifact(tmp_path / "art2")
    (art2 / "metadata.json").write_text('{"stack_bytes": "big"}')
    with pytest.raises(UsageError, match="stack_bytes"):
        read_artifact(art2)


def test_require_tool_gives_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ToolchainError, match=r"apt-get install qemu-system-arm"):
        require_tool("qemu-system-arm")
    with pytest.raises(ToolchainError, match=r"apt-get install gcc-arm-none-eabi"):
        require_tool("arm-none-eabi-gcc")


def test_explain_link_failure_messages(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    err = explain_link_failure(
        "ld: region `FLASH' overflowed by 954144 bytes\ncollect2: error: ld returned 1\n", log
    )
    assert isinstance(err, BudgetError) and "FLASH by 954144 bytes" in str(err) and str(log) in str(err)
    err = explain_link_failure("src/a.c:3:1: error: expected ';' before '}' token\n*** [x.o] Error 1\n", log)
    assert isinstance(err, ToolchainError) and "expected ';'" in str(err)


def test_host_build_runs_the_same_main(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    art = make_artifact(tmp_path / "art")
    rt = firmware_dir() / "runtime"
    # On the host tm2_stack.c compiles to "not measured" (0) versions.
    exe = host_build(
        [art / "src/main.c", art / "src/model.c", rt / "io_host.c", rt / "tm2_stack.c"],
        [art / "src", rt],
        tmp_path / "host_model",
        defines={"TM2_HOST": 1},
    )
    out = tmp_path / "out.bin"
    proc = subprocess.run([str(exe), str(art / "tm2_in.bin"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (art / "tm2_out.bin").read_bytes()
    assert stack_numbers(proc.stderr) == (0, 0)
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) { return }\n")
    with pytest.raises(ToolchainError, match="host build of bad failed"):
        host_build([bad], [], tmp_path / "bad")


def test_sketch_compiles_against_a_stub_arduino_core(tmp_path: Path) -> None:
    """The Arduino env cannot build offline; compile and run its sketch on the host with a stub core."""
    if shutil.which("g++") is None or shutil.which("gcc") is None:
        pytest.skip("g++ not installed")
    art = make_artifact(tmp_path / "art", samples=2)
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "Arduino.h").write_text(
        "#pragma once\n#include <stdio.h>\n#include <stdlib.h>\n"
        "struct StubSerial { void begin(unsigned long) {} explicit operator bool() const { return true; }\n"
        "  void print(const char *s) { fputs(s, stdout); } void print(char c) { fputc(c, stdout); }\n"
        '  void print(unsigned long v) { printf("%lu", v); } void print(int v) { printf("%d", v); }\n'
        '  void println(const char *s) { puts(s); } void println() { puts(""); } void flush() { fflush(stdout); } };\n'
        "extern StubSerial Serial;\nunsigned long micros(void);\nunsigned long millis(void);\nvoid delay(unsigned long);\n"
    )
    (stub / "host_main.cpp").write_text(
        '#include "Arduino.h"\nStubSerial Serial;\nunsigned long micros(void) { static unsigned long t; return t += 5; }\n'
        "unsigned long millis(void) { return 0; }\nvoid delay(unsigned long) { exit(0); }\nvoid setup();\n"
        "int main() { setup(); return 1; }\n"
    )
    inc = [f"-I{d}" for d in (stub, proj / "src/runtime", proj / "src/model")]
    objs = []
    for src, compiler, std in (
        (proj / "src/arduino/sketch.cpp", "g++", "-std=c++17"),
        (proj / "src/arduino/app_main.c", "gcc", "-std=c99"),
        (proj / "src/model/model.c", "gcc", "-std=c99"),
        (stub / "host_main.cpp", "g++", "-std=c++17"),
    ):
        obj = tmp_path / (src.name + ".o")
        subprocess.run(
            [compiler, std, "-Wall", "-Wextra", "-Werror", *inc, "-c", str(src), "-o", str(obj)], check=True
        )
        objs.append(str(obj))
    exe = tmp_path / "sketch"
    subprocess.run(["g++", *objs, "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0
    expected = (art / "tm2_out.bin").read_bytes()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("tm2: out ")]
    assert [bytes.fromhex(line.split(" ", 3)[3]) for line in lines] == [expected[:48], expected[48:]]
    assert "tm2: sample 1 inference" in proc.stdout and "tm2: exit status 0, 2 samples" in proc.stdout


# ---------------------------------------------------------------- firmware: PlatformIO + QEMU


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated nano33 project, built once with `pio run -e emulator`; returns (artifact, project)."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    root = tmp_path_factory.mktemp("built")
    art = make_artifact(root / "art")
    proj = generate_project(art, load_board("nano33"), root / "proj")
    return art, proj


@needs_cross
def test_pio_build_reports_sizes(built: tuple[Path, Path]) -> None:
    _, proj = built
    res = pio_build(proj)
    assert res.elf.is_file() and (res.elf.parent / "firmware.bin").is_file()
    assert res.flash_bytes == res.text + res.data and res.ram_bytes == res.data + res.bss
    assert STACK_BYTES < res.ram_bytes < 16 * 1024
    assert 200 < res.flash_bytes < 16 * 1024
    sizes = elf_sizes(res.elf)
    assert sizes.stack_bytes == STACK_BYTES and sizes.heap_symbols == ()
    log = res.log.read_text()
    assert "RAM:" in log and "Flash:" in log  # PlatformIO's use report against the board budget


@needs_cross
@needs_qemu
def test_run_qemu_round_trip_and_stack(built: tuple[Path, Path], tmp_path: Path) -> None:
    art, proj = built
    res = pio_build(proj)
    shutil.copyfile(art / "tm2_in.bin", tmp_path / "tm2_in.bin")
    run = run_qemu(res.elf, load_board("nano33"), tmp_path, timeout_s=30)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "tm2_out.bin").read_bytes() == (art / "tm2_out.bin").read_bytes()
    used, size = stack_numbers(run.stderr)
    assert size == STACK_BYTES
    assert 600 < used < size  # deep() alone uses 600 bytes


@needs_cross
@needs_qemu
def test_pio_test_emulator(built: tuple[Path, Path]) -> None:
    _, proj = built
    cmd = [str(pio_executable()), "test", "-d", str(proj), "-e", "emulator"]
    proc = subprocess.run(cmd, env=pio_environment(proj), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 test cases: 3 succeeded" in proc.stdout
    assert "outputs_match_reference\t[PASSED]" in proc.stdout
    # A wrong reference must make `pio test` fail.
    ref = proj / "test/data/tm2_out.bin"
    good = ref.read_bytes()
    ref.write_bytes(bytes([good[0] ^ 0xFF]) + good[1:])
    try:
        proc = subprocess.run(cmd, env=pio_environment(proj), capture_output=True, text=True, timeout=300)
    finally:
        ref.write_bytes(good)
    assert proc.returncode != 0
    assert "outputs differ from test/data/tm2_out.bin at byte 0" in proc.stdout


@needs_cross
def test_too_big_const_array_fails_the_link(tmp_path: Path) -> None:
    art = make_artifact(
        tmp_path / "art",
        extra_decls="extern const uint8_t tm2_big_table[];",
        extra_code="if (tm2_big_table[n] == 7u) return 9;",
    )
    (art / "src/big.c").write_text("#include <stdint.h>\nconst uint8_t tm2_big_table[1100000] = {1, 2, 3};\n")
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    with pytest.raises(BudgetError) as err:
        pio_build(proj)
    msg = str(err.value)
    assert "region FLASH by" in msg and "log:" in msg and "\n" not in msg


@needs_cross
def test_malloc_fails_the_build(tmp_path: Path) -> None:
    art = make_artifact(
        tmp_path / "art",
        extra_decls="#include <stdlib.h>",
        extra_code="void *p = malloc(n * 4u + 1u); if (p == NULL) return 8;",
    )
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    with pytest.raises(ToolchainError, match="heap") as err:
        pio_build(proj)
    assert "tinym2net-emulator.log" in str(err.value)


# ---------------------------------------------------------------- other cores, faults, hangs (direct gcc)


def _cross(proj: Path, board_name: str, out: Path) -> Path:
    srcs = sorted((proj / "src/model").glob("*.c")) + sorted((proj / "src/runtime").glob("*.c"))
    incs = [proj / "src/model", proj / "src/runtime", proj / "src/kernels"]
    return cross_build(srcs, incs, out / "fw.elf", load_board(board_name), proj / "linker.ld")


@needs_cross
@needs_qemu
@pytest.mark.parametrize("board_name", ["mps2_an500", "mps2_an385"])
def test_other_cores_run_the_same_firmware(board_name: str, tmp_path: Path) -> None:
    art = make_artifact(tmp_path / "art")
    board = load_board(board_name)
    proj = generate_project(art, board, tmp_path / "p")
    elf = _cross(proj, board_name, tmp_path / "build")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copyfile(art / "tm2_in.bin", run_dir / "tm2_in.bin")
    run = run_qemu(elf, board, run_dir, timeout_s=30)
    assert run.returncode == 0, run.stderr
    assert (run_dir / "tm2_out.bin").read_bytes() == (art / "tm2_out.bin").read_bytes()
    used, size = stack_numbers(run.stderr)
    assert 600 < used < size


@needs_cross
@needs_qemu
def test_fault_reports_and_exits_nonzero(tmp_path: Path) -> None:
    art = make_artifact(
        tmp_path / "art", extra_code="if (*(volatile uint32_t *)(0x50000000u + n) == 1u) return 7;"
    )
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    elf = _cross(proj, "nano33", tmp_path / "build")
    shutil.copyfile(art / "tm2_in.bin", tmp_path / "tm2_in.bin")
    run = run_qemu(elf, load_board("nano33"), tmp_path, timeout_s=30)
    assert run.returncode == 3
    report = re.search(
        r"tm2: fault exception 03 pc=0x([0-9a-f]{8}) cfsr=0x[0-9a-f]{8} hfsr=0x[0-9a-f]{8} "
        r"bfar=0x5000000[0-3]",
        run.stderr,
    )
    assert report, run.stderr
    # The reported PC is the faulting load, inside main().
    nm = subprocess.run(
        ["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    start, size = next(
        (int(f[0], 16), int(f[1], 16)) for f in map(str.split, nm.splitlines()) if f[-1] == "main"
    )
    assert start <= int(report.group(1), 16) < start + size


@needs_cross
@needs_qemu
def test_hang_is_stopped_with_a_clear_error(tmp_path: Path) -> None:
    art = make_artifact(
        tmp_path / "art",
        extra_code='tm2_io_log("spinning\\n"); for (volatile uint32_t k = 1; k != 0; k += 2) {}',
    )
    proj = generate_project(art, load_board("nano33"), tmp_path / "p")
    elf = _cross(proj, "nano33", tmp_path / "build")
    shutil.copyfile(art / "tm2_in.bin", tmp_path / "tm2_in.bin")
    with pytest.raises(ToolchainError) as err:
        run_qemu(elf, load_board("nano33"), tmp_path, timeout_s=1.5)
    msg = str(err.value)
    assert "1.5 s" in msg and "spinning" in msg and "\n" not in msg


def test_pio_environment_keeps_core_dir_inside_project(tmp_path: Path) -> None:
    env = pio_environment(tmp_path)
    assert env["PLATFORMIO_CORE_DIR"] == str(tmp_path.resolve() / ".platformio")
    assert env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true"
    assert env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "No"
