"""Target boards: one TOML file per board in the shipped ``boards/`` folder.

A board file names the core and its options, the memory budget the generated firmware must fit, how
PlatformIO builds for the real board, and which QEMU machine runs the same core for tests. Layout::

    name = "nano33"            # must equal the file name without .toml
    title = "..."
    mcu = "nrf52840"
    core = "cortex-m4"         # a -mcpu value
    fpu = "fpv4-sp-d16"        # a -mfpu value; leave out for a core without FPU (soft float)
    dsp = true                 # DSP extension (SIMD MACs such as SMLAD)
    clock_hz = 64_000_000
    [memory]                   # the real board's memory; sizes are the budget the linker enforces
    flash_origin = 0x0
    flash_bytes = 1_048_576
    ram_origin = 0x20000000
    sram_bytes = 262_144
    [platformio]               # optional: the real board in PlatformIO's registry
    platform = "nordicnrf52"
    board = "nano33ble"
    framework = "arduino"
    [emulator]
    machine = "mps2-an386"     # qemu-system-arm -machine
    flash_origin = 0x0         # where the emulator has memory for code and for data
    ram_origin = 0x20000000
    [toolchain]                # optional: gcc_flags = [...] replaces the flags derived from core/fpu

Every field is checked on load; a broken file raises :class:`~tinym2net.errors.BoardError` with one
line naming the file, the field and what is wrong.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BoardError
from .resources import boards_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Cores arm-none-eabi-gcc 12 targets with Thumb-2 code that QEMU's M-profile machines also run.
# Value: (FPUs the core can have, whether it always has the DSP extension, whether it can have it).
_CORES: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "cortex-m3": ((), False, False),
    "cortex-m4": (("fpv4-sp-d16",), True, True),
    "cortex-m7": (("fpv5-sp-d16", "fpv5-d16"), True, True),
    "cortex-m33": (("fpv5-sp-d16",), False, True),
}

_TOP_FIELDS = {
    "name",
    "title",
    "mcu",
    "core",
    "fpu",
    "dsp",
    "clock_hz",
    "memory",
    "platformio",
    "emulator",
    "toolchain",
}
_TABLE_FIELDS = {
    "memory": {"flash_origin", "flash_bytes", "ram_origin", "sram_bytes"},
    "platformio": {"platform", "board", "framework"},
    "emulator": {"machine", "flash_origin", "ram_origin"},
    "toolchain": {"gcc_flags"},
}


@dataclass(frozen=True)
class Board:
    """One target board: core, memory budget, PlatformIO identity and emulator."""

    name: str
    title: str
    mcu: str
    core: str  # -mcpu value, e.g. "cortex-m4"
    fpu: str | None  # -mfpu value, e.g. "fpv4-sp-d16"; None: no FPU, soft float
    dsp: bool
    clock_hz: int
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    sram_bytes: int
    pio_platform: str | None  # e.g. "nordicnrf52"; None: no real board in PlatformIO (emulator only)
    pio_board: str | None  # e.g. "nano33ble"
    pio_framework: str | None  # e.g. "arduino"
    emulator_machine: str  # qemu-system-arm -machine value
    emulator_flash_origin: int
    emulator_ram_origin: int
    gcc_flags: tuple[str, ...]  # -mcpu/-mthumb/-mfpu/-mfloat-abi
    source: Path | None = None  # the board file it was read from

    @property
    def has_fpu(self) -> bool:
        return self.fpu is not None

    @property
    def has_real_board(self) -> bool:
        """True when PlatformIO knows the physical board (an upload environment can be generated)."""
        return self.pio_platform is not None and self.pio_board is not None


def derive_gcc_flags(core: str, fpu: str | None, dsp: bool) -> tuple[str, ...]:
    """Code-generation flags for a core: hard-float ABI when there is an FPU, soft float otherwise.

    A Cortex-M33 without the DSP extension needs ``+nodsp`` so that GCC does not emit SIMD MACs.
    """
    cpu = core
    if core == "cortex-m33" and not dsp:
        cpu += "+nodsp"
    flags = [f"-mcpu={cpu}", "-mthumb"]
    if fpu is None:
        flags.append("-mfloat-abi=soft")
    else:
        flags += [f"-mfpu={fpu}", "-mfloat-abi=hard"]
    return tuple(flags)


def known_boards() -> list[str]:
    """Names of the shipped boards, sorted."""
    return sorted(p.stem for p in boards_dir().glob("*.toml"))


def load_board(name: str | Path) -> Board:
    """Read and check a shipped board by name, or any board file given by its ``.toml`` path."""
    text = str(name)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise BoardError(f"board file {path} not found; give a path to an existing .toml board file")
    else:
        path = boards_dir() / f"{text}.toml"
        if not path.is_file():
            raise BoardError(f"unknown board {text!r}; known boards: {', '.join(known_boards())}")
    return parse_board_file(path)


def parse_board_file(path: Path) -> Board:
    """Parse one board file; every problem is a one-line :class:`BoardError` naming file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"board file {path} is not valid TOML ({exc}); fix its syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"board file {path} cannot be read ({exc})") from None
    return _BoardReader(path, data).board()


class _BoardReader:
    """Typed field access with errors that name the file and the dotted field."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, field: str, why: str) -> BoardError:
        return BoardError(f"board file {self.path}: field {field!r} {why}")

    def _lookup(self, field: str) -> Any:
        node: Any = self.data
        for part in field.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def string(self, field: str, *, required: bool = True) -> str | None:
        value = self._lookup(field)
        if value is None:
            if required:
                raise self.fail(field, "is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, f"must be a non-empty string (got {value!r})")
        return value

    def integer(self, field: str, *, minimum: int) -> int:
        value = self._lookup(field)
        if value is None:
            raise self.fail(field, "is missing")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be an integer (got {value!r})")
        if value < minimum:
            raise self.fail(field, f"must be >= {minimum} (got {value})")
        if value >= 1 << 32:
            raise self.fail(field, f"must fit the 32-bit address space (got {value:#x})")
        return value

    def boolean(self, field: str) -> bool:
        value = self._lookup(field)
        if not isinstance(value, bool):
            raise self.fail(
                field, "is missing" if value is None else f"must be true or false (got {value!r})"
            )
        return value

    def check_unknown_fields(self) -> None:
        for key, value in self.data.items():
            if key not in _TOP_FIELDS:
                raise self.fail(key, f"is not a board field; known fields: {', '.join(sorted(_TOP_FIELDS))}")
            if key in _TABLE_FIELDS:
                if not isinstance(value, dict):
                    raise self.fail(key, "must be a table ([" + key + "])")
                for sub in value:
                    if sub not in _TABLE_FIELDS[key]:
                        raise self.fail(
                            f"{key}.{sub}",
                            f"is not a board field; known: {', '.join(sorted(_TABLE_FIELDS[key]))}",
                        )

    def board(self) -> Board:
        self.check_unknown_fields()
        name = self.string("name")
        assert name is not None
        if name != self.path.stem:
            raise self.fail("name", f"is {name!r} but the file is {self.path.name}; they must match")
        core = self.string("core")
        assert core is not None
        if core not in _CORES:
            raise self.fail("core", f"is {core!r}; supported cores: {', '.join(_CORES)}")
        fpus, dsp_always, dsp_possible = _CORES[core]
        fpu = self.string("fpu", required=False)
        if fpu is not None and fpu not in fpus:
            allowed = ", ".join(fpus) if fpus else "none (leave the field out)"
            raise self.fail("fpu", f"is {fpu!r}, which {core} cannot have; allowed: {allowed}")
        dsp = self.boolean("dsp")
        if dsp and not dsp_possible:
            raise self.fail("dsp", f"is true but {core} has no DSP extension; set dsp = false")
        if not dsp and dsp_always:
            raise self.fail("dsp", f"is false but every {core} has the DSP extension; set dsp = true")

        flash_origin = self.integer("memory.flash_origin", minimum=0)
        flash_bytes = self.integer("memory.flash_bytes", minimum=1024)
        ram_origin = self.integer("memory.ram_origin", minimum=0)
        sram_bytes = self.integer("memory.sram_bytes", minimum=1024)
        for field, origin, size in (
            ("memory.flash_bytes", flash_origin, flash_bytes),
            ("memory.sram_bytes", ram_origin, sram_bytes),
        ):
            if origin + size > 1 << 32:
                raise self.fail(field, f"runs past the 4 GB address space (origin {origin:#x} + {size})")
        if flash_origin < ram_origin + sram_bytes and ram_origin < flash_origin + flash_bytes:
            raise self.fail("memory.ram_origin", "makes RAM overlap flash; check both origins and sizes")

        pio_platform = self.string("platformio.platform", required=False)
        pio_board = self.string("platformio.board", required=False)
        pio_framework = self.string("platformio.framework", required=False)
        if (pio_platform is None) != (pio_board is None):
            missing = "platformio.board" if pio_board is None else "platformio.platform"
            raise self.fail(missing, "is missing; [platformio] needs both platform and board")

        toolchain_flags = self._lookup("toolchain.gcc_flags")
        if toolchain_flags is None:
            gcc_flags = derive_gcc_flags(core, fpu, dsp)
        else:
            if not isinstance(toolchain_flags, list) or not all(isinstance(f, str) for f in toolchain_flags):
                raise self.fail("toolchain.gcc_flags", "must be a list of strings")
            if not any(f.startswith("-mcpu=") for f in toolchain_flags):
                raise self.fail("toolchain.gcc_flags", "must contain an -mcpu= flag")
            gcc_flags = tuple(toolchain_flags)

        title = self.string("title")
        mcu = self.string("mcu")
        machine = self.string("emulator.machine")
        assert title is not None and mcu is not None and machine is not None
        return Board(
            name=name,
            title=title,
            mcu=mcu,
            core=core,
            fpu=fpu,
            dsp=dsp,
            clock_hz=self.integer("clock_hz", minimum=1),
            flash_origin=flash_origin,
            flash_bytes=flash_bytes,
            ram_origin=ram_origin,
            sram_bytes=sram_bytes,
            pio_platform=pio_platform,
            pio_board=pio_board,
            pio_framework=pio_framework,
            emulator_machine=machine,
            emulator_flash_origin=self.integer("emulator.flash_origin", minimum=0),
            emulator_ram_origin=self.integer("emulator.ram_origin", minimum=0),
            gcc_flags=gcc_flags,
            source=self.path,
        )
