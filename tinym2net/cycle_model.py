"""Cortex-M4 cycle model: instruction classes, their costs, and a decoder for straight-line code.

The emulators we run firmware in model no time, so speed is *counted*: the counting engine
(:mod:`tinym2net.counting`) records how often each translated block of code ran, and this module
turns one block's bytes into instruction classes and an estimated number of core cycles.

Source of the costs: Arm Cortex-M4 Technical Reference Manual (ARM DDI 0439, r0p1),
section 3.3 "Instruction set summary" -- Table 3-1 (processor instructions), the load/store
timing rules of 3.3.2, and the FPU instruction table of chapter 7 (7.2.3, "FPU instruction set").
All numbers assume a zero-wait-state memory system (the TRM's own assumption); flash wait states,
the nRF52840 cache and bus contention are not modelled. ``docs/cycle_model.md`` holds the same
table with the reasoning for every choice.

Choices where the TRM gives a range:

* ``P`` (pipeline refill after a taken branch, 1..3 in the TRM) is :data:`PIPELINE_REFILL` = 2.
* ``SDIV``/``UDIV`` (2..12, early termination on the operands) is :data:`DIVIDE_CYCLES` = 7, the
  middle of the range (the operands are not known to a block-level count).
* ``MRS``/``MSR``/``CPS`` (1 or 2) are charged 2; ``DMB``/``DSB`` 1 (B = 0); ``ISB`` 1 + P.
* ``IT`` is charged 1 (the TRM notes it can be folded into the previous 16-bit instruction,
  which would make it free; we do not model folding).

Load/store pairing (3.3.2), modelled inside a block, where the previous instruction is known:

* a single ``LDR*`` costs 2, or 1 when it directly follows another single load whose destination
  is not the base or index register of this one (loads pipeline);
* a single ``STR*`` with an immediate (or no) offset costs 1; with a register offset 2, or 1 when
  it directly follows a single load (``STR`` pipelines only after ``LDR``);
* ``LDREX``/``STREX`` behave like ``LDR``;
* any load or store whose base or index register was written by the directly preceding
  data-processing instruction pays one extra cycle (no forwarding path to the address unit);
* ``LDRD``/``STRD`` cost 1 + 2 = 3, ``LDM``/``STM``/``PUSH``/``POP`` cost 1 + N, plus P when
  ``PC`` is loaded; none of these pipeline with their neighbours.

The first instruction of a block is priced as if nothing could pair with it: blocks start at
branch targets, where the pipeline has just been refilled. Instructions inside an IT block whose
condition fails are priced as if they executed (the emulator executes them as no-ops too), except
for a conditional branch, return or other write to PC at the end of a block: whether it was
taken is decided at run time from the address of the next block (see :class:`CondExit`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------- constants

PIPELINE_REFILL = 2  # "P" of Table 3-1: cycles to refill the pipeline after a taken branch
DIVIDE_CYCLES = 7  # SDIV/UDIV: Table 3-1 gives 2..12 (early termination); we charge the middle
SYSREG_CYCLES = 2  # MRS/MSR/CPS: "1 or 2"
BARRIER_CYCLES = 1  # DMB/DSB: 1 + B with B = 0
ISB_CYCLES = 1 + PIPELINE_REFILL  # ISB: 1 + B, B equal to a pipeline refill
FP_MAC_CYCLES = 3  # VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS .F32
FP_DIV_CYCLES = 14  # VDIV.F32 / VSQRT.F32

# Instruction classes (the keys of CountResult.by_class). Every decoded instruction gets one.
CLASSES = (
    "alu",
    "it",
    "mul",
    "dsp_mac",
    "dsp_simd",
    "div",
    "load",
    "store",
    "load_multiple",
    "store_multiple",
    "branch",
    "branch_cond_taken",
    "branch_cond_untaken",
    "fp_alu",
    "fp_mac",
    "fp_div",
    "fp_load",
    "fp_store",
    "fp_load_multiple",
    "fp_store_multiple",
    "system",
    "other",
)


@dataclass(frozen=True)
class CostRule:
    """One row of the cost table: a class, the TRM's cycle formula and what we charge."""

    cls: str
    instructions: str
    trm_cycles: str
    charged: str


COST_TABLE: tuple[CostRule, ...] = (
    CostRule(
        "alu",
        "MOV/MVN/ADD/ADC/SUB/SBC/RSB/AND/ORR/ORN/EOR/BIC, shifts, CMP/CMN/TST/TEQ, "
        "ADR, MOVW/MOVT, SSAT/USAT, SXT*/UXT*, BFI/BFC/SBFX/UBFX, CLZ, REV*, RBIT",
        "1",
        "1",
    ),
    CostRule("it", "IT", "1 (may fold)", "1"),
    CostRule("mul", "MUL, MLA, MLS, SMULL, UMULL, SMLAL, UMLAL, UMAAL", "1", "1"),
    CostRule(
        "dsp_mac",
        "SMLA<x><y>, SMLAD(X), SMLSD(X), SMLAL<x><y>, SMLALD(X), SMLSLD(X), SMLAW<y>, "
        "SMUL<x><y>, SMULW<y>, SMUAD(X), SMUSD(X), SMMUL(R), SMMLA(R), SMMLS(R)",
        "1",
        "1",
    ),
    CostRule(
        "dsp_simd",
        "SADD16/8, SSUB16/8, QADD*, QSUB*, QASX, QSAX, SHADD*, UADD*, UQADD*, "
        "SEL, USAD8, USADA8, PKHBT/TB, SXTB16, SXTAB16, UXTB16, UXTAB16, SSAT16, USAT16",
        "1",
        "1",
    ),
    CostRule("div", "SDIV, UDIV", "2 to 12", str(DIVIDE_CYCLES)),
    CostRule(
        "load",
        "LDR, LDRB, LDRH, LDRSB, LDRSH (+T), LDREX*, PLD, PLI",
        "2 (1 pipelined)",
        "2; 1 after a single load not feeding its address; +1 if address from previous ALU op",
    ),
    CostRule(
        "store",
        "STR, STRB, STRH (+T), STREX*",
        "2; STR [Rn,#imm] 1",
        "1 with immediate offset; register offset 2, 1 after a single load; +1 address stall",
    ),
    CostRule("load_multiple", "LDM, POP, LDRD (to PC: + P)", "1 + N (+ P)", "1 + N (+ 2 if PC loaded)"),
    CostRule("store_multiple", "STM, PUSH, STRD", "1 + N", "1 + N"),
    CostRule(
        "branch",
        "B, BL, BX, BLX, MOV/ADD to PC; LDR PC; TBB/TBH",
        "1 + P; 2 + P; 2 + P",
        f"{1 + PIPELINE_REFILL}; LDR PC and TBB/TBH {2 + PIPELINE_REFILL}",
    ),
    CostRule("branch_cond_taken", "B<c>, CBZ, CBNZ, BX<c> in IT, taken", "1 + P", str(1 + PIPELINE_REFILL)),
    CostRule("branch_cond_untaken", "B<c>, CBZ, CBNZ, BX<c> in IT, not taken", "1", "1"),
    CostRule(
        "fp_alu",
        "VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP(E), VCVT, VMOV, VMRS, VMSR",
        "1 (VMOV of two core registers: 2)",
        "1; 2 for VMOV with two core registers",
    ),
    CostRule("fp_mac", "VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS", "3", str(FP_MAC_CYCLES)),
    CostRule("fp_div", "VDIV, VSQRT", "14", str(FP_DIV_CYCLES)),
    CostRule("fp_load", "VLDR", ".32: 2, .64: 3", "2 single, 3 double (+1 address stall)"),
    CostRule("fp_store", "VSTR", ".32: 2, .64: 3", "2 single, 3 double (+1 address stall)"),
    CostRule("fp_load_multiple", "VLDM, VPOP", "1 + N (doubles: 1 + 2N)", "1 + N singles, 1 + 2N doubles"),
    CostRule("fp_store_multiple", "VSTM, VPUSH", "1 + N (doubles: 1 + 2N)", "1 + N singles, 1 + 2N doubles"),
    CostRule(
        "system",
        "MRS, MSR, CPS; DMB, DSB; ISB; NOP, hints, BKPT, SVC, WFI",
        "1 or 2; 1 + B; 1 + B; 1",
        f"{SYSREG_CYCLES}; {BARRIER_CYCLES}; {ISB_CYCLES}; 1",
    ),
    CostRule("other", "anything not listed above", "-", "1"),
)

# ------------------------------------------------------------------------- instruction name sets

_ALU = frozenset(
    """ADC ADD ADDW ADR AND ASR BFC BFI BIC CLZ CMN CMP EOR LSL LSR MOV MOVS MOVT MOVW MVN NEG ORN ORR
    RBIT REV REV16 REVSH ROR RRX RSB RSC SBC SBFX SSAT SUB SUBS SUBW SXTAB SXTAH SXTB SXTH TEQ TST UBFX
    USAT UXTAB UXTAH UXTB UXTH""".split()
)
_MUL = frozenset("MUL MLA MLS SMULL UMULL SMLAL UMLAL UMAAL".split())
_DSP_MAC = frozenset(
    """SMLABB SMLABT SMLATB SMLATT SMLAD SMLADX SMLSD SMLSDX SMLALBB SMLALBT SMLALTB SMLALTT SMLALD
    SMLALDX SMLSLD SMLSLDX SMLAWB SMLAWT SMULBB SMULBT SMULTB SMULTT SMULWB SMULWT SMUAD SMUADX SMUSD
    SMUSDX SMMUL SMMULR SMMLA SMMLAR SMMLS SMMLSR""".split()
)
_DSP_SIMD = frozenset(
    """QADD QADD16 QADD8 QASX QDADD QDSUB QSAX QSUB QSUB16 QSUB8 SADD16 SADD8 SASX SSAX SSUB16 SSUB8
    SHADD16 SHADD8 SHASX SHSAX SHSUB16 SHSUB8 UADD16 UADD8 UASX UHADD16 UHADD8 UHASX UHSAX UHSUB16
    UHSUB8 UQADD16 UQADD8 UQASX UQSAX UQSUB16 UQSUB8 USAD8 USADA8 USAX USUB16 USUB8 SEL PKHBT PKHTB
    SXTB16 SXTAB16 UXTB16 UXTAB16 SSAT16 USAT16""".split()
)
_DIV = frozenset({"SDIV", "UDIV"})
_LOAD = frozenset(
    "LDR LDRB LDRH LDRSB LDRSH LDRT LDRBT LDRHT LDRSBT LDRSHT LDREX LDREXB LDREXH PLD PLDW PLI".split()
)
_STORE_LIKE_LOAD = frozenset({"STREX", "STREXB", "STREXH"})
_STORE = frozenset("STR STRB STRH STRT STRBT STRHT".split())
_LOAD_MULTI = frozenset({"LDM", "LDMDB", "LDMIA", "LDMIB", "LDMDA", "POP"})
_STORE_MULTI = frozenset({"STM", "STMDB", "STMIA", "STMIB", "STMDA", "PUSH"})
_FP_ALU = frozenset(
    """VADD VSUB VMUL VNMUL VABS VNEG VCMP VCMPE VCVT VCVTA VCVTB VCVTM VCVTN VCVTP VCVTR VCVTT VMOV
    VMRS VMSR FCONSTS FCONSTD FMSTAT FADDS FADDD FSUBS FSUBD FCMPZS FCMPZD FMDHR FMDLR VMAXNM VMINNM
    VRINTA VRINTM VRINTN VRINTP VRINTR VRINTX VRINTZ VSELEQ VSELGE VSELGT VSELVS""".split()
)
_FP_MAC = frozenset("VMLA VMLS VNMLA VNMLS VFMA VFMS VFNMA VFNMS".split())
_FP_DIV = frozenset({"VDIV", "VSQRT"})
_FP_LOAD_MULTI = frozenset({"VLDMIA", "VLDMDB", "VPOP"})
_FP_STORE_MULTI = frozenset({"VSTMIA", "VSTMDB", "VPUSH"})
_BRANCH_IMM = frozenset({"B", "BL", "BLX", "BX"})
_TABLE_BRANCH = frozenset({"TBB", "TBH"})
_SYSREG = frozenset({"MRS", "MSR", "CPS"})
_BARRIER = frozenset({"DMB", "DSB"})
_HINT = frozenset({"NOP", "HINT", "YIELD", "WFI", "WFE", "SEV", "BKPT", "SVC", "CLREX", "UDF", "DBG"})


@dataclass(frozen=True)
class CondExit:
    """A conditional write to PC that ends a block; taken or not is known only at run time."""

    taken_cls: str
    taken_cycles: int
    untaken_cls: str
    untaken_cycles: int


@dataclass(frozen=True)
class BlockInfo:
    """One translated block: its instructions by class and its cycle cost.

    ``classes`` and ``cycles`` cover every instruction except a final conditional write to PC
    (``cond_exit``), which the counter charges as taken or not taken at run time; ``instructions``
    counts all of them.
    """

    address: int
    size: int
    instructions: int
    classes: tuple[tuple[str, int], ...]
    cycles: int
    fallthrough: int
    cond_exit: CondExit | None


@dataclass(frozen=True)
class _Priced:
    cls: str
    cycles: int
    single_load_dest: tuple[int, ...]  # destination registers when this is a pipelining load
    alu_writes: tuple[int, ...]  # registers written by a data-processing instruction
    cond_exit: CondExit | None


class BlockDecoder:
    """Decodes Thumb-2 (M-profile) code with capstone and prices each instruction.

    One decoder per run; :meth:`decode` is called once per distinct block, so its speed matters
    little next to the emulation itself.
    """

    def __init__(self) -> None:
        import capstone
        import capstone.arm_const as arm

        self._arm = arm
        self._cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        self._cs.detail = True
        self._names = {v: k[len("ARM_INS_") :] for k, v in vars(arm).items() if k.startswith("ARM_INS_")}
        self._pc = arm.ARM_REG_PC
        self._d_regs = range(arm.ARM_REG_D0, arm.ARM_REG_D31 + 1)
        self._al = arm.ARM_CC_AL
        self._invalid_cc = arm.ARM_CC_INVALID

    def decode(self, code: bytes, address: int) -> BlockInfo:
        """Classify and price the instructions of one block (``code`` starts at ``address``).

        Raises ValueError when the bytes do not decode to whole instructions.
        """
        counts: Counter[str] = Counter()
        cycles = 0
        n = 0
        end = address
        prev: _Priced | None = None
        cond_exit: CondExit | None = None
        for insn in self._cs.disasm(code, address):
            if cond_exit is not None:
                raise ValueError(
                    f"conditional branch at {end - 2:#x} is not the last instruction of its block"
                )
            priced = self._price(insn, prev)
            n += 1
            end = insn.address + insn.size
            if priced.cond_exit is not None:
                cond_exit = priced.cond_exit
            else:
                counts[priced.cls] += 1
                cycles += priced.cycles
            prev = priced
        if end != address + len(code):
            raise ValueError(f"cannot decode the Thumb instruction at {end:#x}")
        return BlockInfo(
            address=address,
            size=len(code),
            instructions=n,
            classes=tuple(sorted(counts.items())),
            cycles=cycles,
            fallthrough=end,
            cond_exit=cond_exit,
        )

    # --------------------------------------------------------------------------------- pricing

    def _conditional(self, insn: object) -> bool:
        cc = insn.cc  # type: ignore[attr-defined]
        return cc not in (self._al, self._invalid_cc)

    def _price(self, insn: object, prev: _Priced | None) -> _Priced:
        """Class and cycles of one instruction, given the one before it in the same block."""
        name = self._names.get(insn.id, "INVALID")  # type: ignore[attr-defined]
        ops = insn.operands  # type: ignore[attr-defined]
        arm = self._arm
        regs = [o.reg for o in ops if o.type == arm.ARM_OP_REG]
        mems = [o.mem for o in ops if o.type == arm.ARM_OP_MEM]
        p = PIPELINE_REFILL

        def addr_stall() -> int:
            """+1 when the address registers were just written by a data-processing instruction."""
            if prev is None or not prev.alu_writes or not mems:
                return 0
            m = mems[0]
            return 1 if (m.base in prev.alu_writes or (m.index and m.index in prev.alu_writes)) else 0

        def after_load() -> bool:
            """True when the previous instruction was a single load not feeding this address."""
            if prev is None or not prev.single_load_dest:
                return False
            if not mems:
                return True
            m = mems[0]
            return m.base not in prev.single_load_dest and not (m.index and m.index in prev.single_load_dest)

        def done(cls: str, cycles: int, *, load_dest: tuple[int, ...] = (), alu: bool = False) -> _Priced:
            writes: tuple[int, ...] = ()
            if alu:
                writes = tuple(insn.regs_access()[1])  # type: ignore[attr-defined]
            return _Priced(cls, cycles, load_dest, writes, None)

        def branch(cls_taken: str, taken: int, cls_untaken: str) -> _Priced:
            if name in ("CBZ", "CBNZ") or self._conditional(insn):
                return _Priced(cls_taken, taken, (), (), CondExit(cls_taken, taken, cls_untaken, 1))
            return _Priced(cls_taken, taken, (), (), None)

        # Branches and other writes to PC.
        if name in ("CBZ", "CBNZ") or (name in _BRANCH_IMM and self._conditional(insn)):
            return _Priced(
                "branch_cond_taken",
                1 + p,
                (),
                (),
                CondExit("branch_cond_taken", 1 + p, "branch_cond_untaken", 1),
            )
        if name in _BRANCH_IMM:
            return done("branch", 1 + p)
        if name in _TABLE_BRANCH:
            return branch("branch", 2 + p, "branch")
        if name in _LOAD_MULTI or name in _STORE_MULTI:
            n_regs = len(regs) - (0 if name in ("POP", "PUSH") else 1)
            if name in _LOAD_MULTI and self._pc in regs:
                return branch("load_multiple", 1 + n_regs + p, "load_multiple")
            cls = "load_multiple" if name in _LOAD_MULTI else "store_multiple"
            return done(cls, 1 + n_regs + addr_stall())
        if name in ("LDRD", "LDREXD"):
            return done("load_multiple", 3 + addr_stall())
        if name in ("STRD", "STREXD"):
            return done("store_multiple", 3 + addr_stall())
        if name in _LOAD:
            if regs and regs[0] == self._pc:
                return branch("branch", 2 + p, "branch")
            cycles = (1 if after_load() else 2) + addr_stall()
            dest = (regs[0],) if regs and name not in ("PLD", "PLDW", "PLI") else ()
            return done("load", cycles, load_dest=dest)
        if name in _STORE_LIKE_LOAD:
            cycles = (1 if after_load() else 2) + addr_stall()
            return done("store", cycles, load_dest=(regs[0],) if regs else ())
        if name in _STORE:
            reg_offset = bool(mems and mems[0].index)
            if not reg_offset:
                cycles = 1
            else:
                cycles = 1 if after_load() else 2
            return done("store", cycles + addr_stall())
        if regs and regs[0] == self._pc and (name in _ALU or name == "MOV"):
            return branch("branch", 1 + p, "branch")
        if name == "IT":
            return done("it", 1)
        if name in _ALU:
            return done("alu", 1, alu=True)
        if name in _MUL:
            return done("mul", 1, alu=True)
        if name in _DSP_MAC:
            return done("dsp_mac", 1, alu=True)
        if name in _DSP_SIMD:
            return done("dsp_simd", 1, alu=True)
        if name in _DIV:
            return done("div", DIVIDE_CYCLES, alu=True)
        if name in _FP_MAC:
            return done("fp_mac", FP_MAC_CYCLES)
        if name in _FP_DIV:
            return done("fp_div", FP_DIV_CYCLES)
        if name in _FP_ALU:
            if name == "VMOV":
                core = sum(1 for r in regs if r not in self._d_regs and self._is_core(r))
                writes = tuple(insn.regs_access()[1])  # type: ignore[attr-defined]
                return _Priced("fp_alu", 2 if core >= 2 else 1, (), writes, None)
            if name in ("VMRS", "FMSTAT"):
                return _Priced("fp_alu", 1, (), tuple(insn.regs_access()[1]), None)  # type: ignore[attr-defined]
            return done("fp_alu", 1)
        if name in ("VLDR", "VSTR"):
            double = bool(regs) and regs[0] in self._d_regs
            cls = "fp_load" if name == "VLDR" else "fp_store"
            return done(cls, (3 if double else 2) + addr_stall())
        if name in _FP_LOAD_MULTI or name in _FP_STORE_MULTI:
            fregs = [r for r in regs if not self._is_core(r)]
            per = 2 if fregs and fregs[0] in self._d_regs else 1
            cls = "fp_load_multiple" if name in _FP_LOAD_MULTI else "fp_store_multiple"
            return done(cls, 1 + per * len(fregs) + addr_stall())
        if name in _SYSREG:
            return done("system", SYSREG_CYCLES)
        if name in _BARRIER:
            return done("system", BARRIER_CYCLES)
        if name == "ISB":
            return done("system", ISB_CYCLES)
        if name in _HINT:
            return done("system", 1)
        return done("other", 1)

    def _is_core(self, reg: int) -> bool:
        arm = self._arm
        return arm.ARM_REG_R0 <= reg <= arm.ARM_REG_R12 or reg in (arm.ARM_REG_SP, arm.ARM_REG_LR, self._pc)


def sum_classes(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Adds (class, count) pairs into a dict holding every class of :data:`CLASSES` (zeros kept)."""
    out = dict.fromkeys(CLASSES, 0)
    for cls, n in items:
        out[cls] = out.get(cls, 0) + n
    return out
