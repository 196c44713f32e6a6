"""External tools: cross and host compilers, PlatformIO, QEMU.

Every failure becomes a one-line :class:`~tinym2net.errors.ToolchainError` (or
:class:`~tinym2net.errors.BudgetError` when the firmware does not fit) that names the problem and
the fix; full compiler output goes to a log file whose path the line gives.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .boards import Board
from .errors import BudgetError, ToolchainError

# How to get each tool on Debian/Ubuntu (the command a missing tool's error shows).
_INSTALL = {
    "arm-none-eabi-gcc": "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-size": "sudo apt-get install binutils-arm-none-eabi",
    "arm-none-eabi-nm": "sudo apt-get install binutils-arm-none-eabi",
    "arm-none-eabi-objcopy": "sudo apt-get install binutils-arm-none-eabi",
    "qemu-system-arm": "sudo apt-get install qemu-system-arm",
    "gcc": "sudo apt-get install gcc",
    "timeout": "sudo apt-get install coreutils",
}

HOST_CFLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off")
CROSS_CFLAGS = (
    "-O2",
    "-std=c99",
    "-ffp-contract=off",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffunction-sections",
    "-fdata-sections",
)
CROSS_LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections")

# Symbols whose presence in a firmware image means it uses the heap.
HEAP_SYMBOLS = frozenset({"malloc", "_malloc_r", "calloc", "_calloc_r", "realloc", "_realloc_r", "_sbrk_r"})
HEAP_GUARD_SYMBOL = "tm2_error_firmware_must_not_use_the_heap"


@dataclass(frozen=True)
class ElfSizes:
    """Section totals of a firmware image (Berkeley ``size`` format) plus facts read with ``nm``."""

    text: int  # code + read-only data + vector table (flash)
    data: int  # initialised data (flash copy + RAM)
    bss: int  # zeroed data and the .stack section (RAM)
    stack_bytes: int  # size of the .stack section (0 if the image has none)
    heap_symbols: tuple[str, ...]  # heap functions linked in (must be empty)

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    ram_bytes: int
    flash_bytes: int
    text: int
    data: int
    bss: int
    log: Path


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def require_tool(name: str) -> Path:
    """Absolute path of a tool on PATH; missing -> ToolchainError with the install command."""
    found = shutil.which(name)
    if found is None:
        fix = _INSTALL.get(name, f"install {name}")
        raise ToolchainError(f"{name} not found on PATH; install it with: {fix}")
    return Path(found)


def pio_executable() -> Path:
    """The ``pio`` of the Python running tinym2net (next to sys.executable), else the one on PATH."""
    local = Path(sys.executable).parent / "pio"
    if local.is_file():
        return local
    found = shutil.which("pio")
    if found is None:
        raise ToolchainError(
            f"PlatformIO (pio) not found; install it with: {sys.executable} -m pip install platformio==6.2.0 scons==4.11.1"
        )
    return Path(found)


def pio_environment(project_dir: Path) -> dict[str, str]:
    """Process environment for PlatformIO: core dir inside the project, no upgrade check, no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "PLATFORMIO_CORE_DIR": str(Path(project_dir).resolve() / ".platformio"),
            "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
            "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
            "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "3650",
            "PLATFORMIO_NO_ANSI": "true",
        }
    )
    return env


_REGION_RE = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")
_ERROR_RE = re.compile(r"(error:|Error:|undefined reference|\*\*\*)")


def explain_link_failure(log_text: str, log_path: Path) -> ToolchainError | BudgetError:
    """One-line error for a failed firmware build, from its log (the last compiler error wins)."""
    overflow = _REGION_RE.findall(log_text)
    if overflow:
        parts = ", ".join(f"{region} by {int(n)} bytes" for region, n in overflow)
        return BudgetError(
            f"firmware does not fit the board: region {parts}; shrink the model (or pick a bigger board) "
            f"(log: {log_path})"
        )
    if HEAP_GUARD_SYMBOL in log_text or "undefined reference to `_sbrk'" in log_text:
        return ToolchainError(
            "firmware uses the heap (malloc/calloc/realloc or a libc call that allocates); tinym2net firmware "
            f"must be heap-free: use static buffers (log: {log_path})"
        )
    errors = [line.strip() for line in log_text.splitlines() if _ERROR_RE.search(line)]
    compiler = [line for line in errors if "error:" in line and not line.startswith("collect2")]
    last = (compiler or errors or [log_text.strip().splitlines()[-1] if log_text.strip() else "no output"])[
        -1
    ]
    return ToolchainError(f"firmware build failed: {last} (log: {log_path})")


def pio_build(project_dir: Path, env: str = "emulator", *, timeout_s: float = 600) -> BuildResult:
    """``pio run -e env`` in a generated project, offline; returns the ELF and its memory use.

    Output goes to ``.pio/tinym2net-<env>.log`` inside the project. Fails with a one-line error
    (region overflow -> BudgetError; heap use or compiler error -> ToolchainError).
    """
    project = Path(project_dir).resolve()
    if not (project / "platformio.ini").is_file():
        raise ToolchainError(f"{project} has no platformio.ini; generate the project first")
    require_tool("arm-none-eabi-gcc")
    pio = pio_executable()
    log_path = project / ".pio" / f"tinym2net-{env}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(pio), "run", "-d", str(project), "-e", env]
    try:
        proc = subprocess.run(
            cmd,
            cwd=project,
            env=pio_environment(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        log_path.write_bytes(exc.stdout or b"")
        raise ToolchainError(
            f"pio run -e {env} did not finish within {timeout_s:g} s (log: {log_path})"
        ) from None
    text = proc.stdout.decode("utf-8", "replace")
    log_path.write_text(text)
    if proc.returncode != 0:
        raise explain_link_failure(text, log_path)
    elf = project / ".pio" / "build" / env / "firmware.elf"
    if not elf.is_file():
        raise ToolchainError(f"pio run -e {env} succeeded but wrote no {elf} (log: {log_path})")
    sizes = elf_sizes(elf)
    if sizes.heap_symbols:
        raise ToolchainError(
            f"firmware links heap functions ({', '.join(sizes.heap_symbols)}); tinym2net firmware must be "
            f"heap-free (log: {log_path})"
        )
    return BuildResult(
        elf=elf,
        ram_bytes=sizes.ram_bytes,
        flash_bytes=sizes.flash_bytes,
        text=sizes.text,
        data=sizes.data,
        bss=sizes.bss,
        log=log_path,
    )


def elf_sizes(elf: Path) -> ElfSizes:
    """Section totals with ``arm-none-eabi-size -B`` and stack / heap symbols with ``arm-none-eabi-nm``."""
    size = require_tool("arm-none-eabi-size")
    nm = require_tool("arm-none-eabi-nm")
    out = subprocess.run([str(size), "-B", "-d", str(elf)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise ToolchainError(f"arm-none-eabi-size cannot read {elf}: {out.stderr.strip()}")
    fields = out.stdout.strip().splitlines()[-1].split()
    text, data, bss = (int(v) for v in fields[:3])
    syms = subprocess.run([str(nm), str(elf)], capture_output=True, text=True, check=False)
    if syms.returncode != 0:
        raise ToolchainError(f"arm-none-eabi-nm cannot read {elf}: {syms.stderr.strip()}")
    addr: dict[str, int] = {}
    heap: list[str] = []
    for line in syms.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            addr[parts[2]] = int(parts[0], 16)
            if parts[2] in HEAP_SYMBOLS:
                heap.append(parts[2])
    stack = addr.get("__tm2_stack_end__", 0) - addr.get("__tm2_stack_start__", 0)
    return ElfSizes(
        text=text, data=data, bss=bss, stack_bytes=max(stack, 0), heap_symbols=tuple(sorted(heap))
    )


def qemu_command(elf: Path, board: Board, extra_args: Sequence[str] = ()) -> list[str]:
    """The emulator command line: the board's QEMU machine, semihosting to the host, no display."""
    return [
        str(require_tool("qemu-system-arm")),
        "-machine",
        board.emulator_machine,
        "-nographic",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        *extra_args,
        "-kernel",
        str(Path(elf).resolve()),
    ]


def run_qemu(
    elf: Path, board: Board, workdir: Path, timeout_s: float, extra_args: Sequence[str] = ()
) -> RunResult:
    """Run firmware in QEMU with ``workdir`` as the semihosting folder (tm2_in.bin / tm2_out.bin there).

    The firmware's exit status (SYS_EXIT_EXTENDED) becomes ``returncode``; its tm2_io_log text
    arrives on ``stderr``. A run longer than ``timeout_s`` is killed: ToolchainError naming the
    limit and the last output.
    """
    cmd = qemu_command(elf, board, extra_args)
    Path(workdir).mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        last = _last_line((exc.stderr or b"") + b"\n" + (exc.stdout or b""))
        raise ToolchainError(
            f"firmware did not finish within {timeout_s:g} s in qemu {board.emulator_machine} (hang or too slow); "
            f"last output: {last}"
        ) from None
    return RunResult(
        returncode=proc.returncode,
        stdout=proc.stdout.decode("utf-8", "replace"),
        stderr=proc.stderr.decode("utf-8", "replace"),
    )


def _last_line(blob: bytes) -> str:
    lines = [line for line in blob.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(none)"


def _define_flags(defines: Mapping[str, str | int | None] | Sequence[str] | None) -> list[str]:
    if defines is None:
        return []
    if isinstance(defines, Mapping):
        return [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in defines.items()]
    return [d if d.startswith("-D") else f"-D{d}" for d in defines]


def host_build(
    sources: Sequence[Path],
    include_dirs: Sequence[Path],
    out_exe: Path,
    defines: Mapping[str, str | int | None] | Sequence[str] | None = None,
) -> Path:
    """Compile and link C sources for the host with gcc (flags HOST_CFLAGS, -lm); returns ``out_exe``.

    On failure: ToolchainError with the first compiler error; the full output is in ``out_exe``.log.
    """
    gcc = require_tool("gcc")
    out = Path(out_exe)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(gcc),
        *HOST_CFLAGS,
        *_define_flags(defines),
        *[f"-I{d}" for d in include_dirs],
        *[str(s) for s in sources],
        "-o",
        str(out),
        "-lm",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log = out.with_name(out.name + ".log")
        log.write_text(proc.stdout + proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if "error" in line]
        first = errors[0] if errors else _last_line(proc.stderr.encode())
        raise ToolchainError(f"host build of {out.name} failed: {first} (log: {log})")
    return out


def cross_build(
    sources: Sequence[Path],
    include_dirs: Sequence[Path],
    out_elf: Path,
    board: Board,
    linker_script: Path,
    defines: Mapping[str, str | int | None] | Sequence[str] | None = None,
) -> Path:
    """Compile and link firmware directly with arm-none-eabi-gcc (no PlatformIO), same flags as the
    tinym2net-arm platform: the board's gcc flags + CROSS_CFLAGS, linked with CROSS_LDFLAGS."""
    gcc = require_tool("arm-none-eabi-gcc")
    out = Path(out_elf)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(out.name + ".log")
    cmd = [
        str(gcc),
        *board.gcc_flags,
        *CROSS_CFLAGS,
        *_define_flags(defines),
        *[f"-I{d}" for d in include_dirs],
        *[str(s) for s in sources],
        *CROSS_LDFLAGS,
        "-T",
        str(linker_script),
        f"-Wl,-Map={out.with_suffix('.map')}",
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise explain_link_failure(proc.stdout + proc.stderr, log)
    return out
