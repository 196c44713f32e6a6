"""Build-time fixed-point helpers, exactly as TFLite's ``quantization_util.cc`` and ``kernel_util.cc``.

All doubles and float32 roundings follow the C++ code so that the multipliers we emit are the
ones TFLite's reference kernels use.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ModelError
from .ir import Activation, DType, Tensor

INT8_MIN, INT8_MAX = -128, 127
# Largest left shift a rescale may ask for: the kernels shift 32-bit values, and the single-rounding
# form (31 - shift) needs at least one bit. TFLite's single-rounding build saturates here too.
MAX_LEFT_SHIFT = 30


class RescaleRangeError(ModelError):
    """A rescale multiplier of 2^31 or more: only absurd or corrupt quantisation scales give one.

    ``compile_graph`` adds the operator to the message.
    """


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2**(shift-31) with q in [2**30, 2**31). Returns (q, shift)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    if shift > MAX_LEFT_SHIFT:  # would be undefined behaviour in the kernels' 32-bit shifts
        raise RescaleRangeError(
            f"needs a rescale multiplier of {real_multiplier:.3g} (a left shift of {shift} bits; at most "
            f"{MAX_LEFT_SHIFT} fit 32-bit fixed point)"
        )
    # (TFLite clamps shift > 30 only in its TFLITE_SINGLE_ROUNDING build; the default build does not.)
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one_exp(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: returns (q, left_shift) with left_shift <= 0."""
    assert 0.0 < real_multiplier < 1.0
    q, shift = quantize_multiplier(real_multiplier)
    assert shift <= 0
    return q, shift


def f32(x: float) -> float:
    """Round a Python float to float32 and back, like a C++ ``float``."""
    return float(np.float32(x))


def activation_range_int8(act: Activation, out: Tensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs (float32 arithmetic as in TFLite)."""
    qmin, qmax = INT8_MIN, INT8_MAX
    if out.dtype is DType.INT16:
        qmin, qmax = -32768, 32767
    scale = np.float32(out.scale)
    zp = out.zero_point

    def q(v: float) -> int:
        return zp + tflite_round(float(np.float32(v) / scale))

    if act is Activation.RELU:
        return max(qmin, q(0.0)), qmax
    if act is Activation.RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act is Activation.RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    return qmin, qmax
