"""Exact instruction counts of a firmware's model invoke, and a Cortex-M4 cycle estimate.

QEMU models no time, so speed is counted instead. :func:`count_invoke` runs the very firmware ELF
that QEMU runs -- same reset vector, start-up code, FPU enable and semihosting I/O on
``tm2_in.bin`` / ``tm2_out.bin`` -- in the Unicorn CPU emulator (QEMU's TCG core as a library,
Thumb + M-profile, Cortex-M4 model) and counts what runs inside the marker function.

Method:

* Memory: the board's flash and RAM (at the emulator origins the linker script uses) plus every
  ``PT_LOAD`` range of the ELF are mapped; file contents are loaded at their load (physical)
  addresses, as QEMU's ``-kernel`` does, and the start-up code copies ``.data`` itself. One page
  of the System Control Space (0xE000E000) is plain memory, so the start-up's CPACR write (FPU
  enable) and the fault handler's status reads land somewhere; Unicorn's Cortex-M4 has its FPU on.
* Execution starts at the reset vector with the stack pointer of vector 0.
* Semihosting (``bkpt 0xAB``; r0 = operation, r1 = argument) is served from Python over files in
  ``workdir``: SYS_OPEN/CLOSE/WRITEC/WRITE0/WRITE/READ/ISTTY/SEEK/FLEN/CLOCK/TIME/ERRNO/
  GET_CMDLINE/HEAPINFO/EXIT/EXIT_EXTENDED. Console text is collected in ``CountResult.log``.
* Counting uses a per-*block* hook: before each translated block runs, the hook sees its address
  and size. Each distinct block is decoded once (capstone, Thumb, M-class) and priced by
  :mod:`tinym2net.cycle_model`; the hook itself only bumps the block's execution count. This is
  exact even inside IT blocks, where a per-instruction hook would miss skipped instructions.
* Extent: counting starts when a block begins at the marker symbol and stops when control comes
  back to the caller's return address (LR at entry) with the stack pointer it had at entry, so
  nested calls and recursion are counted and the caller is not.
* Conditional branches (and conditional returns) end their block; the next block's address tells
  whether they were taken: equal to the fall-through address means not taken.

The cycle estimate is the static per-block cost times the block's execution count plus, for
blocks ending in a conditional write to PC, the taken / not-taken cost per outcome.
"""

from __future__ import annotations

import bisect
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .boards import Board
from .cycle_model import BlockDecoder, sum_classes
from .errors import ToolchainError

_INSTALL_HINT = "install them with: pip install unicorn==2.1.4 capstone==5.0.9"

# Semihosting operation numbers (Arm semihosting specification).
SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_ISTTY = 0x09
SYS_SEEK = 0x0A
SYS_FLEN = 0x0C
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_ERRNO = 0x13
SYS_GET_CMDLINE = 0x15
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026

SCS_BASE = 0xE000E000
SCS_SIZE = 0x1000
_PAGE = 0x1000
_EXCP_BKPT = 7  # QEMU's exception number for BKPT, as Unicorn's interrupt hook reports it
_SEMIHOST_BKPT = 0xBEAB  # Thumb encoding of "bkpt 0xAB"

# fopen modes of SYS_OPEN's mode index.
_OPEN_MODES = ("r", "rb", "r+", "r+b", "w", "wb", "w+", "w+b", "a", "ab", "a+", "a+b")

_CPU_MODELS = {
    "cortex-m0": "UC_CPU_ARM_CORTEX_M0",
    "cortex-m0plus": "UC_CPU_ARM_CORTEX_M0",
    "cortex-m3": "UC_CPU_ARM_CORTEX_M3",
    "cortex-m4": "UC_CPU_ARM_CORTEX_M4",
    "cortex-m7": "UC_CPU_ARM_CORTEX_M7",
    "cortex-m33": "UC_CPU_ARM_CORTEX_M33",
}


@dataclass
class FunctionCount:
    """Instructions and estimated cycles of the blocks that start inside one ELF function symbol."""

    instructions: int = 0
    est_cycles: int = 0


@dataclass
class CountResult:
    """Instructions executed inside the marker function, summed over all its invocations.

    ``by_class`` has every class of :data:`tinym2net.cycle_model.CLASSES` (zeros included);
    ``branches_taken`` / ``branches_untaken`` count conditional writes to PC that end a block
    (B<c>, CBZ/CBNZ and conditional returns). ``est_cycles`` uses the Cortex-M4 cost table of
    :mod:`tinym2net.cycle_model` whatever the board's core. ``by_function`` splits both totals by the
    ELF function symbol (``STT_FUNC``) whose range holds each block's start address (``"?"`` for code
    outside every function symbol); its entries sum to ``instructions`` and ``est_cycles``.
    """

    instructions: int
    invocations: int
    by_class: dict[str, int]
    est_cycles: int
    per_invocation: list[int] = field(default_factory=list)
    per_invocation_cycles: list[int] = field(default_factory=list)
    branches_taken: int = 0
    branches_untaken: int = 0
    exit_status: int = 0
    log: str = ""
    wall_s: float = 0.0
    by_function: dict[str, FunctionCount] = field(default_factory=dict)

    def est_ms(self, clock_hz: int) -> float:
        """Estimated milliseconds of all counted invocations together at ``clock_hz``."""
        return 1000.0 * self.est_cycles / clock_hz

    def est_ms_per_invocation(self, clock_hz: int) -> float:
        """Estimated milliseconds of one invocation (the mean) at ``clock_hz``."""
        return self.est_ms(clock_hz) / max(self.invocations, 1)

    @property
    def instructions_per_second(self) -> float:
        """Counted instructions per second of wall time (the counting engine's speed)."""
        return self.instructions / self.wall_s if self.wall_s > 0 else 0.0


# ------------------------------------------------------------------------------------- ELF files


@dataclass(frozen=True)
class _Segment:
    vaddr: int
    paddr: int
    data: bytes
    memsz: int


@dataclass(frozen=True)
class _Elf:
    segments: tuple[_Segment, ...]
    symbols: dict[str, int]
    functions: tuple[tuple[int, int, str], ...] = ()  # (start, end, name) of STT_FUNC symbols, sorted


class _FunctionMap:
    """Address -> name of the function symbol whose range holds it (addresses with the Thumb bit cleared)."""

    def __init__(self, functions: tuple[tuple[int, int, str], ...]) -> None:
        self.functions = functions
        self.starts = [f[0] for f in functions]

    def name(self, address: int) -> str:
        i = bisect.bisect_right(self.starts, address) - 1
        for j in range(i, max(i - 8, -1), -1):  # symbols do not nest; a few steps back cover aliases
            start, end, name = self.functions[j]
            if start <= address < end:
                return name
        return "?"


def _read_elf(path: Path) -> _Elf:
    """PT_LOAD segments and symbol values of a 32-bit little-endian Arm ELF executable."""
    blob = Path(path).read_bytes()
    if blob[:4] != b"\x7fELF" or blob[4] != 1 or blob[5] != 1:
        raise ToolchainError(f"{path} is not a 32-bit little-endian ELF file; pass the firmware .elf")
    (machine,) = struct.unpack_from("<H", blob, 0x12)
    if machine != 40:
        raise ToolchainError(f"{path} is not an Arm ELF file (e_machine {machine}); pass the firmware .elf")
    phoff, shoff = struct.unpack_from("<II", blob, 0x1C)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", blob, 0x2A)
    segments = []
    for i in range(phnum):
        p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz = struct.unpack_from(
            "<6I", blob, phoff + i * phentsize
        )
        if p_type == 1:  # PT_LOAD
            segments.append(_Segment(p_vaddr, p_paddr, blob[p_offset : p_offset + p_filesz], p_memsz))
    symbols: dict[str, int] = {}
    functions: dict[tuple[int, int], tuple[str, str, bool]] = {}  # range -> (name, file, local)
    sections = [struct.unpack_from("<10I", blob, shoff + i * shentsize) for i in range(shnum)]
    for sec in sections:
        if sec[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sec[6]]
        str_off = strtab[4]
        source = ""
        for off in range(sec[4], sec[4] + sec[5], 16):
            st_name, st_value, st_size, st_info = struct.unpack_from("<IIIB", blob, off)
            if st_name == 0:
                continue
            end = blob.index(b"\0", str_off + st_name)
            name = blob[str_off + st_name : end].decode("ascii", "replace")
            if st_info & 0xF == 4:  # STT_FILE: the local symbols that follow belong to this source
                source = name
                continue
            symbols.setdefault(name, st_value)
            if st_info & 0xF == 2 and st_size > 0:  # STT_FUNC
                start = st_value & ~1
                functions.setdefault((start, start + st_size), (name, source, st_info >> 4 == 0))
    # A local (static) name defined in several sources is named with its source: "name (file.c)".
    seen: dict[str, int] = {}
    for name, _src, _local in functions.values():
        seen[name] = seen.get(name, 0) + 1
    funcs = tuple(
        sorted(
            (a, b, f"{n} ({src})" if local and seen[n] > 1 and src else n)
            for (a, b), (n, src, local) in functions.items()
        )
    )
    return _Elf(tuple(segments), symbols, funcs)


def _regions(elf: _Elf, board: Board) -> list[tuple[int, int]]:
    """Page-aligned, merged (start, end) ranges to map: board memories, ELF segments, the SCS."""
    wanted = [
        (board.emulator_flash_origin, board.emulator_flash_origin + board.flash_bytes),
        (board.emulator_ram_origin, board.emulator_ram_origin + board.sram_bytes),
        (SCS_BASE, SCS_BASE + SCS_SIZE),
    ]
    for seg in elf.segments:
        wanted.append((seg.vaddr, seg.vaddr + seg.memsz))
        wanted.append((seg.paddr, seg.paddr + len(seg.data)))
    aligned = sorted(
        (start & ~(_PAGE - 1), (end + _PAGE - 1) & ~(_PAGE - 1)) for start, end in wanted if end > start
    )
    merged: list[tuple[int, int]] = []
    for start, end in aligned:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# ------------------------------------------------------------------------------------ semihosting


class _Semihost:
    """Arm semihosting served over files in ``workdir`` (what QEMU's target=native does)."""

    def __init__(self, uc: Any, workdir: Path) -> None:
        self.uc = uc
        self.workdir = Path(workdir)
        self.files: dict[int, BinaryIO | None] = {}  # handle -> file (None: console)
        self.next_handle = 3
        self.console: list[str] = []
        self.errno = 0
        self.exit_status: int | None = None

    def word(self, addr: int, index: int = 0) -> int:
        return struct.unpack("<I", self.uc.mem_read(addr + 4 * index, 4))[0]

    def string(self, addr: int) -> bytes:
        out = bytearray()
        while True:
            chunk = bytes(self.uc.mem_read(addr + len(out), 64))
            cut = chunk.find(b"\0")
            if cut >= 0:
                return bytes(out + chunk[:cut])
            out += chunk

    def call(self, op: int, arg: int) -> int:
        """Serves one call; returns r0. Unknown operations -> ToolchainError."""
        if op == SYS_OPEN:
            name_ptr, mode, length = (self.word(arg, i) for i in range(3))
            name = bytes(self.uc.mem_read(name_ptr, length)).decode("utf-8", "replace")
            return self._open(name, mode)
        if op == SYS_CLOSE:
            handle = self.word(arg)
            f = self.files.pop(handle, None) if handle in self.files else False
            if f is False:
                self.errno = 9
                return -1
            if f is not None:
                f.close()
            return 0
        if op == SYS_WRITEC:
            self.console.append(chr(self.uc.mem_read(arg, 1)[0]))
            return 0
        if op == SYS_WRITE0:
            self.console.append(self.string(arg).decode("utf-8", "replace"))
            return 0
        if op == SYS_WRITE:
            handle, buf, length = (self.word(arg, i) for i in range(3))
            if handle not in self.files:
                return length
            data = bytes(self.uc.mem_read(buf, length))
            f = self.files[handle]
            if f is None:
                self.console.append(data.decode("utf-8", "replace"))
            else:
                f.write(data)
            return 0
        if op == SYS_READ:
            handle, buf, length = (self.word(arg, i) for i in range(3))
            f = self.files.get(handle)
            if f is None:
                return length
            data = f.read(length)
            self.uc.mem_write(buf, data)
            return length - len(data)
        if op == SYS_ISTTY:
            return 1 if self.files.get(self.word(arg), 0) is None else 0
        if op == SYS_SEEK:
            f = self.files.get(self.word(arg))
            if f is None:
                return -1
            f.seek(self.word(arg, 1))
            return 0
        if op == SYS_FLEN:
            f = self.files.get(self.word(arg))
            if f is None:
                return -1
            return os.fstat(f.fileno()).st_size
        if op in (SYS_CLOCK, SYS_TIME):
            return 0  # deterministic: no host time leaks into the counted run
        if op == SYS_ERRNO:
            return self.errno
        if op == SYS_GET_CMDLINE:
            buf, size = self.word(arg), self.word(arg, 1)
            text = b"firmware\0"[: max(size, 1)]
            self.uc.mem_write(buf, text)
            self.uc.mem_write(arg + 4, struct.pack("<I", len(text) - 1))
            return 0
        if op == SYS_HEAPINFO:
            self.uc.mem_write(self.word(arg), bytes(16))
            return 0
        if op == SYS_EXIT:
            self.exit_status = 0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1
            return 0
        if op == SYS_EXIT_EXTENDED:
            reason, status = self.word(arg), self.word(arg, 1)
            self.exit_status = (
                (status if status < 0x80000000 else status - (1 << 32))
                if (reason == ADP_STOPPED_APPLICATION_EXIT)
                else 1
            )
            return 0
        raise ToolchainError(
            f"firmware made semihosting call {op:#x}, which the counting emulator does not serve; "
            "use only the tm2_io calls of io_semihost.c"
        )

    def _open(self, name: str, mode: int) -> int:
        if mode >= len(_OPEN_MODES):
            self.errno = 22
            return -1
        handle = self.next_handle
        self.next_handle += 1
        if name == ":tt":
            self.files[handle] = None
            return handle
        try:
            self.files[handle] = open(
                self.workdir / name,
                _OPEN_MODES[mode] if "b" in _OPEN_MODES[mode] else _OPEN_MODES[mode] + "b",
            )
        except OSError as exc:
            self.errno = exc.errno or 2
            return -1
        return handle

    def close_all(self) -> None:
        for f in self.files.values():
            if f is not None:
                f.close()
        self.files.clear()


# ------------------------------------------------------------------------------------- counting


class _Extent:
    """Block-hook state: which blocks ran inside the marker's dynamic extent, and how often.

    Per distinct block there is one record, a list ``[size, runs, fallthrough, taken, untaken,
    info]`` (fallthrough -1 when the block does not end in a conditional write to PC); lists keep
    the hook's per-block work to a dictionary lookup and an item increment.
    """

    def __init__(self, uc: Any, decoder: BlockDecoder, entry: int, sp_reg: int, lr_reg: int) -> None:
        self.uc = uc
        self.decoder = decoder
        self.entry = entry
        self.sp_reg = sp_reg
        self.lr_reg = lr_reg
        self.records: dict[int, list[Any]] = {}  # block address -> record
        self.resplit: dict[tuple[int, int], list[Any]] = {}  # (address, size) of a re-split block
        self.per_invocation: list[int] = []
        self.per_invocation_cycles: list[int] = []
        self._done_insns = 0
        self._done_cycles = 0
        self.inside = False
        self.error: BaseException | None = None

    def record(self, address: int, size: int) -> list[Any]:
        """The record of the block at ``address`` of ``size`` bytes, decoding it the first time."""
        rec = self.records.get(address)
        if rec is not None and rec[0] == size:
            return rec
        table: dict[Any, list[Any]] = self.records if rec is None else self.resplit  # type: ignore[assignment]
        key: Any = address if rec is None else (address, size)
        rec = table.get(key)
        if rec is None:
            info = self.decoder.decode(bytes(self.uc.mem_read(address, size)), address)
            fallthrough = info.fallthrough if info.cond_exit is not None else -1
            rec = [size, 0, fallthrough, 0, 0, info]
            table[key] = rec
        return rec

    def all_records(self) -> list[list[Any]]:
        return [*self.records.values(), *self.resplit.values()]

    def totals(self) -> tuple[int, int]:
        """(instructions, estimated cycles) counted so far."""
        insns = 0
        cycles = 0
        for _size, runs, _ft, taken, untaken, info in self.all_records():
            insns += runs * info.instructions
            cycles += runs * info.cycles
            if info.cond_exit is not None:
                cycles += taken * info.cond_exit.taken_cycles + untaken * info.cond_exit.untaken_cycles
        return insns, cycles

    def by_class(self) -> dict[str, int]:
        items: list[tuple[str, int]] = []
        for _size, runs, _ft, taken, untaken, info in self.all_records():
            items += [(cls, k * runs) for cls, k in info.classes]
            if info.cond_exit is not None:
                items += [(info.cond_exit.taken_cls, taken), (info.cond_exit.untaken_cls, untaken)]
        return sum_classes(items)

    def by_function(self, functions: _FunctionMap) -> dict[str, FunctionCount]:
        """Instructions and cycles per function symbol, largest cycle count first."""
        out: dict[str, FunctionCount] = {}
        keyed = [*self.records.items(), *((k[0], r) for k, r in self.resplit.items())]
        for address, (_size, runs, _ft, taken, untaken, info) in keyed:
            if runs == 0 and taken == 0 and untaken == 0:
                continue
            fc = out.setdefault(functions.name(address), FunctionCount())
            fc.instructions += runs * info.instructions
            fc.est_cycles += runs * info.cycles
            if info.cond_exit is not None:
                fc.est_cycles += taken * info.cond_exit.taken_cycles + untaken * info.cond_exit.untaken_cycles
        return dict(sorted(out.items(), key=lambda kv: (-kv[1].est_cycles, kv[0])))

    def branches(self) -> tuple[int, int]:
        recs = self.all_records()
        return sum(r[3] for r in recs), sum(r[4] for r in recs)

    def close_invocation(self) -> None:
        insns, cycles = self.totals()
        self.per_invocation.append(insns - self._done_insns)
        self.per_invocation_cycles.append(cycles - self._done_cycles)
        self._done_insns, self._done_cycles = insns, cycles

    def make_hook(self) -> Any:
        """The UC_HOOK_BLOCK callback ``(handle, address, size, user)``: a closure over local
        state, because it runs once per executed block and dominates the counting time."""
        uc = self.uc
        entry = self.entry
        sp_reg, lr_reg = self.sp_reg, self.lr_reg
        records = self.records
        record = self.record
        inside = False
        ret = -1
        entry_sp = -1
        pending: list[Any] | None = None  # record of the last block if it ended in a conditional exit

        def on_block(_handle: Any, address: int, size: int, _user: Any) -> None:
            nonlocal inside, ret, entry_sp, pending
            try:
                if pending is not None:
                    if address == pending[2]:
                        pending[4] += 1
                    else:
                        pending[3] += 1
                    pending = None
                if inside:
                    if address == ret and uc.reg_read(sp_reg) == entry_sp:
                        inside = self.inside = False
                        self.close_invocation()
                        return
                elif address == entry:
                    inside = self.inside = True
                    ret = uc.reg_read(lr_reg) & ~1
                    entry_sp = uc.reg_read(sp_reg)
                else:
                    return
                rec = records.get(address)
                if rec is None or rec[0] != size:
                    rec = record(address, size)
                rec[1] += 1
                if rec[2] >= 0:
                    pending = rec
            except BaseException as exc:  # noqa: BLE001 - re-raised after emu_start returns
                self.error = exc
                uc.emu_stop()

        return on_block


def _add_block_hook(unicorn: Any, uc: Any, callback: Any) -> Any:
    """Registers ``callback(handle, address, size, user)`` for every block.

    Unicorn's Python ``hook_add`` wraps each call in two more Python frames; registering a raw
    ctypes callback through the library's own ``uc_hook_add`` makes counting several times faster.
    Falls back to ``hook_add`` when the binding's internals differ. Returns the object that must
    stay alive while the emulation runs.
    """
    import ctypes

    try:
        from unicorn.unicorn_py3.unicorn import HOOK_CODE_CFUNC, uc_hook_h, uclib
    except ImportError:
        uc.hook_add(unicorn.UC_HOOK_BLOCK, callback)
        return callback
    fptr = HOOK_CODE_CFUNC(callback)
    handle = uc_hook_h()
    status = uclib.uc_hook_add(
        uc._uch,
        ctypes.byref(handle),
        unicorn.UC_HOOK_BLOCK,
        ctypes.cast(fptr, ctypes.c_void_p),
        ctypes.c_void_p(0),
        ctypes.c_uint64(1),
        ctypes.c_uint64(0),
    )
    if status != unicorn.UC_ERR_OK:
        raise unicorn.UcError(status)
    return fptr


def _unicorn() -> tuple[Any, Any]:
    try:
        import capstone  # noqa: F401
        import unicorn
        import unicorn.arm_const as arm
    except ImportError as exc:
        raise ToolchainError(
            f"the instruction counter needs the unicorn and capstone packages ({exc.name} "
            f"is missing); {_INSTALL_HINT}"
        ) from None
    return unicorn, arm


def count_invoke(
    elf: Path,
    board: Board,
    workdir: Path,
    *,
    start: str = "tm2_model_invoke",
    timeout_s: float = 600.0,
) -> CountResult:
    """Run the firmware ``elf`` on ``board``'s core and count the instructions of ``start``.

    ``workdir`` is the semihosting folder (the firmware reads ``tm2_in.bin`` and writes
    ``tm2_out.bin`` there, exactly as under QEMU). Counts are summed over every invocation of
    ``start`` and also listed per invocation. Raises ToolchainError when the symbol is missing,
    the firmware faults (unmapped access, undefined instruction), makes a semihosting call that
    is not served, or does not exit within ``timeout_s``.
    """
    unicorn, arm = _unicorn()
    image = _read_elf(Path(elf))
    if start not in image.symbols:
        raise ToolchainError(
            f"{elf} has no symbol {start!r}; build the firmware with the model's marker function"
        )
    cpu_name = _CPU_MODELS.get(board.core)
    if cpu_name is None:
        raise ToolchainError(
            f"board {board.name} has core {board.core}, which the counting emulator cannot run; "
            f"use a board with one of: {', '.join(sorted(_CPU_MODELS))}"
        )
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(getattr(arm, cpu_name))
    for begin, end in _regions(image, board):
        uc.mem_map(begin, end - begin)
    for seg in image.segments:
        if seg.data:
            uc.mem_write(seg.paddr, seg.data)
    vector_base = board.emulator_flash_origin
    initial_sp, reset = struct.unpack("<II", uc.mem_read(vector_base, 8))
    uc.reg_write(arm.UC_ARM_REG_SP, initial_sp)

    Path(workdir).mkdir(parents=True, exist_ok=True)
    semihost = _Semihost(uc, Path(workdir))
    extent = _Extent(uc, BlockDecoder(), image.symbols[start] & ~1, arm.UC_ARM_REG_SP, arm.UC_ARM_REG_LR)
    on_block = extent.make_hook()
    failure: list[str] = []

    def on_interrupt(_uc: Any, intno: int, _user: Any) -> None:
        pc = uc.reg_read(arm.UC_ARM_REG_PC)
        try:
            insn = struct.unpack("<H", uc.mem_read(pc, 2))[0]
            if intno != _EXCP_BKPT or insn != _SEMIHOST_BKPT:
                failure.append(f"firmware raised exception {intno} at pc={pc:#010x}")
                uc.emu_stop()
                return
            result = semihost.call(uc.reg_read(arm.UC_ARM_REG_R0), uc.reg_read(arm.UC_ARM_REG_R1))
            uc.reg_write(arm.UC_ARM_REG_R0, result & 0xFFFFFFFF)
            uc.reg_write(arm.UC_ARM_REG_PC, (pc + 2) | 1)
            if semihost.exit_status is not None:
                uc.emu_stop()
        except BaseException as exc:  # noqa: BLE001 - re-raised after emu_start returns
            extent.error = exc
            uc.emu_stop()

    keep_alive = _add_block_hook(unicorn, uc, on_block)
    uc.hook_add(unicorn.UC_HOOK_INTR, on_interrupt)
    started = time.perf_counter()
    try:
        uc.emu_start(reset | 1, 0xFFFFFFFE, timeout=int(timeout_s * 1e6))
    except unicorn.UcError as exc:
        pc = uc.reg_read(arm.UC_ARM_REG_PC)
        raise ToolchainError(
            f"firmware stopped in the counting emulator at pc={pc:#010x}: {exc} (bad pointer, stack "
            "overflow or an instruction the core lacks)"
        ) from None
    finally:
        semihost.close_all()
        del keep_alive
    wall = time.perf_counter() - started
    if extent.error is not None:
        if isinstance(extent.error, ToolchainError):
            raise extent.error
        raise ToolchainError(f"counting emulator failed: {extent.error!r}") from extent.error
    log = "".join(semihost.console)
    if failure:
        raise ToolchainError(f"{failure[0]}; last output: {_last_line(log)}")
    if semihost.exit_status is None:
        raise ToolchainError(
            f"firmware did not exit within {timeout_s:g} s in the counting emulator (hang or too slow); "
            f"last output: {_last_line(log)}"
        )
    if extent.inside:
        extent.close_invocation()  # the program exited from inside the marker function
    insns, cycles = extent.totals()
    taken, untaken = extent.branches()
    return CountResult(
        instructions=insns,
        invocations=len(extent.per_invocation),
        by_class=extent.by_class(),
        est_cycles=cycles,
        per_invocation=list(extent.per_invocation),
        per_invocation_cycles=list(extent.per_invocation_cycles),
        branches_taken=taken,
        branches_untaken=untaken,
        exit_status=semihost.exit_status,
        log=log,
        wall_s=wall,
        by_function=extent.by_function(_FunctionMap(image.functions)),
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(none)"
