"""Instruction counting and the Cortex-M4 cycle model (tinym2net.counting, tinym2net.cycle_model).

The firmware under test has a hand-written ``tm2_model_invoke`` (Thumb-2 assembly) whose
instructions, classes, branch outcomes and cycle costs follow from the code by hand; main() reads
trip counts from tm2_in.bin, invokes once per count and writes each result to tm2_out.bin, so the
same ELF runs in QEMU for the output comparison. Firmware tests need arm-none-eabi-gcc (and
qemu-system-arm for the comparison).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import jinja2
import pytest

from tinym2net.boards import load_board
from tinym2net.counting import CountResult, count_invoke
from tinym2net.cycle_model import CLASSES, COST_TABLE, DIVIDE_CYCLES, PIPELINE_REFILL, BlockDecoder
from tinym2net.errors import ToolchainError
from tinym2net.resources import firmware_dir, templates_dir
from tinym2net.toolchain import cross_build, run_qemu

needs_cross = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"
)
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"
)

TRIPS = (1, 5, 40)  # loop trip count k of each invocation

# r0 = k >= 1. Per invocation: 17 + 3k instructions (see expected_counts).
MODEL_C = r"""#include <stdint.h>
__asm__(
    "  .syntax unified\n"
    "  .thumb\n"
    "  .section .text.tm2_model_invoke,\"ax\",%progbits\n"
    "  .global tm2_model_invoke\n"
    "  .type tm2_model_invoke, %function\n"
    "  .thumb_func\n"
    "tm2_model_invoke:\n"
    "  push {r4, lr}\n"
    "  mov r4, r0\n"
    "  movs r1, #0\n"
    "1:\n"
    "  adds r1, r1, r0\n"
    "  subs r0, r0, #1\n"
    "  bne 1b\n"
    "  cmp r1, #10\n"
    "  ite hi\n"
    "  movhi r0, #1\n"
    "  movls r0, #0\n"
    "  bl tm2_test_helper\n"
    "  cbz r4, 2f\n"
    "  adds r0, r0, r1\n"
    "2:\n"
    "  ldr r2, =tm2_test_word\n"
    "  ldr r3, [r2]\n"
    "  add r0, r0, r3\n"
    "  sdiv r0, r0, r4\n"
    "  pop {r4, pc}\n"
    "  .ltorg\n"
    "  .size tm2_model_invoke, .-tm2_model_invoke\n"
    "  .section .text.tm2_test_helper,\"ax\",%progbits\n"
    "  .global tm2_test_helper\n"
    "  .type tm2_test_helper, %function\n"
    "  .thumb_func\n"
    "tm2_test_helper:\n"
    "  adds r0, r0, #5\n"
    "  bx lr\n"
    "  .size tm2_test_helper, .-tm2_test_helper\n");
"""

MAIN_C = r"""#include <stdint.h>
#include "tm2_io.h"
uint32_t tm2_model_invoke(uint32_t k);
uint32_t tm2_test_helper(uint32_t x);
volatile uint32_t tm2_test_word = 1000u;

int main(int argc, char **argv) {
  uint32_t n = 0, k = 0;
  if (tm2_io_open(argc, argv) != 0) return 2;
  if (tm2_io_read(&n, sizeof n) != 0) return 3;
  const uint32_t outside = tm2_test_helper(n); /* runs outside the counted extent */
  for (uint32_t i = 0; i < n; ++i) {
    if (tm2_io_read(&k, sizeof k) != 0) return 4;
    const uint32_t r = tm2_model_invoke(k);
    if (tm2_io_write(&r, sizeof r) != 0) return 5;
  }
  volatile float f = 1.5f;
  f = f * (float)outside; /* the FPU must be enabled by the start-up code */
  if (f != 1.5f * (float)(n + 5u)) return 6;
  tm2_io_close();
  tm2_io_log("tm2: done\n");
  return 0;
}
"""


def expected_counts(k: int) -> tuple[int, dict[str, int], int]:
    """Instructions, classes and cycles of one invocation with trip count k, derived by hand."""
    p = PIPELINE_REFILL
    classes = dict.fromkeys(CLASSES, 0)
    classes.update(
        {
            "store_multiple": 1,  # push {r4, lr}
            "alu": 8 + 2 * k,  # mov, movs, 2 per iteration, cmp, movhi, movls, helper adds, adds, add
            "branch_cond_taken": k - 1,  # bne back
            "branch_cond_untaken": 2,  # bne at loop end, cbz (r4 = k != 0)
            "it": 1,
            "branch": 2,  # bl, bx lr
            "load": 2,  # literal load, ldr [r2]
            "div": 1,
            "load_multiple": 1,  # pop {r4, pc}
        }
    )
    cycles = (
        3  # push: 1 + N
        + 2  # mov, movs
        + 2 * k  # adds, subs per iteration
        + (k - 1) * (1 + p)  # bne taken
        + 1  # bne not taken
        + 4  # cmp, ite, movhi, movls
        + (1 + p)  # bl
        + 1  # helper adds
        + (1 + p)  # bx lr
        + 1  # cbz not taken
        + 1  # adds
        + 2  # ldr literal (first load after an ALU op that does not write PC)
        + 2  # ldr [r2]: its base is the previous load's destination, so no pipelining
        + 1  # add
        + DIVIDE_CYCLES
        + (1 + 2 + p)  # pop {r4, pc}: 1 + N + P
    )
    return 17 + 3 * k, classes, cycles


def build_firmware(root: Path, board_name: str = "nano33", main_c: str = MAIN_C) -> Path:
    """Cross-builds the test firmware with the board's linker script and the real runtime."""
    board = load_board(board_name)
    src = root / "src"
    src.mkdir(parents=True)
    (src / "model.c").write_text(MODEL_C)
    (src / "main.c").write_text(main_c)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined
    )
    ld = root / "linker.ld"
    ld.write_text(
        env.get_template("linker.ld.j2").render(
            board=board,
            stack_bytes=2048,
            flash_origin=board.emulator_flash_origin,
            ram_origin=board.emulator_ram_origin,
        )
    )
    runtime = firmware_dir() / "runtime"
    sources = [
        src / "main.c",
        src / "model.c",
        *(runtime / n for n in ("startup.c", "io_semihost.c", "tm2_stack.c")),
    ]
    return cross_build(sources, [runtime], root / "build" / "fw.elf", board, ld)


def input_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tm2_in.bin"
    path.write_bytes(struct.pack(f"<{1 + len(TRIPS)}I", len(TRIPS), *TRIPS))
    return path


@pytest.fixture(scope="module")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    return build_firmware(tmp_path_factory.mktemp("counting"))


@pytest.fixture(scope="module")
def counted(firmware: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[CountResult, Path]:
    run = tmp_path_factory.mktemp("count_run")
    input_file(run)
    return count_invoke(firmware, load_board("nano33"), run), run


# -------------------------------------------------------------------------------- whole firmware


@needs_cross
def test_exact_instruction_and_class_counts(counted: tuple[CountResult, Path]) -> None:
    result, _ = counted
    assert result.exit_status == 0
    assert "tm2: done" in result.log
    assert result.invocations == len(TRIPS)
    assert result.per_invocation == [expected_counts(k)[0] for k in TRIPS]
    assert result.instructions == sum(expected_counts(k)[0] for k in TRIPS)
    want = dict.fromkeys(CLASSES, 0)
    for k in TRIPS:
        for cls, n in expected_counts(k)[1].items():
            want[cls] += n
    assert result.by_class == want
    assert sum(result.by_class.values()) == result.instructions


@needs_cross
def test_taken_and_untaken_branches(counted: tuple[CountResult, Path]) -> None:
    result, _ = counted
    # bne: k - 1 taken and 1 not taken per invocation; cbz: never taken (k >= 1).
    assert result.branches_taken == sum(k - 1 for k in TRIPS)
    assert result.branches_untaken == 2 * len(TRIPS)


@needs_cross
def test_cycle_estimate_follows_the_table(counted: tuple[CountResult, Path]) -> None:
    result, _ = counted
    assert result.per_invocation_cycles == [expected_counts(k)[2] for k in TRIPS]
    assert result.est_cycles == sum(result.per_invocation_cycles)
    clock = load_board("nano33").clock_hz
    assert result.est_ms(clock) == pytest.approx(1000.0 * result.est_cycles / clock)
    assert result.est_ms_per_invocation(clock) == pytest.approx(result.est_ms(clock) / len(TRIPS))


@needs_cross
def test_by_function_splits_the_totals(counted: tuple[CountResult, Path]) -> None:
    result, _ = counted
    funcs = result.by_function
    assert sum(f.instructions for f in funcs.values()) == result.instructions
    assert sum(f.est_cycles for f in funcs.values()) == result.est_cycles
    # The helper runs `adds; bx lr` once per invocation (1 + (1 + P) cycles); the rest is the marker.
    assert funcs["tm2_test_helper"].instructions == 2 * len(TRIPS)
    assert funcs["tm2_test_helper"].est_cycles == (2 + PIPELINE_REFILL) * len(TRIPS)
    assert set(funcs) == {"tm2_model_invoke", "tm2_test_helper"}


@needs_cross
def test_counting_is_deterministic(firmware: Path, counted: tuple[CountResult, Path], tmp_path: Path) -> None:
    first, _ = counted
    input_file(tmp_path)
    again = count_invoke(firmware, load_board("nano33"), tmp_path)
    assert (again.instructions, again.by_class, again.est_cycles, again.per_invocation) == (
        first.instructions,
        first.by_class,
        first.est_cycles,
        first.per_invocation,
    )


@needs_cross
@needs_qemu
def test_counted_run_writes_what_qemu_writes(
    firmware: Path, counted: tuple[CountResult, Path], tmp_path: Path
) -> None:
    result, count_dir = counted
    input_file(tmp_path)
    qemu = run_qemu(firmware, load_board("nano33"), tmp_path, timeout_s=30)
    assert qemu.returncode == result.exit_status == 0, qemu.stderr
    ours = (count_dir / "tm2_out.bin").read_bytes()
    assert ours == (tmp_path / "tm2_out.bin").read_bytes()
    # Each result: (k(k+1)/2 > 10 ? 1 : 0) + 5 + k(k+1)/2 + 1000, divided by k.
    want = [((1 if k * (k + 1) // 2 > 10 else 0) + 5 + k * (k + 1) // 2 + 1000) // k for k in TRIPS]
    assert list(struct.unpack(f"<{len(TRIPS)}I", ours)) == want


@needs_cross
def test_missing_marker_symbol_is_a_one_line_error(firmware: Path, tmp_path: Path) -> None:
    input_file(tmp_path)
    with pytest.raises(ToolchainError) as err:
        count_invoke(firmware, load_board("nano33"), tmp_path, start="no_such_function")
    assert "no_such_function" in str(err.value) and "\n" not in str(err.value)


@needs_cross
def test_missing_input_file_stops_with_the_firmware_status(firmware: Path, tmp_path: Path) -> None:
    result = count_invoke(firmware, load_board("nano33"), tmp_path)  # no tm2_in.bin: main returns 2
    assert result.exit_status == 2
    assert "cannot open tm2_in.bin" in result.log
    assert result.invocations == 0 and result.instructions == 0


@needs_cross
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("if (*(volatile uint32_t *)(0x50000000u + n) == 1u) return 7;", "UC_ERR_READ_UNMAPPED"),
        ("for (volatile uint32_t q = 1; q != 0; q += 2) {}", "did not exit within 0.5 s"),
    ],
    ids=["fault", "hang"],
)
def test_fault_and_hang_are_one_line_errors(tmp_path: Path, code: str, message: str) -> None:
    main_c = MAIN_C.replace("  volatile float f = 1.5f;", code + "\n  volatile float f = 1.5f;")
    elf = build_firmware(tmp_path, main_c=main_c)
    input_file(tmp_path / "run")
    with pytest.raises(ToolchainError) as err:
        count_invoke(elf, load_board("nano33"), tmp_path / "run", timeout_s=0.5)
    assert message in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------- cycle model unit


def assemble(tmp_path: Path, body: str) -> bytes:
    """Thumb-2 machine code of ``body`` (Cortex-M4 with FPU)."""
    src = tmp_path / "snippet.s"
    src.write_text(".syntax unified\n.thumb\n" + body + "\n")
    obj = tmp_path / "snippet.o"
    subprocess.run(
        ["arm-none-eabi-as", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mthumb", str(src), "-o", str(obj)],
        check=True,
    )
    out = tmp_path / "snippet.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(obj), str(out)], check=True)
    return out.read_bytes()


@needs_cross
@pytest.mark.parametrize(
    ("body", "classes", "cycles"),
    [
        ("ldr r0, [r1]\nldr r2, [r3]", {"load": 2}, 2 + 1),  # second load pipelines
        ("ldr r0, [r1]\nldr r2, [r0]", {"load": 2}, 2 + 2),  # address depends on the first load
        ("adds r1, #4\nldr r0, [r1]", {"alu": 1, "load": 1}, 1 + 2 + 1),  # address from the ALU: stall
        ("str r0, [r1, #4]\nstr r0, [r1, r2]", {"store": 2}, 1 + 2),
        ("ldr r0, [r1]\nstr r0, [r2, r3]", {"load": 1, "store": 1}, 2 + 1),  # STR pipelines after LDR
        ("ldrd r0, r1, [r2]\nstmia r3!, {r0, r1, r4}", {"load_multiple": 1, "store_multiple": 1}, 3 + 4),
        (
            "smlad r0, r1, r2, r3\nsmlabb r0, r1, r2, r0\nsxtb16 r1, r2\nqadd16 r0, r1, r2",
            {"dsp_mac": 2, "dsp_simd": 2},
            4,
        ),
        ("mul r0, r1, r2\nsmull r0, r1, r2, r3\nudiv r0, r1, r2", {"mul": 2, "div": 1}, 2 + DIVIDE_CYCLES),
        (
            "vadd.f32 s0, s1, s2\nvmla.f32 s0, s1, s2\nvdiv.f32 s0, s1, s2\nvsqrt.f32 s3, s4",
            {"fp_alu": 1, "fp_mac": 1, "fp_div": 2},
            1 + 3 + 14 + 14,
        ),
        (
            "vmov s0, r1\nvmov r0, r1, d0\nvldr s0, [r5]\nvstr d1, [r5]",
            {"fp_alu": 2, "fp_load": 1, "fp_store": 1},
            1 + 2 + 2 + 3,
        ),
        ("vpush {d8-d9}\nvpop {s16-s18}", {"fp_store_multiple": 1, "fp_load_multiple": 1}, (1 + 4) + (1 + 3)),
        ("dsb\nisb\nmrs r0, primask\nnop", {"system": 4}, 1 + (1 + PIPELINE_REFILL) + 2 + 1),
        ("push {r4-r7, lr}\nbl .", {"store_multiple": 1, "branch": 1}, 6 + 1 + PIPELINE_REFILL),
        ("tbb [pc, r0]", {"branch": 1}, 2 + PIPELINE_REFILL),
    ],
)
def test_block_pricing(tmp_path: Path, body: str, classes: dict[str, int], cycles: int) -> None:
    code = assemble(tmp_path, body)
    info = BlockDecoder().decode(code, 0x1000)
    assert dict(info.classes) == classes
    assert info.cycles == cycles
    assert info.instructions == sum(classes.values())
    assert info.cond_exit is None
    assert info.fallthrough == 0x1000 + len(code)


@needs_cross
@pytest.mark.parametrize(
    ("body", "taken_cls", "taken_cycles", "untaken_cycles"),
    [
        ("cmp r0, #1\nbne .", "branch_cond_taken", 1 + PIPELINE_REFILL, 1),
        ("cbz r0, .+8", "branch_cond_taken", 1 + PIPELINE_REFILL, 1),
        ("cmp r0, #0\nit eq\nbxeq lr", "branch_cond_taken", 1 + PIPELINE_REFILL, 1),
        ("cmp r0, #0\nit ne\npopne {r4, pc}", "load_multiple", 1 + 2 + PIPELINE_REFILL, 1),
    ],
)
def test_conditional_exit_is_priced_per_outcome(
    tmp_path: Path, body: str, taken_cls: str, taken_cycles: int, untaken_cycles: int
) -> None:
    code = assemble(tmp_path, body)
    info = BlockDecoder().decode(code, 0x2000)
    assert info.cond_exit is not None
    assert info.cond_exit.taken_cls == taken_cls
    assert (info.cond_exit.taken_cycles, info.cond_exit.untaken_cycles) == (taken_cycles, untaken_cycles)
    assert info.instructions == body.count("\n") + 1
    assert info.fallthrough == 0x2000 + len(code)


def test_cost_table_and_docs_cover_every_class() -> None:
    assert [rule.cls for rule in COST_TABLE] == list(CLASSES)
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cycle_model.md").read_text()
    missing = [cls for cls in CLASSES if f"| `{cls}` |" not in doc]
    assert missing == []
    assert f"**P = {PIPELINE_REFILL}.**" in doc and f"**SDIV/UDIV = {DIVIDE_CYCLES}.**" in doc
