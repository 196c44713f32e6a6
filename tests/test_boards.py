"""Board files: loading, derived compiler flags, and one-line errors for unknown or broken boards."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinym2net.boards import derive_gcc_flags, known_boards, load_board
from tinym2net.errors import BoardError
from tinym2net.resources import boards_dir


def test_known_boards_lists_shipped_files() -> None:
    names = known_boards()
    assert names == sorted(names)
    assert {"nano33", "mps2_an500", "mps2_an385"} <= set(names)


def test_nano33_matches_nrf52840() -> None:
    b = load_board("nano33")
    assert (b.core, b.fpu, b.dsp, b.clock_hz) == ("cortex-m4", "fpv4-sp-d16", True, 64_000_000)
    assert (b.flash_origin, b.flash_bytes) == (0, 1024 * 1024)
    assert (b.ram_origin, b.sram_bytes) == (0x20000000, 256 * 1024)
    assert (b.pio_platform, b.pio_board, b.pio_framework) == ("nordicnrf52", "nano33ble", "arduino")
    assert b.emulator_machine == "mps2-an386"
    assert (b.emulator_flash_origin, b.emulator_ram_origin) == (0, 0x20000000)
    assert b.gcc_flags == ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
    assert b.has_fpu and b.has_real_board


def test_emulator_only_boards() -> None:
    m7 = load_board("mps2_an500")
    assert m7.core == "cortex-m7" and m7.emulator_machine == "mps2-an500" and m7.fpu == "fpv5-d16"
    assert not m7.has_real_board
    m3 = load_board("mps2_an385")
    assert m3.fpu is None and not m3.dsp
    assert m3.gcc_flags == ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft")


def test_derive_gcc_flags_m33_without_dsp() -> None:
    assert derive_gcc_flags("cortex-m33", None, False)[0] == "-mcpu=cortex-m33+nodsp"
    assert derive_gcc_flags("cortex-m33", "fpv5-sp-d16", True)[0] == "-mcpu=cortex-m33"


def test_unknown_board_lists_known_ones() -> None:
    with pytest.raises(BoardError) as err:
        load_board("uno")
    msg = str(err.value)
    assert "'uno'" in msg and "nano33" in msg and "mps2_an500" in msg
    assert "\n" not in msg


def test_missing_board_path() -> None:
    with pytest.raises(BoardError, match="not found"):
        load_board("/nonexistent/x.toml")


def _broken(tmp_path: Path, old: str, new: str, name: str = "nano33") -> Path:
    text = (boards_dir() / "nano33.toml").read_text()
    assert old in text, old
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "why"),
    [
        ('core = "cortex-m4"\n', "", "core", "missing"),
        ('core = "cortex-m4"', 'core = "cortex-m99"', "core", "supported cores"),
        ('fpu = "fpv4-sp-d16"', 'fpu = "fpv5-d16"', "fpu", "cannot have"),
        ("dsp = true", "dsp = false", "dsp", "every cortex-m4"),
        ("dsp = true", 'dsp = "yes"', "dsp", "true or false"),
        ("flash_bytes = 1_048_576", 'flash_bytes = "1MB"', "memory.flash_bytes", "integer"),
        ("sram_bytes = 262_144", "sram_bytes = 0", "memory.sram_bytes", ">= 1024"),
        ("ram_origin = 0x20000000", "ram_origin = 0x00000100", "memory.ram_origin", "overlap"),
        ('board = "nano33ble"\n', "", "platformio.board", "missing"),
        ('machine = "mps2-an386"\n', "", "emulator.machine", "missing"),
        ("dsp = true", "dsp = true\ncolor = 3", "color", "not a board field"),
        ('name = "nano33"', 'name = "nano34"', "name", "must match"),
    ],
)
def test_broken_board_file_names_file_and_field(
    tmp_path: Path, old: str, new: str, field: str, why: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(BoardError) as err:
        load_board(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"'{field}'" in msg
    assert why in msg
    assert "\n" not in msg


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = _broken(tmp_path, "dsp = true", "dsp = = true")
    with pytest.raises(BoardError, match="not valid TOML") as err:
        load_board(path)
    assert str(path) in str(err.value)


def test_custom_board_file_with_toolchain_flags(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'name = "nano33"', 'name = "mine"', name="mine")
    path.write_text(path.read_text() + '\n[toolchain]\ngcc_flags = ["-mcpu=cortex-m4", "-mthumb"]\n')
    board = load_board(path)
    assert board.name == "mine" and board.gcc_flags == ("-mcpu=cortex-m4", "-mthumb")


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_emulator_machines_exist_in_qemu() -> None:
    listing = subprocess.run(["qemu-system-arm", "-machine", "help"], capture_output=True, text=True).stdout
    machines = {line.split()[0] for line in listing.splitlines()[1:] if line.strip()}
    for name in known_boards():
        assert load_board(name).emulator_machine in machines
