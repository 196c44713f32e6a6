"""Bounds checks that make the generated ``tflite`` accessors safe on untrusted bytes.

The flatbuffers Python runtime trusts its input: a table's vtable is found by subtracting a
signed offset (which may point before the buffer, where Python's ``struct`` silently wraps
around to the end), and a vector's length is read straight from the file (so a flipped byte can
ask for billions of elements). Before the reader touches a table or iterates a vector of
tables, it passes it through these checks:

* :func:`check_table` verifies that the table, its vtable and every field offset the vtable
  lists lie inside the buffer; after that, the generated scalar accessors can only read bytes
  of this table.
* :func:`vector_length` follows a vector field's offset and verifies that the whole vector
  (length word plus ``length * elem_size`` bytes) lies inside the buffer.
* :func:`numpy_vector` wraps the generated ``...AsNumpy()`` accessors, which already refuse to
  read past the end (``numpy.frombuffer`` checks ``count``), and turns "absent" into an empty
  array.

Any violation raises :class:`CorruptFlatbuffer`, which the reader turns into a one-line
:class:`~tinym2net.errors.ModelError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class CorruptFlatbuffer(Exception):
    """A structural fault in the flatbuffer; ``str()`` says which object was broken."""


def _u16(buf: bytes, pos: int) -> int:
    return _U16.unpack_from(buf, pos)[0]


def _u32(buf: bytes, pos: int) -> int:
    return _U32.unpack_from(buf, pos)[0]


def check_table(obj: T, what: str) -> T:
    """Check that ``obj`` (a generated table object, or None) is a well-formed table inside its buffer.

    Layout: at ``pos`` a signed 32-bit offset to the vtable (``vtable = pos - soffset``); the vtable
    starts with its own size and the table's inline size (both uint16), followed by one uint16 field
    offset per field (0 = absent), each relative to ``pos`` and smaller than the inline size.
    """
    if obj is None:
        raise CorruptFlatbuffer(f"{what} is missing")
    tab = obj._tab  # type: ignore[attr-defined]
    buf, pos = tab.Bytes, tab.Pos
    n = len(buf)
    if pos < 0 or pos + 4 > n:
        raise CorruptFlatbuffer(f"{what} lies outside the file")
    vtable = pos - _I32.unpack_from(buf, pos)[0]
    if vtable < 0 or vtable + 4 > n:
        raise CorruptFlatbuffer(f"{what} has a vtable outside the file")
    vt_size, inline_size = _u16(buf, vtable), _u16(buf, vtable + 2)
    if vt_size < 4 or vt_size % 2 or vtable + vt_size > n or inline_size < 4 or pos + inline_size > n:
        raise CorruptFlatbuffer(f"{what} has a malformed vtable")
    for slot in range(4, vt_size, 2):
        field = _u16(buf, vtable + slot)
        if field and (field < 4 or field >= inline_size):
            raise CorruptFlatbuffer(f"{what} has a field outside its table")
    return obj


def vector_length(obj: Any, slot: int, elem_size: int, what: str) -> int:
    """Length of the vector in vtable ``slot`` of a checked table, after checking it fits the buffer.

    Returns 0 for an absent field (flatbuffers' meaning of "empty").
    """
    tab = obj._tab
    buf = tab.Bytes
    field = tab.Offset(slot)
    if field == 0:
        return 0
    ref = tab.Pos + field
    if ref + 4 > len(buf):
        raise CorruptFlatbuffer(f"{what} lies outside the file")
    start = ref + _u32(buf, ref)
    if start + 4 > len(buf):
        raise CorruptFlatbuffer(f"{what} lies outside the file")
    length = _u32(buf, start)
    if start + 4 + length * elem_size > len(buf):
        raise CorruptFlatbuffer(f"{what} claims {length} elements, more than the file holds")
    return length


def numpy_vector(as_numpy: Callable[[], Any], dtype: str, what: str) -> np.ndarray:
    """Call a generated ``XAsNumpy`` accessor; an absent vector (the accessor returns 0) becomes empty."""
    try:
        arr = as_numpy()
    except (ValueError, struct.error) as exc:  # numpy.frombuffer refuses to read past the end
        raise CorruptFlatbuffer(f"{what} lies outside the file") from exc
    if isinstance(arr, int):
        return np.zeros(0, dtype=dtype)
    return np.asarray(arr).astype(dtype, copy=True)


def table_vector(obj: Any, slot: int, getter: Callable[[int], T], what: str) -> list[T]:
    """All tables of a vector-of-tables field, each checked with :func:`check_table`."""
    n = vector_length(obj, slot, 4, what)
    return [check_table(getter(i), f"{what}[{i}]") for i in range(n)]
