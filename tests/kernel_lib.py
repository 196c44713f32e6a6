"""Shared helpers for kernel tests: compile firmware C kernels for the host and call them via ctypes.

Usage in a test module::

    @pytest.fixture(scope="session")
    def lib(tmp_path_factory):
        return build_kernel_lib(tmp_path_factory.mktemp("k"), [KERNELS / "tm2_conv.c"])

    lib.tm2_conv2d_s8(byref(params), ptr(x), ptr(w), ptr_or_null(b), ...)

The host build uses the same strict flags as the firmware (``-Wall -Wextra -Werror -std=c99``), so a
warning in a kernel fails the test session.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
KERNELS = REPO / "firmware" / "kernels"
RUNTIME = REPO / "firmware" / "runtime"

HOST_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-std=c99", "-fPIC", "-shared")

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
        "\0".join([*(str(s) for s in sources), *extra_flags, *(Path(s).read_text() for s in sources)]).encode()
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


def int32_struct(name: str, fields: Sequence[str]) -> type[ctypes.Structure]:
    """A ctypes Structure of int32 fields in the given order (mirrors a C params struct of int32_t).

    Construct with keyword arguments; missing fields are zero.
    """
    return type(name, (ctypes.Structure,), {"_fields_": [(f, ctypes.c_int32) for f in fields]})


def empty_like_output(shape: Sequence[int], dtype=np.int8, fill: int = 0x5A) -> np.ndarray:
    """An output buffer pre-filled with a sentinel so that unwritten elements are caught by comparison."""
    return np.full(tuple(shape), fill, dtype=dtype)
