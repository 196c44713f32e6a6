"""Shared helpers for kernel tests: compile firmware C kernels for the host and call them via ctypes,
render op templates into test programs, and run such programs on the host or on the Cortex-M4 in QEMU.

Usage in a test module::

    @pytest.fixture(scope="session")
    def lib(tmp_path_factory):
        return kernel_lib_or_skip(tmp_path_factory, "k", [KERNELS / "tm2_conv.c"])

    out = guarded_output(size)
    lib.tm2_conv2d_s8(byref(params), ptr(x), ptr(w), ptr_or_null(b), ..., ptr(out))
    got = unguard(out, size)

The host build uses the same strict flags as the firmware (``-Wall -Wextra -Werror -std=c99``), so a
warning in a kernel fails the test session.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import numpy as np
import pytest
import refops_linear

from tinym2net.ir import Padding, QuantParams

REPO = Path(__file__).resolve().parent.parent
KERNELS = REPO / "firmware" / "kernels"
RUNTIME = REPO / "firmware" / "runtime"

HOST_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-std=c99", "-fPIC", "-shared")
# Host programs (rendered templates + kernels, run as an executable): the firmware's warning flags.
HOST_PROGRAM_CFLAGS = ("-O1", "-Wall", "-Wextra", "-Werror", "-std=c99")

SENTINEL = 0x5A  # what output buffers start as: a byte the kernel should write and did not stays this
GUARD = 16  # sentinel bytes after each output: a kernel that writes past its end changes them

_CTYPES = {
    np.dtype(np.int8): ctypes.c_int8,
    np.dtype(np.uint8): ctypes.c_uint8,
    np.dtype(np.int16): ctypes.c_int16,
    np.dtype(np.int32): ctypes.c_int32,
    np.dtype(np.int64): ctypes.c_int64,
    np.dtype(np.float32): ctypes.c_float,
}


def host_cc() -> str:
    """Name of the host C compiler (gcc, else cc); raises if neither exists (tests skip on that)."""
    for cc in ("gcc", "cc"):
        if shutil.which(cc):
            return cc
    raise FileNotFoundError("no host C compiler (gcc or cc) on PATH")


def require_host_cc() -> str:
    """The host C compiler; skips the calling test (or fixture) when there is none."""
    try:
        return host_cc()
    except FileNotFoundError:
        pytest.skip("host C compiler (gcc) not installed")


def kernel_lib_or_skip(
    tmp_path_factory, name: str, sources: Sequence[Path], extra_flags: Sequence[str] = ()
) -> ctypes.CDLL:
    """:func:`build_kernel_lib` in a fresh temporary folder ``name`` (for a fixture); skips without gcc."""
    require_host_cc()
    return build_kernel_lib(tmp_path_factory.mktemp(name), sources, extra_flags=extra_flags)


def build_kernel_lib(
    tmp_dir: Path,
    sources: Sequence[Path],
    include_dirs: Sequence[Path] = (KERNELS, RUNTIME),
    extra_flags: Sequence[str] = (),
) -> ctypes.CDLL:
    """Compile ``sources`` into one shared library in ``tmp_dir`` and load it.

    The library name contains a hash of the sources and flags, so two builds in one session with
    different inputs never collide. Compiler errors raise ``RuntimeError`` with gcc's output.
    """
    tmp_dir = Path(tmp_dir)
    key = hashlib.sha1(
        "\0".join(
            [*(str(s) for s in sources), *extra_flags, *(Path(s).read_text() for s in sources)]
        ).encode()
    ).hexdigest()[:12]
    out = tmp_dir / f"libtm2k_{key}.so"
    cmd = [
        host_cc(),
        *HOST_CFLAGS,
        *extra_flags,
        *(f"-I{d}" for d in include_dirs),
        *(str(s) for s in sources),
        "-o",
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"host compile failed:\n{' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return ctypes.CDLL(str(out))


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    """Pointer to a C-contiguous NumPy array's data (the caller keeps ``a`` alive during the call)."""
    if not a.flags["C_CONTIGUOUS"]:
        raise ValueError("array must be C-contiguous; use np.ascontiguousarray")
    return ctypes.c_void_p(a.ctypes.data)


def ptr_or_null(a: np.ndarray | None) -> ctypes.c_void_p | None:
    """Like :func:`ptr`, but ``None`` (a C NULL) for an omitted optional array."""
    return None if a is None else ptr(a)


def ctype_of(dtype: np.dtype) -> type:
    """The ctypes scalar type matching a NumPy dtype."""
    return _CTYPES[np.dtype(dtype)]


def int32_struct(name: str, fields: Sequence[str | tuple[str, int]]) -> type[ctypes.Structure]:
    """A ctypes Structure of int32 fields in the given order (mirrors a C params struct of int32_t).

    A field is a name, or ``(name, n)`` for an ``int32_t name[n]`` array member.
    """
    spec = []
    for f in fields:
        if isinstance(f, tuple):
            spec.append((f[0], ctypes.c_int32 * f[1]))
        else:
            spec.append((f, ctypes.c_int32))
    return type(name, (ctypes.Structure,), {"_fields_": spec})


_STRUCT_RE = re.compile(r"typedef\s+struct\s*\{(?P<body>[^}]*)\}\s*(?P<name>\w+)\s*;", re.S)
_MEMBER_RE = re.compile(r"^(?P<name>\w+)(?:\[(?P<n>\d+)\])?$")


def struct_from_header(header: Path, typedef: str) -> type[ctypes.Structure]:
    """Mirror a ``typedef struct { int32_t ...; } typedef;`` from a C header as a ctypes Structure.

    Reading the field order from the header itself keeps tests and kernels in step. Only int32_t
    members (scalars, comma lists and fixed-size arrays) are accepted; anything else raises.
    """
    text = re.sub(r"/\*.*?\*/", "", Path(header).read_text(), flags=re.S)
    for m in _STRUCT_RE.finditer(text):
        if m.group("name") != typedef:
            continue
        fields: list[str | tuple[str, int]] = []
        for decl in m.group("body").split(";"):
            decl = decl.strip()
            if not decl:
                continue
            if not decl.startswith("int32_t "):
                raise ValueError(f"{typedef}: only int32_t members are supported, got {decl!r}")
            for item in decl[len("int32_t ") :].split(","):
                mm = _MEMBER_RE.match(item.strip())
                if mm is None:
                    raise ValueError(f"{typedef}: cannot parse member {item!r}")
                fields.append((mm["name"], int(mm["n"])) if mm["n"] else mm["name"])
        return int32_struct(typedef, fields)
    raise ValueError(f"typedef struct {typedef} not found in {header}")


def make_struct(cls: type[ctypes.Structure], values: dict) -> ctypes.Structure:
    """Fill a Structure from a dict with exactly its field names (lists for array members)."""
    names = [f for f, _ in cls._fields_]
    if set(values) != set(names):
        raise KeyError(
            f"{cls.__name__}: missing {sorted(set(names) - set(values))}, extra {sorted(set(values) - set(names))}"
        )
    s = cls()
    for f, ftype in cls._fields_:
        v = values[f]
        if isinstance(v, (list, tuple, np.ndarray)):
            setattr(s, f, ftype(*[int(x) for x in v]))
        else:
            setattr(s, f, int(v))
    return s


def empty_like_output(shape: Sequence[int], dtype=np.int8, fill: int = 0x5A) -> np.ndarray:
    """An output buffer pre-filled with a sentinel so that unwritten elements are caught by comparison."""
    return np.full(tuple(shape), fill, dtype=dtype)


def guarded_output(size: int, dtype=np.int8) -> np.ndarray:
    """A flat output buffer of ``size`` elements followed by :data:`GUARD` more, all :data:`SENTINEL`."""
    return np.full(size + GUARD, SENTINEL, dtype=dtype)


def unguard(out: np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` elements of a :func:`guarded_output` buffer, after checking that the kernel left
    the guard behind them alone."""
    assert np.all(out[size:] == SENTINEL), "kernel wrote past the end of its output"
    return out[:size]


# ---------------------------------------------------------------- random one-op cases


def quant(scale, zp, axis: int = 0) -> QuantParams:
    """Quantisation parameters: scale(s) rounded to float32 as in a .tflite file, zero point(s)."""
    scales = tuple(float(np.float32(s)) for s in np.atleast_1d(scale))
    zps = tuple(int(z) for z in np.atleast_1d(zp))
    return QuantParams(scales, zps, axis)


def random_window(
    rng: np.random.Generator,
    *,
    in_max: int,
    k_max: int,
    stride_max: int,
    dilation_p: float,
    dilation_max: int,
):
    """Random geometry of a 2-D window op with a non-empty output: (in_hw, k_hw, stride, dil, padding,
    out_hw, pad). Sizes are drawn below the ``*_max`` bounds; dilation is > 1 with probability ``dilation_p``."""
    while True:
        in_hw = tuple(int(v) for v in rng.integers(1, in_max, 2))
        k_hw = tuple(int(v) for v in rng.integers(1, k_max, 2))
        stride = tuple(int(v) for v in rng.integers(1, stride_max, 2))
        use_dil = dilation_p > 0 and rng.random() < dilation_p
        dil = tuple(int(v) for v in rng.integers(1, dilation_max, 2)) if use_dil else (1, 1)
        padding = Padding.SAME if rng.random() < 0.5 else Padding.VALID
        same = padding is Padding.SAME
        oh, ph = refops_linear.out_size_and_pad(same, in_hw[0], k_hw[0], stride[0], dil[0])
        ow, pw = refops_linear.out_size_and_pad(same, in_hw[1], k_hw[1], stride[1], dil[1])
        if oh >= 1 and ow >= 1:
            return in_hw, k_hw, stride, dil, padding, (oh, ow), (ph, pw)


# ---------------------------------------------------------------- rendered templates as C programs


def template_env() -> jinja2.Environment:
    """The Jinja environment the code generator renders op templates with."""
    from tinym2net.codegen import _env

    return _env()


def c_array(name: str, ctype: str, values, const: bool = True) -> str:
    """A C definition ``static [const] ctype name[] = { ... };`` of integer values."""
    vals = ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1))
    return f"{'static const' if const else 'static'} {ctype} {name}[] = {{ {vals} }};"


def render_op(
    env: jinja2.Environment,
    lowered,
    oid: str,
    kind: str,
    inputs: Sequence[str | None],
    outputs: Sequence[str],
    consts: Mapping[str, str] | None = None,
    index: int = 0,
) -> tuple[str, str]:
    """The ``decl`` and ``call`` a lowered op's template renders for the given C names."""
    from tinym2net.ops.base import OpContext

    ctx = OpContext(oid, index, kind, list(inputs), list(outputs), dict(consts or {}), lowered.params, None)
    module = env.get_template(lowered.template).module
    return str(module.decl(ctx)), str(module.call(ctx))


def run_host_program(
    tmp_path: Path,
    headers: Sequence[str],
    decls: Sequence[str],
    calls: Sequence[str],
    sources: Sequence[Path],
) -> bytes:
    """Build ``main(void) { calls }`` after ``#include``s of ``headers`` and the ``decls``, with the kernel
    ``sources``, on the host; run it and return what it wrote to stdout (``calls`` use ``fwrite``)."""
    src = "\n".join(
        [
            "#include <stdio.h>",
            *(f'#include "{h}"' for h in headers),
            *decls,
            "int main(void) {",
            *calls,
            "return 0;",
            "}",
        ]
    )
    (tmp_path / "prog.c").write_text(src)
    exe = tmp_path / "prog"
    cmd = [
        require_host_cc(),
        *HOST_PROGRAM_CFLAGS,
        f"-I{KERNELS}",
        str(tmp_path / "prog.c"),
        *map(str, sources),
        "-o",
        str(exe),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return subprocess.run([str(exe)], capture_output=True, check=True).stdout


def run_on_cortex_m4(
    tmp_path: Path,
    sources: Sequence[Path],
    tm2_in: bytes,
    *,
    defines: Sequence[str] | None = None,
    stack_bytes: int = 4096,
    timeout_s: float = 120,
) -> bytes:
    """Cross-build ``sources`` with the firmware's start-up, semihosting I/O and stack code for the nano33
    board (Cortex-M4F), linked for QEMU's mps2-an386, and run it there with ``tm2_in`` as ``tm2_in.bin``.
    The program must exit 0; returns the bytes it wrote to ``tm2_out.bin``. Skips without the tools."""
    from conftest import require_cross_tools

    from tinym2net.boards import load_board
    from tinym2net.toolchain import cross_build, run_qemu

    require_cross_tools()
    board = load_board("nano33")
    ld = tmp_path / "linker.ld"
    ld.write_text(
        template_env()
        .get_template("linker.ld.j2")
        .render(
            board=board,
            stack_bytes=stack_bytes,
            flash_origin=board.emulator_flash_origin,
            ram_origin=board.emulator_ram_origin,
        )
    )
    runtime = (RUNTIME / n for n in ("startup.c", "io_semihost.c", "tm2_stack.c"))
    elf = cross_build(
        [*sources, *runtime], [KERNELS, RUNTIME], tmp_path / "prog.elf", board, ld, defines=defines
    )
    (tmp_path / "tm2_in.bin").write_bytes(tm2_in)
    res = run_qemu(elf, board, tmp_path, timeout_s=timeout_s)
    assert res.returncode == 0, res.stderr
    return (tmp_path / "tm2_out.bin").read_bytes()
