"""Exact C spellings of numbers for generated code.

Float constants must reach the compiler bit for bit, so they are written as C99 hexadecimal
floating literals of their float32 value (``0x1.99999ap-4f`` for 0.1f): a hex literal names one
binary value exactly, with no decimal-to-binary rounding in between.
"""

from __future__ import annotations

import math

import numpy as np


def cfloat(x: float) -> str:
    """The float32 value of ``x`` (rounded to nearest if ``x`` is a wider float) as a C99 hex literal.

    ``float.hex`` of the widened float32 gives ``[-]0x1.<13 hex digits>p<exp>``; trailing zero digits
    are dropped (a float32 needs at most 6) and an ``f`` suffix makes the literal a ``float``.
    Subnormal float32 values come out normalised (``0x1p-149f``), which C reads as the same float.
    Raises ValueError for infinities and NaN, which have no literal.
    """
    v = float(np.float32(x))
    if not math.isfinite(v):
        raise ValueError(f"cannot write {x!r} as a C float literal")
    if v == 0.0:
        return "-0x0p+0f" if math.copysign(1.0, v) < 0 else "0x0p+0f"
    text = v.hex()  # e.g. '0x1.99999a0000000p-4' or '-0x1.0000000000000p+0'
    mantissa, exponent = text.split("p")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{exponent}f"
