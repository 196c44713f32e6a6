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
import re
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
