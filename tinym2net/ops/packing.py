"""Build-time layouts for the packed int8 kernels (``firmware/kernels/tm2_conv_dsp.h``, ``tm2_fc_dsp.h``).

The fast kernels read weights in an order that suits the Cortex-M4 SIMD multiply-accumulate SMLAD,
which multiplies two int16 pairs and adds both products to one accumulator. Re-ordering happens
here, once, so the firmware does no shuffling at run time; the values are the model's int8 weights.

Tap order. The taps of a convolution (``filter_h * filter_w * in_c``, in the filter's own
``[h][w][in_c]`` order) or the inputs of a fully connected layer are padded with zeros to ``Kp``, a
multiple of 8, and each group of four is read as k0, k2, k1, k3 (:func:`tap_positions`). That is the
order in which ``SXTAB16`` widens a word of four input bytes: bytes 0 and 2 first, then (rotated by 8)
bytes 1 and 3. Position pair ``j`` is positions ``2j, 2j + 1``. CONV_2D filters whose rows are 4 g + 1
bytes with in_c not a multiple of 4 (3x3 filters of three channels) use the row layout instead
(:func:`conv_tap_positions`), so that the kernel widens each filter row straight from the input.

Weight words. A word for rows (channels) r, r+1 and position pair j holds the bytes
``w[r][2j], w[r+1][2j], w[r][2j+1], w[r+1][2j+1]``: ``SXTB16`` of it gives row r's int16 pair, of the
word rotated by 8 row r+1's. CONV_2D stores, per channel pair, its Kp/2 words in order; FULLY_CONNECTED
stores, per group of four rows, two words (rows r, r+1 then r+2, r+3) per position pair.

Requantisation tables: :func:`requant_table` (the exact fast forms are derived in
``firmware/kernels/tm2_requant.h``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import DType, Tensor
from .base import ConstArray, Lowered

# Lower int8 CONV_2D / 3x3 DEPTHWISE_CONV_2D / FULLY_CONNECTED to the packed kernels. False keeps the
# reference kernels of tm2_conv.h / tm2_fc.h with the tensors' own layouts (tests of those kernels'
# lowering contract set it; the speed benchmark's "reference" build too).
PACKED = True

# Requantisation modes (TM2_RQ_* in tm2_requant.h).
RQ_DOUBLE = 0
RQ_DOUBLE_FAST = 1
RQ_SINGLE = 2
RQ_SINGLE_FAST = 3
RQ_HIGHMUL = 4  # records (m, hz, e) of the packed CONV_2D stream on doubled sums (tm2_requant.h)
RQ_HIGHMUL_E = 5  # records (m, hz', E) on sums scaled by 2^(E - e): the shift in SSAT's immediate (tm2_requant.h)

# The layer-wide shifts E of TM2_RQ_HIGHMUL_E that have entry points (TM2_CONV_RQ_SHIFTS in tm2_conv_dsp.h), and
# the one a layer takes when it can: one E for most layers of a model, so that it links one variant per loop.
RQ_SHIFTS = (10, 11, 12, 13, 14)
RQ_SHIFT_PREFERRED = 12
# The shifts E of the depthwise plane kernel's TM2_RQ_HIGHMUL_E loops (TM2_DW_PLANE_RQ_SHIFTS in tm2_dw_dsp.c).
DW_RQ_SHIFTS = (12,)
# The shifts E of the stride-2 depthwise kernel's TM2_RQ_HIGHMUL_E runs (TM2_DWS2_RQ_SHIFT in tm2_dw_s2_dsp.c); a
# layer whose every row takes the specialised runs (dw3x3_s2_whole) may take any of RQ_SHIFTS (the shift is in its
# runs' code).
DW_S2_RQ_SHIFTS = (12,)
# The shifts E a depthwise layer's entries may carry (dw3x3_plane_shift): the specialised loops of the model code
# (dw3x3_plane_spec) take any; the generic loop takes those of DW_RQ_SHIFTS and runs the others as TM2_RQ_HIGHMUL.
DW_PLANE_SHIFTS = RQ_SHIFTS

# Largest right shift of the fast double-rounding form: |acc * m| + K must stay below 2^63.
_MAX_FAST_EXPONENT = 31
# Largest total shift (31 - shift) of the fast single-rounding form, for the same reason.
_MAX_FAST_TOTAL_SHIFT = 54


def padded_depth(depth: int) -> int:
    """``Kp``: the tap count rounded up to a multiple of 8 (the kernels' loops take eight taps per step)."""
    return max(8, (depth + 7) // 8 * 8)


def padded_depth4(depth: int) -> int:
    """``Kp`` of the packed CONV_2D kernel: the tap count rounded up to a multiple of 4 (one SXTAB16 group)."""
    return max(4, (depth + 3) // 4 * 4)


def tap_positions(kp: int) -> np.ndarray:
    """``order[q]`` = tap read at position q: within each group of four, taps 0, 2, 1, 3."""
    q = np.arange(kp)
    return (q & ~3) | ((q & 1) << 1) | ((q >> 1) & 1)


def conv_rows_layout(filter_h: int, filter_w: int, in_c: int) -> bool:
    """Whether the packed CONV_2D kernel reads this filter in the row layout (:func:`conv_tap_positions`):
    in_c not a multiple of 4 and a filter row of ``filter_w * in_c = 4 g + 1`` bytes (the 3x3 filters of
    three channels of first layers). ``tm2_conv_row_path`` in tm2_conv_dsp.c reads it so."""
    return in_c % 4 != 0 and (filter_w * in_c) % 4 == 1


def conv_tap_positions(kp: int, filter_h: int, filter_w: int, in_c: int) -> np.ndarray:
    """``order[q]`` = tap of the packed CONV_2D column at position q, -1 for a zero position.

    Usually :func:`tap_positions`. In the row layout (:func:`conv_rows_layout`), each filter row's first 4 g
    bytes are g groups (k0, k2, k1, k3) as usual, rows one after the other, so that every group is one word
    of the input; the last byte of every row follows after all rows' groups, in row order (two rows' last
    bytes share one position pair); the rest of the Kp positions are zero."""
    if not conv_rows_layout(filter_h, filter_w, in_c):
        return tap_positions(kp)
    run = filter_w * in_c
    g4 = run - 1
    order = np.full(kp, -1, np.int64)
    grp = tap_positions(g4)
    for fy in range(filter_h):
        order[fy * g4:(fy + 1) * g4] = fy * run + grp
        order[filter_h * g4 + fy] = fy * run + g4
    return order


def _rows_in_tap_order(w2d: np.ndarray, rows: int, kp: int, order: np.ndarray | None = None) -> np.ndarray:
    """[rows, kp] int8: ``w2d`` ([n, depth]) zero-padded to ``rows`` x ``kp``, columns in position order
    (``order``: tap per position, -1 for zero; :func:`tap_positions` when None)."""
    n, depth = w2d.shape
    padded = np.zeros((rows, kp + 1), np.int8)  # column kp: zeros, read by positions -1
    padded[:n, :depth] = w2d
    return padded[:, tap_positions(kp) if order is None else order]


def _srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on Python ints (b >= 0, so no saturating case)."""
    ab = a * b
    n = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(n) >> 31
    return q if n >= 0 else -q


def _rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + int((x & mask) > (mask >> 1) + int(x < 0))


def _requantized(acc: int, m: int, shift: int, zp: int, act_min: int, act_max: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier + zero point, clamped (a left shift must not wrap: see caller)."""
    return min(max(_rdbpot(_srdhm(acc << max(shift, 0), m), max(-shift, 0)) + zp, act_min), act_max)


def constant_outputs(
    w2d: np.ndarray, bias: np.ndarray | None, mult, shift, input_offset: int, output_offset: int,
    act_min: int, act_max: int,
) -> list[int | None]:
    """Per output channel, its output when it is the same for every input (else None).

    The requantisation is non-decreasing in the sum (as long as a left shift does not wrap it), so a channel
    is constant when the clamped outputs of the smallest and the largest reachable sums (bias -/+ sum |w|
    max |x + offset|) agree: dead channels (zero weights, a bias of +-2^30 in vww), tiny or zero multipliers.
    """
    xmax = max(abs(-128 + input_offset), abs(127 + input_offset))
    spread = np.abs(w2d.astype(np.int64)).sum(axis=1) * xmax
    b = np.zeros(len(spread), np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    out: list[int | None] = []
    for c, (m, s) in enumerate(zip(np.asarray(mult).tolist(), np.asarray(shift).tolist(), strict=True)):
        lo_acc, hi_acc = int(b[c] - spread[c]), int(b[c] + spread[c])
        if max(-lo_acc, hi_acc) << max(s, 0) >= (1 << 31):
            out.append(None)
            continue
        lo = _requantized(lo_acc, m, s, output_offset, act_min, act_max)
        hi = _requantized(hi_acc, m, s, output_offset, act_min, act_max)
        out.append(lo if lo == hi else None)
    return out


def highmul_records(
    mult: np.ndarray, shift: np.ndarray, output_offset: int, bound: np.ndarray, constants: list[int | None]
) -> tuple[np.ndarray, int]:
    """(int64 ``[n][3]`` records, mode) for a kernel whose sums are doubled (``acc2 = 2 acc``).

    ``RQ_HIGHMUL`` records ``(m, hz, e)`` with ``hz = 2^(e-1) + zp 2^e`` when every channel meets the
    conditions derived in ``firmware/kernels/tm2_requant.h`` (m > 2^30, 1 <= e <= 31, ``|v| + |hz| + 1 <
    2^31`` for every reachable sum; ``bound`` bounds |acc| per channel, see :func:`acc_bound`), or is
    constant (``constants[c]`` = its output k; its sum is 0, record ``(0, 2k, 1)``); otherwise ``RQ_DOUBLE``
    records ``(m, 0, shift)``, constant channels ``(2^30, 0, 1)`` on a sum of ``2 (k - zp)`` (see
    :func:`pack_conv_gemm`).
    """
    mult = np.asarray(mult, np.int64).reshape(-1)
    shift = np.asarray(shift, np.int64).reshape(-1)
    bounds = [int(b) for b in np.broadcast_to(bound, mult.shape)]
    zp = int(output_offset)
    recs: list[tuple[int, int, int]] = []
    for m, s, b, k in zip(mult.tolist(), shift.tolist(), bounds, constants, strict=True):
        if k is not None:
            recs.append((0, 2 * k, 1))
            continue
        e = -s
        if m > (1 << 30) and 1 <= e <= 31:
            hz = (1 << (e - 1)) + zp * (1 << e)
            v_max = (b * m + (1 << 30)) // (1 << 31) + 1
            if v_max + abs(hz) + 1 < (1 << 31):
                recs.append((m, hz, e))
                continue
        break
    if len(recs) == len(mult):
        return np.array(recs, np.int64).reshape(-1, 3), RQ_HIGHMUL
    generic = [
        (1 << 30, 0, 1) if k is not None else (m, 0, s)
        for m, s, k in zip(mult.tolist(), shift.tolist(), constants, strict=True)
    ]
    return np.array(generic, np.int64).reshape(-1, 3), RQ_DOUBLE


def shift_scales(
    recs: np.ndarray, w2d: np.ndarray, bound: np.ndarray, constants: list[int | None], e_shift: int
) -> np.ndarray | None:
    """Per channel, the exponent k = E - e by which TM2_RQ_HIGHMUL_E scales its doubled weights and bias for the
    layer-wide shift ``e_shift`` (0 for constant channels), or None when a channel fails a check of
    ``firmware/kernels/tm2_requant.h``: k >= 1, every 2^(k+1) w within int16, 2^(k+1) bound < 2^31 (``bound``: the
    |acc| bounds of :func:`acc_bound`, which also bound the partial sums), hz' and SMMLA's result within int32 for
    the sums -2^(k+1) bound and 2^(k+1) bound (it is non-decreasing in the sum). ``recs``: the layer's
    TM2_RQ_HIGHMUL records (:func:`highmul_records`)."""
    ks = np.zeros(len(recs), np.int64)
    for c, (m, hz, e) in enumerate(recs.tolist()):
        if constants[c] is not None:
            continue
        k = e_shift - e
        if k < 1:
            return None
        w = w2d[c] << (k + 1)
        b = int(bound[c]) << (k + 1)
        if w.size and (int(w.max()) > 0x7FFF or int(w.min()) < -0x8000) or b >= (1 << 31):
            return None
        hz2 = (hz << k) + (1 << (k - 1))
        low, high = hz2 + (-b * m >> 32), hz2 + (b * m >> 32)  # SMMLA of the sums -b and b
        if not (-(1 << 31) <= min(hz2, low) and max(hz2, high) < (1 << 31)):
            return None
        ks[c] = k
    return ks


def shift_records(
    recs: np.ndarray, w2d: np.ndarray, bound: np.ndarray, constants: list[int | None], preferred: int
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(records (m, hz', E), per-channel scales k, E) of TM2_RQ_HIGHMUL_E for the first E of :data:`RQ_SHIFTS`
    nearest ``preferred`` that passes :func:`shift_scales`, or None when none does. Constant channels (output
    k_out: zero weights and bias) get (0, k_out 2^E, E)."""
    for e_shift in sorted(RQ_SHIFTS, key=lambda v: (abs(v - preferred), v)):
        ks = shift_scales(recs, w2d, bound, constants, e_shift)
        if ks is None:
            continue
        out = []
        for (m, hz, _), k, kc in zip(recs.tolist(), ks.tolist(), constants, strict=True):
            out.append((0, kc << e_shift, e_shift) if kc is not None else (m, (hz << k) + (1 << (k - 1)), e_shift))
        return np.array(out, np.int64).reshape(-1, 3), ks, e_shift
    return None


def pack_conv_gemm(
    filt: np.ndarray, bias: np.ndarray | None, mult, shift, input_offset: int, output_offset: int,
    act_min: int = -128, act_max: int = 127, rq_shift: int | None = RQ_SHIFT_PREFERRED,
) -> tuple[np.ndarray, int, int] | None:
    """CONV_2D filter ``[out_c, kh, kw, in_c]`` -> (packed int32 stream, Kp, requantisation mode), or None
    when a doubled sum could leave int32 (then the reference kernel runs the layer).

    Per channel pair (``tm2_conv_dsp.h``): the doubled biases, per position pair the int16 pairs of the
    doubled weights of channel c then c+1, then the two channels' requantisation records. Constant channels
    (:func:`constant_outputs`) get zero weights and a bias that their record turns into their output.
    With an output offset of -128 and the full int8 range, TM2_RQ_HIGHMUL records become TM2_RQ_HIGHMUL_E
    (:func:`shift_records`, the E of :data:`RQ_SHIFTS` nearest ``rq_shift``; weights and bias of channel c scaled
    by 2^k[c] more) where the checks pass; ``rq_shift`` None keeps TM2_RQ_HIGHMUL.
    """
    out_c = filt.shape[0]
    w2d = filt.reshape(out_c, -1).astype(np.int64)
    b = np.zeros(out_c, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1).copy()
    constants = constant_outputs(w2d, b, mult, shift, input_offset, output_offset, act_min, act_max)
    const = np.array([k is not None for k in constants], bool)
    w2d = np.where(const[:, None], 0, w2d)
    b[const] = 0
    bound = acc_bound(w2d, b, input_offset)
    if 2 * int(bound.max(initial=0)) >= (1 << 31):
        return None
    recs, mode = highmul_records(mult, shift, output_offset, bound, constants)
    if mode == RQ_DOUBLE:
        for c in np.flatnonzero(const):
            b[c] = int(constants[c]) - int(output_offset)
    scale = np.ones(out_c, np.int64)  # per channel 2^k: the TM2_RQ_HIGHMUL_E scales
    pad_rec = [0, 0, 1]
    if mode == RQ_HIGHMUL and rq_shift is not None and output_offset == -128 and (act_min, act_max) == (-128, 127):
        shifted = shift_records(recs, w2d, bound, constants, rq_shift)
        if shifted is not None:
            recs, ks, e_shift = shifted
            scale = np.left_shift(1, ks)
            mode, pad_rec = RQ_HIGHMUL_E, [0, 0, e_shift]
    kp = padded_depth4(w2d.shape[1])
    pairs = (out_c + 1) // 2
    recs = np.concatenate([recs, np.array([pad_rec] * (2 * pairs - out_c), np.int64).reshape(-1, 3)])
    order = conv_tap_positions(kp, *filt.shape[1:])
    rows = _rows_in_tap_order(w2d.astype(np.int8), 2 * pairs, kp, order).astype(np.int64) * 2  # [2 pairs, kp]
    rows[:out_c] *= scale[:, None]
    halves = rows.reshape(pairs, 2, kp // 2, 2)  # [pair][channel of pair][position pair][lo/hi]
    words = (halves[..., 0] & 0xFFFF) | ((halves[..., 1] & 0xFFFF) << 16)  # [pair][channel][j]
    words = words.transpose(0, 2, 1).reshape(pairs, kp)  # [pair][j][channel]
    b2 = np.zeros(2 * pairs, np.int64)
    b2[:out_c] = 2 * b * scale
    stream = np.concatenate([b2.reshape(pairs, 2), words, recs.reshape(pairs, 6)], axis=1)
    return (stream & 0xFFFFFFFF).astype(np.uint32).view(np.int32).reshape(-1), kp, mode


def pack_fc_weights(filt: np.ndarray) -> tuple[np.ndarray, int]:
    """FULLY_CONNECTED filter ``[out, depth]`` -> (packed int8 bytes, Kp).

    Layout: groups of four rows; per group and position pair j, the word of rows (r, r+1) then the
    word of rows (r+2, r+3), each ``(w[r][2j], w[r+1][2j], w[r][2j+1], w[r+1][2j+1])``.
    """
    out = filt.shape[0]
    kp = padded_depth(filt.shape[1])
    groups = (out + 3) // 4
    rows = _rows_in_tap_order(filt.astype(np.int8), 4 * groups, kp)  # [4g, kp]
    # [group][row pair h][row in pair][position pair j][a/b] -> [group][j][h][a/b][row in pair]
    packed = rows.reshape(groups, 2, 2, kp // 2, 2).transpose(0, 3, 1, 4, 2)
    return np.ascontiguousarray(packed).reshape(-1), kp


def pack_dw3x3_weights(filt: np.ndarray) -> np.ndarray:
    """DEPTHWISE 3x3 filter ``[1, 3, 3, C]`` -> int32 words ``[C][6]``.

    Per channel and filter row (w0, w1, w2): the int16 pairs (w0, w1) and (w1, w2), low half first.
    """
    w = filt.reshape(3, 3, -1).astype(np.int64)  # [fy][fx][c]
    lo = np.stack([w[:, 0, :], w[:, 1, :]], axis=1)  # pair (w0, w1) and (w1, w2): low halves
    hi = np.stack([w[:, 1, :], w[:, 2, :]], axis=1)
    words = (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)  # [fy][pair][c]
    words = words.transpose(2, 0, 1).reshape(-1)  # [c][fy][pair]
    return words.astype(np.uint32).view(np.int32)


DW_S2_RECORD_WORDS = 38  # TM2_DWS2_REC_WORDS (firmware/kernels/tm2_dw_s2_dsp.h)


def dw3x3_s2_variants(
    in_c: int, in_w: int, out_w: int, pad_w: int, stride: int, mode: int, act_min: int, act_max: int
) -> list[int]:
    """The column shifts v (-1, 0, +1, in that order) whose records ``tm2_depthwise3x3_s8_s2`` reads, [] where
    the kernel does not take the layer: TM2_DW_S2_APPLIES of ``tm2_dw_s2_dsp.h`` (stride 2, channels a multiple
    of four, RQ_HIGHMUL, full int8 range, at least three input columns, at most one padding column a pixel
    reads on either side). v = +1: a left edge pixel (pad_w 1); 0: the interior pixels; -1: a right edge."""
    if not (stride == 2 and in_c % 4 == 0 and mode == RQ_HIGHMUL and (act_min, act_max) == (-128, 127)
            and in_w >= 3 and pad_w <= 1 and 2 * out_w - pad_w <= in_w):
        return []
    ox0 = min(pad_w, out_w)
    ox1 = max(ox0, min(out_w, (in_w - 3 + pad_w) // 2 + 1))
    return [v for v, need in ((-1, ox1 < out_w), (0, ox1 > ox0), (1, ox0 > 0)) if need]


def dw3x3_s2_scales(
    w2d: np.ndarray, bias: np.ndarray, table: np.ndarray, input_offset: int, shifts: tuple[int, ...] = DW_S2_RQ_SHIFTS
) -> tuple[np.ndarray, int] | None:
    """(per-channel scales k, E) of TM2_RQ_HIGHMUL_E for the records of ``tm2_depthwise3x3_s8_s2`` (the first E of
    ``shifts`` nearest RQ_SHIFT_PREFERRED that passes :func:`shift_scales`), or None. ``table``: the
    layer's TM2_RQ_HIGHMUL entries (m, hz, -, e) of :func:`dw3x3_requant` (m = 0: a constant channel, k 0). The
    kernel's sums start from the bias with the input offset folded in and add the raw inputs (|x| <= 128), so
    every partial sum, and the sum of a record with a filter row left out, is bounded by |bias| + (|off| + 128)
    sum |w|: the bound the checks use."""
    bound = np.abs(bias) + (abs(int(input_offset)) + 128) * np.abs(w2d).sum(axis=1)
    recs = np.stack([table[:, 0], table[:, 1], table[:, 3]], axis=1)
    constants: list[int | None] = [0 if m == 0 else None for m in table[:, 0].tolist()]
    for e_shift in sorted(shifts, key=lambda v: (abs(v - RQ_SHIFT_PREFERRED), v)):
        ks = shift_scales(recs, w2d, bound, constants, e_shift)
        if ks is not None:
            return ks, e_shift
    return None


def dw3x3_s2_records(
    filt: np.ndarray, bias: np.ndarray | None, rq: np.ndarray, input_offset: int, variants: list[int],
    low: bool = False, shifts: tuple[int, ...] = DW_S2_RQ_SHIFTS,
) -> np.ndarray:
    """The records of ``tm2_depthwise3x3_s8_s2`` (int32, appended to the packed weights): per channel quad,
    one record of DW_S2_RECORD_WORDS words per shift v of ``variants``. A record for v reads the three input
    columns v to the right of the pixel's own, tap t with weight t + v (0 outside the filter), every filter
    row inside the input: the four biases with the input offset folded in (bias + off * sum of the record's
    weights), doubled; the doubled int16 pairs (tap 0, tap 1) of the four channels for filter rows 0 and 1, then
    (row 0, row 1) of their taps 2, then the pairs of row 2 and its taps 2 as (channel 0, channel 2) and
    (channel 1, channel 3); then (m, hz, e) per channel; then the four biases of an output row whose filter row 2
    lies in the padding (the input offset folded in over rows 0 and 1 only), doubled.

    With output offset -128 (``low``) and an E of ``shifts`` (:data:`DW_S2_RQ_SHIFTS`; RQ_SHIFTS where
    :func:`dw3x3_s2_whole`) that passes :func:`dw3x3_s2_scales`,
    TM2_RQ_HIGHMUL_E instead: channel c's doubled weights and bias scaled by 2^k[c] and (m, hz', -E) per channel
    (the negative third word tells the kernel the form; constant channels (0, k_out 2^E, -E))."""
    if not variants:
        return np.zeros(0, np.int32)
    w = filt.reshape(3, 3, -1).astype(np.int64)  # [fy][fx][c]
    channels = w.shape[2]
    b = np.zeros(channels, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    table = np.asarray(rq, np.int64).reshape(channels, 4)
    scaled = dw3x3_s2_scales(w.reshape(9, channels).T, b, table, input_offset, shifts) if low else None
    if scaled is not None:
        ks, e_shift = scaled
        w = w << ks
        b = b << ks
        rec_e = table.copy()
        for c, k in enumerate(ks.tolist()):
            m, hz = int(table[c, 0]), int(table[c, 1])
            # constant channels (m = 0, hz = 2 k_out + 1): the output k_out whatever the sum
            hz_e = (hz >> 1) << e_shift if m == 0 else (hz << k) + (1 << (k - 1))
            rec_e[c] = (m, hz_e, 0, -e_shift)
        table = rec_e
    out = []
    for c0 in range(0, channels, 4):
        for v in variants:
            taps = np.zeros((3, 3, 4), np.int64)  # [fy][t][j]
            for t in range(3):
                if 0 <= t + v <= 2:
                    taps[:, t, :] = w[:, t + v, c0 : c0 + 4]
            rec = [(b[c0 + j] + input_offset * int(taps[:, :, j].sum())) * 2 for j in range(4)]
            d = (2 * taps) & 0xFFFF
            for fy in range(2):
                rec += [int(d[fy, 0, j] | d[fy, 1, j] << 16) for j in range(4)]
            rec += [int(d[0, 2, j] | d[1, 2, j] << 16) for j in range(4)]  # tap 2 of rows 0 and 1
            rec += [int(d[2, 0, j] | d[2, 1, j] << 16) for j in range(4)]
            rec += [int(d[2, 2, 0] | d[2, 2, 2] << 16), int(d[2, 2, 1] | d[2, 2, 3] << 16)]
            for j in range(4):
                rec += [int(table[c0 + j, 0]), int(table[c0 + j, 1]), int(table[c0 + j, 3])]
            rec += [(b[c0 + j] + input_offset * int(taps[:2, :, j].sum())) * 2 for j in range(4)]
            out += rec
    return (np.array(out, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def dw3x3_s2_spec(params: dict[str, Any], records: np.ndarray) -> dict[str, Any] | None:
    """The constants of the specialised run of ``tm2_depthwise3x3_s8_s2`` (TM2_DWS2_SPEC in tm2_dw_s2_dsp.h) for a
    layer, or None where it would not run: the kernel takes the layer with records of TM2_RQ_HIGHMUL_E (``records``
    of :func:`dw3x3_s2_records`: its form in the third requantisation word of the first record) or TM2_RQ_HIGHMUL
    with output offset -128, and interior pixels (shift 0), and the load of a pixel's last input word (filter row 2,
    column 2 ox + 2: 2 row + 2 ch bytes on) stays within the 12-bit immediate. rq: the form ("E" or "LOW"); e: its
    shift E (0 for LOW); ch: channels; row: bytes of an input row (in_w * ch); edge: 1 where the layer has a right
    edge pixel (shift -1), which the runs take after the interior ones; n: the interior pixels; recs: the records a
    quad (n and the edge in the runs' immediates, within 12 bits: (2 n + 1) ch <= row + ch); whole: 1 where the runs take every row
    (:func:`dw3x3_s2_whole`: the generated code calls ``tm2_depthwise3x3_s8_s2_whole``); name: the C name
    (dw3x3_s2_spec_name)."""
    ch, row = params["in_c"], params["in_w"] * params["in_c"]
    variants = dw3x3_s2_variants(
        ch, params["in_w"], params["out_w"], params["pad_w"], params["stride_w"], RQ_HIGHMUL, params["act_min"],
        params["act_max"],
    )
    if records.size == 0 or 0 not in variants or 2 * row + 2 * ch > 4095:
        return None
    rq = "E" if records[24] < 0 else "LOW" if params["output_offset"] == -128 else None
    if rq is None:
        return None
    ox0 = min(params["pad_w"], params["out_w"])
    ox1 = max(ox0, min(params["out_w"], (params["in_w"] - 3 + params["pad_w"]) // 2 + 1))
    spec = {"rq": rq, "e": -int(records[24]) if rq == "E" else 0, "ch": ch, "row": row, "edge": int(-1 in variants),
            "n": ox1 - ox0, "recs": len(variants)}
    return {**spec, "whole": int(dw3x3_s2_whole(params)), "name": dw3x3_s2_spec_name(spec)}


def dw3x3_s2_whole(params: dict[str, Any]) -> bool:
    """Whether a layer whose records the stride-2 kernel takes with output offset -128 has specialised runs
    (:func:`dw3x3_s2_spec`: interior pixels, a pixel's last input word within the 12-bit immediate) that take every
    row: no padding row or column before the input (pad_h = pad_w = 0: no left edge pixel, every output row's filter
    rows 0 and 1 inside the input). Its records may then take any shift of RQ_SHIFTS, which only those runs have."""
    ch, row = params["in_c"], params["in_w"] * params["in_c"]
    variants = dw3x3_s2_variants(
        ch, params["in_w"], params["out_w"], params["pad_w"], params["stride_w"], RQ_HIGHMUL, params["act_min"],
        params["act_max"],
    )
    return (params["pad_h"] == 0 and params["pad_w"] == 0 and params["output_offset"] == -128 and 0 in variants
            and 2 * row + 2 * ch <= 4095)


def dw3x3_s2_spec_name(spec: dict[str, Any]) -> str:
    """The C name of the runs of :func:`dw3x3_s2_spec` ``spec`` (one per distinct form, shift, shape and edge)."""
    rq = f"e{spec['e']}" if spec["rq"] == "E" else "low"
    return f"tm2_dws2_{rq}_c{spec['ch']}_r{spec['row']}" + ("_x" if spec["edge"] else "") + f"_n{spec['n']}"


def dw3x3_row_len(in_w: int, out_w: int, stride: int, pad_w: int) -> int:
    """int16 elements of one transposed row: the input with its left padding, and every tap the
    4-wide output groups read (stride 1: 4 * groups + 2; stride 2: 8 * groups + 2), rounded up to even."""
    groups = (out_w + 3) // 4
    needed = 4 * groups + 2 if stride == 1 else 8 * groups + 2
    n = max(in_w + pad_w, needed)
    return n + (n & 1)


def dw3x3_scratch_bytes(channels: int, row_len: int) -> int:
    """TM2_DW3X3_SCRATCH: four slots (a ring of three transposed rows and one of zeros) of one channel quad
    (min(4, channels) int16 rows)."""
    return 2 * 4 * min(4, channels) * row_len


def dw3x3_planes_geometry(params: dict[str, Any]) -> tuple[int, int]:
    """(plane_len, plane_cols) of ``tm2_depthwise3x3_s8_planes``: a plane column is a transposed row along the
    height (dw3x3_row_len of in_h, out_h, pad_h); the columns cover the input with its left padding and every
    column the output columns read ((out_w - 1) * stride + 3)."""
    s = params["stride_h"]
    plane_len = dw3x3_row_len(params["in_h"], params["out_h"], s, params["pad_h"])
    plane_cols = max(params["in_w"] + params["pad_w"], (params["out_w"] - 1) * s + 3)
    return plane_len, plane_cols


PLANES_MIN_H = 5  # output rows from which stride-1 layers run the whole-plane kernel in place (ops/inplace.py)


def dw3x3_planes_offer(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Out of place, strided layers and layers of fewer than PLANES_MIN_H output rows (the others take the
    whole-plane kernel in place) run faster on whole planes four channels a time than on the packed kernel's
    rows of quads, with more scratch: the lowering offers that as ``params["wider"]`` (overrides, the scratch
    included), and the memory plan takes it where the arena does not grow. [] where it does not apply."""
    c = params["in_c"]
    if c % 4 or params.get("batches", 1) != 1 or (params["stride_h"] == 1 and params["out_h"] >= PLANES_MIN_H):
        return []
    plane_len, plane_cols = dw3x3_planes_geometry(params)
    return [{
        "dw_planes": 1, "plane_len": plane_len, "plane_cols": plane_cols, "plane_ch": 4,
        "scratch_bytes": dw3x3_planes_scratch_bytes(4, plane_len, plane_cols),
    }]


def dw3x3_small3(params: dict[str, Any], mode: int) -> bool:
    """Whether ``tm2_dw3x3_s8_small3`` takes a layer on whole planes (TM2_DW3S_APPLIES in tm2_dw_dsp.c: 3 x 3 maps in
    and out, stride 1, padding 1, TM2_RQ_HIGHMUL of output offset -128, the full int8 range; its output is on its
    input, in place, or a tensor of its own): the generated code calls ``tm2_depthwise3x3_s8_planes_small3``, which
    links none of the planes' loops (vww's 3 x 3 x 256 layer)."""
    return (
        (params["in_h"], params["in_w"], params["out_h"], params["out_w"]) == (3, 3, 3, 3)
        and params["stride_h"] == 1 and params["pad_h"] == 1 and params["pad_w"] == 1 and mode == RQ_HIGHMUL
        and params["output_offset"] == -128 and (params["act_min"], params["act_max"]) == (-128, 127)
    )


# Outputs of a channel up to which the specialised plane loop unrolls its columns (about 6 bytes of code an output):
# kws' 25 x 5 and vww's 12 x 12 and 6 x 6 layers
DW_SPEC_UNROLL = 150


def _thumb_add_imm(v: int) -> bool:
    """Whether ADD Rd, Rn, #v encodes in Thumb-2: a 12-bit immediate (ADDW) or eight bits shifted left (the
    modified immediates that cover the values above 4095 here)."""
    return 0 <= v <= 4095 or (v > 0 and v >> ((v & -v).bit_length() - 1) < 256)


def dw3x3_plane_spec(params: dict[str, Any], rq: np.ndarray, mode: int) -> dict[str, Any] | None:
    """The constants of the specialised six-output column loop of ``tm2_depthwise3x3_s8_planes``
    (TM2_DW_PLANE_SPEC in tm2_dw_plane6.h) for a layer on whole planes, or None where the kernel would not take
    the six-output loop (tm2_dw_plane_cols6: stride 1, TM2_RQ_HIGHMUL, output offset -128, the full int8 range,
    columns of 6k or 6k + 1 outputs) or an offset of the loop leaves its immediate range: the LDRD of a group's
    last taps (2 rl2 + 12 (k - 1) + 8 <= 1020 for k groups), the STRB of its sixth output (5 chm <= 4095) and
    the ADD moving o on a group (6 chm). e: the shift E of the entries' third word (0: none); chm: out_w * channels;
    rl2: 2 plane_len; rows: out_h; cols: out_w where the loop unrolls the columns of a channel too (at most
    DW_SPEC_UNROLL outputs a channel, the last column's LDRD (out_w - 1) rl2 further within range, the step from
    one column's last output to the next one's first an ADD / SUB immediate), else 0 (a loop over the columns);
    in_h, head, row, ch, ps: the transpose's (in_h 0: none); whole: the channels a call (plane_ch) for which the
    descriptor covers the layer whole, every group through its column loop and its transpose (the kernel's checks
    in tm2_dw_spec_parts, tm2_dw_dsp.c: a pair, or a quad of channels a multiple of four whose planes 1 and 3 are a
    store offset away, TM2_DW6T_QUAD_FITS; channels a multiple of plane_ch; an int8 padding byte) or, one channel
    a call, the plain one-channel transpose (any layer the loop takes), so that the
    model calls ``tm2_depthwise3x3_s8_planes_whole`` and links no generic loop; name: the descriptor's C name
    without the channels a call (the template appends ``_g<plane_ch>``), every constant in it."""
    rows = params["out_h"]
    if (
        params["stride_h"] != 1 or mode != RQ_HIGHMUL or params["output_offset"] != -128
        or (params["act_min"], params["act_max"]) != (-128, 127) or rows < 6 or rows % 6 > 1
    ):
        return None
    chm = params["out_w"] * params["in_c"]
    plane_len, plane_cols = dw3x3_planes_geometry(params)
    rl2 = 2 * plane_len
    if 2 * rl2 + 12 * (rows // 6 - 1) + 8 > 1020 or 5 * chm > 4095 or not _thumb_add_imm(6 * chm):
        return None
    e = int(np.asarray(rq).reshape(-1, 4)[0, 2])
    out_w, groups = params["out_w"], rows // 6
    unroll = (
        out_w * rows <= DW_SPEC_UNROLL
        and (out_w + 1) * rl2 + 12 * (groups - 1) + 8 <= 1020
        and _thumb_add_imm(abs(params["in_c"] - 6 * groups * chm))
    )
    cols = out_w if unroll else 0
    # the transpose's constants (in_h 0: none): a run's rows (at least six) within a load offset (the stores: see
    # TM2_DW6T_DEFINE)
    head, row, ps = params["pad_h"] & 1, params["in_w"] * params["in_c"], 2 * plane_cols * plane_len
    in_h = params["in_h"] if 5 * row <= 4095 else 0
    ch, off = params["in_c"], params["input_offset"]
    quad_fits = ps + 4 * (head + (in_h - head + 1) // 2 - 1) <= 4095
    whole = [1] + ([] if in_h == 0 or not -127 <= off <= 128 else [
        g for g in (2, 4) if ch % g == 0 and (g == 2 or quad_fits)
    ])
    return {
        "e": e, "chm": chm, "rl2": rl2, "rows": rows, "cols": cols,
        "in_h": in_h, "head": head, "row": row, "ch": ch, "ps": ps, "whole": whole,
        "name": f"tm2_dw6_e{e}_c{chm}_r{rl2}_h{rows}_w{cols}_i{in_h}_{head}_{row}_{ch}_{ps}",
    }


def dw3x3_4x4(params: dict[str, Any], mode: int) -> bool:
    """Whether ``tm2_depthwise3x3_s8_4x4`` (tm2_dw_dsp.c) takes the layer in the DSP build: 4 x 4 maps in and out,
    stride 1, padding 1, TM2_RQ_HIGHMUL of output offset -128 and the full int8 range (the demo students' last
    depthwise layers, which the planes kernel would run on its generic loops)."""
    return (
        params["stride_h"] == 1 and params["in_h"] == params["in_w"] == params["out_h"] == params["out_w"] == 4
        and params["pad_h"] == params["pad_w"] == 1 and mode == RQ_HIGHMUL and params["output_offset"] == -128
        and (params["act_min"], params["act_max"]) == (-128, 127)
    )


def dw3x3_plane_records(filt: np.ndarray, bias: np.ndarray | None, rq: np.ndarray) -> np.ndarray:
    """The channel records of TM2_DW_PLANE_SPEC_REC's column loop (tm2_dw_plane6.h), int32 ``[C][9]`` (E > 0) or
    ``[C][10]`` (E 0): the words the loop's set-up (TM2_DW6S_SETUP, tm2_dw6_channel) computes from the packed
    weights, bias and TM2_RQ_HIGHMUL entries (m, hz, E, e) of :func:`dw3x3_requant`, computed here once: the
    filter transposed per column x, (w0x, w1x) and (w1x, w2x), each weight times 2^sc (sc = E + 1 - e; E 0: 1, the
    doubling) in its int16 lane, in the order t0, t1, t4, t5 (w0, w1, w4, w5); bs = bias 2^sc; m; hs = hz 2^(sc-1)
    + 2^(sc-2) (E 0: hz); t2, t3 (w2, w3); and with E 0, e."""
    w = filt.reshape(3, 3, -1).astype(np.int64)  # [fy][fx][c]
    table = np.asarray(rq).reshape(-1, 4).astype(np.int64)
    shift = int(table[0, 2])
    out = []
    for c in range(w.shape[2]):
        m, hz, _, e = (int(v) for v in table[c])
        sc = shift + 1 - e if shift else 1
        ws = (w[:, :, c] << sc) & 0xFFFF  # [fy][fx], int16 bit patterns

        def pair(lo: int, hi: int) -> int:
            return int(lo) | int(hi) << 16

        t = [pair(ws[0, x], ws[1, x]) if k == 0 else pair(ws[1, x], ws[2, x]) for x in range(3) for k in (0, 1)]
        b = 0 if bias is None else int(np.asarray(bias).reshape(-1)[c])
        hs = (hz << (sc - 1)) + ((1 << sc) >> 2) if shift else hz
        out.append([t[0], t[1], t[4], t[5], b << sc, m, hs, t[2], t[3]] + ([] if shift else [e]))
    return (np.array(out, np.int64).reshape(-1) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def dw3x3_planes_scratch_bytes(plane_ch: int, plane_len: int, plane_cols: int) -> int:
    """TM2_DW3X3_PLANES_SCRATCH: plane_ch int16 channel planes."""
    return 2 * plane_ch * plane_cols * plane_len


def dw3x3_requant(
    filt: np.ndarray, bias: np.ndarray | None, mult, shift, input_offset: int, output_offset: int,
    act_min: int = -128, act_max: int = 127,
) -> tuple[np.ndarray, int]:
    """(int32 ``[C][4]`` tm2_rq table, mode) of a 3x3 depthwise layer (filter ``[1, 3, 3, C]``).

    ``RQ_HIGHMUL`` entries ``(m, hz, 0, e)`` (``tm2_rq_highmul`` in ``tm2_requant.h``, on the kernel's
    undoubled sums) when every channel meets the conditions of :func:`highmul_records` and its doubled sums
    fit int32, or is constant (:func:`constant_outputs`: output k for every input; entry ``(0, 2k + 1, 0,
    1)``, which gives k whatever the sum); otherwise :func:`requant_table`'s modes.
    """
    channels = filt.shape[-1]
    w2d = filt.reshape(9, channels).T.astype(np.int64)
    b = None if bias is None else np.asarray(bias, np.int64).reshape(-1)
    bound = acc_bound(w2d, b, input_offset)
    constants = constant_outputs(w2d, b, mult, shift, input_offset, output_offset, act_min, act_max)
    varying = np.array([k is None for k in constants], bool)
    if 2 * int(bound[varying].max(initial=0)) < (1 << 31):
        recs, mode = highmul_records(mult, shift, output_offset, bound, constants)
        if mode == RQ_HIGHMUL:
            table = np.zeros((channels, 4), np.int64)
            for c, (m, hz, e) in enumerate(recs.tolist()):
                k = constants[c]
                table[c] = (0, 2 * k + 1, 0, 1) if k is not None else (m, hz, 0, e)
            if output_offset == -128 and (act_min, act_max) == (-128, 127):
                table[:, 2] = dw3x3_plane_shift(recs, w2d, bound, constants)
            return (table & 0xFFFFFFFF).astype(np.uint32).view(np.int32).reshape(-1), RQ_HIGHMUL
    return requant_table(mult, shift, output_offset, bound=bound)


def dw3x3_plane_shift(recs: np.ndarray, w2d: np.ndarray, bound: np.ndarray, constants: list[int | None]) -> int:
    """The layer-wide shift E with which ``tm2_dw_plane_cols6`` takes TM2_RQ_HIGHMUL_E on the fly (the third word
    of every entry of :func:`dw3x3_requant`'s TM2_RQ_HIGHMUL table; 0: the kernel keeps TM2_RQ_HIGHMUL): the first
    E of :data:`DW_PLANE_SHIFTS` nearest RQ_SHIFT_PREFERRED (one of :data:`DW_RQ_SHIFTS`) that passes
    :func:`shift_scales` (channel c's doubled weights and bias scaled by 2^(E - e[c]) in the kernel,
    hz' = 2^k hz + 2^(k-1); constant channels (m = 0) give their output whatever the scale)."""
    for e_shift in sorted(DW_PLANE_SHIFTS, key=lambda v: (abs(v - RQ_SHIFT_PREFERRED), v)):
        if shift_scales(recs, w2d, bound, constants, e_shift) is not None:
            return e_shift
    return 0


def acc_bound(w2d: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """Per output channel, a bound on |accumulator|: sum |w| * max |x + input_offset| + |bias|.

    ``w2d`` is ``[channels, taps]``; padding taps add 0, so the bound holds for every output.
    """
    xmax = max(abs(-128 + input_offset), abs(127 + input_offset))
    bound = np.abs(w2d.astype(np.int64)).sum(axis=1) * xmax
    if bias is not None:
        bound = bound + np.abs(bias.astype(np.int64).reshape(-1))
    return bound


def _constant_channel(m: int, shift: int, bound: int | None) -> bool:
    """True when the requantised value is 0 for every accumulator within ``bound`` (output = zero point).

    m = 0 gives SaturatingRoundingDoublingHighMul = 0. Otherwise |v| <= bound * m / 2^31 + 1 and
    RoundingDivideByPOT(v, e) is 0 when |v| < 2^(e-1).
    """
    if m == 0:
        return True
    e = -shift
    return bound is not None and e >= 1 and bound * m + (1 << 31) < (1 << (30 + e))


def requant_table(
    mult: np.ndarray,
    shift: np.ndarray,
    output_offset: int,
    *,
    single_rounding: bool = False,
    bound: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """(int32 ``[n][4]`` table of tm2_rq entries, mode) for per-channel ``(mult, shift)``.

    The fast mode is chosen when every channel meets its conditions (tm2_requant.h), or is a constant
    channel: with ``bound`` (per-channel |accumulator| bounds, :func:`acc_bound`) a channel whose
    requantised value is provably 0 (tiny or zero multiplier) is encoded as m = 0 and a K that yields
    the zero point. Otherwise the generic mode, whose entries are ``(mult, 0, 0, shift)``.
    """
    mult = np.asarray(mult, np.int64).reshape(-1)
    shift = np.asarray(shift, np.int64).reshape(-1)
    bounds = [None] * len(mult) if bound is None else [int(b) for b in np.broadcast_to(bound, mult.shape)]
    zp = int(output_offset)
    entries: list[tuple[int, int, int, int]] = []
    for m, s, b in zip(mult.tolist(), shift.tolist(), bounds, strict=True):
        if single_rounding:
            t = 31 - s
            if 32 <= t <= _MAX_FAST_TOTAL_SHIFT:
                k = (1 << (t - 1)) + zp * (1 << t)
                entries.append((m, k >> 32, k & 0xFFFFFFFF, t - 32))
            elif _constant_channel(m, s, b):
                entries.append((0, zp, 0, 0))  # (K + 0) >> 32 = zp
            else:
                break
        else:
            e = -s
            if m > (1 << 30) and 2 <= e <= _MAX_FAST_EXPONENT:
                k = (1 << 30) + (1 << (30 + e))  # the output offset is added after the shift
                entries.append((m, k >> 32, k & 0xFFFFFFFF, e - 1))
            elif _constant_channel(m, s, b):
                # K - 2^31 [acc < 0] = 2^32 + 2^30 - 2^31 [acc < 0]: high word 1 or 0, shifted right by 1: 0.
                entries.append((0, 1, 1 << 30, 1))
            else:
                break
    if len(entries) == len(mult):
        mode = RQ_SINGLE_FAST if single_rounding else RQ_DOUBLE_FAST
    else:
        entries = [(m, 0, 0, s) for m, s in zip(mult.tolist(), shift.tolist(), strict=True)]
        mode = RQ_SINGLE if single_rounding else RQ_DOUBLE
    table = np.array(entries, np.int64).reshape(-1, 4)
    return (table & 0xFFFFFFFF).astype(np.uint32).view(np.int32).reshape(-1), mode


# ------------------------------------------------------------------------------- lowerings


def _bias_inputs(b: Tensor | None) -> tuple[int, ...]:
    return (2,) if b is not None else ()


def _bias_values(b: Tensor | None) -> np.ndarray | None:
    return None if b is None else b.data


CONV_PATH_GENERAL, CONV_PATH_POINTWISE, CONV_PATH_FIRST3X3, CONV_PATH_ROWS4 = 0, 1, 2, 3  # TM2_CONV_PATH_* of tm2_conv_dsp.h


def _pointwise_shape(p: dict[str, Any], kp: int) -> bool:
    """1x1 filters, strides 1, no padding, in_w == out_w, in_c == Kp (a multiple of 4)."""
    return (
        p["filter_h"] == 1 and p["filter_w"] == 1 and p["stride_h"] == 1 and p["stride_w"] == 1
        and p["pad_h"] == 0 and p["pad_w"] == 0 and p["in_w"] == p["out_w"] and kp == p["in_c"]
    )


def conv_packed_path(params: dict[str, Any], kp: int, mode: int) -> int:
    """The loop of ``tm2_conv2d_s8_packed`` for a layer (the ``path`` field; conditions in tm2_conv_dsp.h):
    pointwise layers, first layers of 3x3 filters of three channels and of 10x4 filters of one channel (kws) with
    TM2_RQ_HIGHMUL or TM2_RQ_HIGHMUL_E records, the full int8 range and an even out_c have their own loops."""
    p = params
    fast = mode in (RQ_HIGHMUL, RQ_HIGHMUL_E) and p["act_min"] == -128 and p["act_max"] == 127 and p["out_c"] % 2 == 0
    if not fast:
        return CONV_PATH_GENERAL
    if _pointwise_shape(p, kp) and kp in (8, 16, 32, 64, 128):
        return CONV_PATH_POINTWISE
    if (
        p["in_c"] == 3 and p["filter_h"] == 3 and p["filter_w"] == 3 and p["dilation_h"] == 1
        and p["dilation_w"] == 1 and kp == 28 and p["out_w"] % 4 == 0
    ):
        return CONV_PATH_FIRST3X3
    if (
        p["in_c"] == 1 and p["filter_h"] == 10 and p["filter_w"] == 4 and p["dilation_h"] == 1
        and p["dilation_w"] == 1 and kp == 40
    ):
        return CONV_PATH_ROWS4
    return CONV_PATH_GENERAL


def conv_rq_shift(stream: np.ndarray, kp: int) -> int:
    """The layer-wide shift E of a TM2_RQ_HIGHMUL_E stream: the third word of its first record."""
    return int(stream[kp + 4])


# Pointwise (Kp, out_c) with a block loop of their own for TM2_RQ_HIGHMUL_E records (TM2_PW_OWN_LOOPS of
# tm2_conv_dsp.h): entries tm2_conv2d_s8_packed_pw<Kp>o<out_c>_e<E>
PW_OWN_LOOPS = ((8, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128))


def conv_packed_entry(
    path: int, kp: int, rq_shift: int = 0, blocks3: bool = False, params: dict[str, Any] | None = None
) -> str:
    """The C function the generated call names for a layer's loop (entry points of tm2_conv_dsp.h): naming the
    loop rather than the dispatcher ``tm2_conv2d_s8_packed`` lets the linker drop the loops a model does not use.
    ``rq_shift``: E of TM2_RQ_HIGHMUL_E records (entry suffix ``_e<E>``), 0 for the other modes. ``blocks3``
    (:func:`conv_blocks3`): the loop in blocks of three pixels, ``_pw<Kp>x3_e<E>``. With the layer's ``params``, a
    first layer of TM2_RQ_HIGHMUL_E records, stride_w 2 and out_c 8 gets ``first3x3s2o8`` (the FPU-register form,
    an entry only such models link); a pointwise layer of TM2_RQ_HIGHMUL_E records whose (Kp, out_c) has a loop of
    its own (PW_OWN_LOOPS) gets ``pw<Kp>o<out_c>`` (that loop alone, out_c a constant: the entry links none of the
    other shapes' loops of its Kp and traps on another out_c), Kp 128 into out_c 128 of TM2_RQ_HIGHMUL records and
    output offset -128 ``pw128o128`` (likewise); the other first layers of TM2_RQ_HIGHMUL_E records into out_c 8 or
    16 ``first3x3o<out_c>`` (likewise); a general layer of other records and an output offset other than -128
    ``general_signed`` (the general loop without the loops of output offset -128). A rows4 layer of TM2_RQ_HIGHMUL_E records gets ``rows4`` only where the
    rows4 loop takes it (:func:`rows4_fast`: that entry links no general loop and traps on any other layer), the
    general loop otherwise."""
    suffix = f"_e{rq_shift}" if rq_shift else ""
    if blocks3 and rq_shift:
        return f"tm2_conv2d_s8_packed_pw{kp}x3{suffix}"
    if path == CONV_PATH_POINTWISE:
        if rq_shift and params is not None and (kp, params["out_c"]) in PW_OWN_LOOPS:
            return f"tm2_conv2d_s8_packed_pw{kp}o{params['out_c']}{suffix}"
        if (
            not rq_shift and params is not None and (kp, params["out_c"]) == (128, 128)
            and params["output_offset"] == -128
        ):
            return "tm2_conv2d_s8_packed_pw128o128"
        return f"tm2_conv2d_s8_packed_pw{kp}{suffix}"
    if path == CONV_PATH_FIRST3X3:
        if rq_shift and params is not None and params["out_c"] == 8 and params["stride_w"] == 2:
            return f"tm2_conv2d_s8_packed_first3x3s2o8{suffix}"
        if rq_shift and params is not None and params["out_c"] in (8, 16):
            return f"tm2_conv2d_s8_packed_first3x3o{params['out_c']}{suffix}"
        return f"tm2_conv2d_s8_packed_first3x3{suffix}"
    if path == CONV_PATH_ROWS4 and (not rq_shift or (params is not None and rows4_fast(params))):
        return f"tm2_conv2d_s8_packed_rows4{suffix}"
    if path == CONV_PATH_GENERAL and not rq_shift and params is not None and params["output_offset"] != -128:
        return "tm2_conv2d_s8_packed_general_signed"
    return f"tm2_conv2d_s8_packed_general{suffix}"


def rows4_fast(params: dict[str, Any]) -> bool:
    """Whether the rows4 loop (tm2_conv_rows4_fast, TM2_CONV_ROWS4_FAST of tm2_conv_dsp.c) takes a layer of
    CONV_PATH_ROWS4 with TM2_RQ_HIGHMUL_E records: 64 output channels and at least four pixels."""
    return params["out_c"] == 64 and params["out_h"] * params["out_w"] >= 4


def conv_blocks3(params: dict[str, Any], kp: int, mode: int) -> bool:
    """Whether a layer runs in blocks of three pixels (``tm2_conv2d_s8_packed_pw<Kp>x3_e<E>``; the dispatcher's
    tm2_conv_pw3_layer): pointwise of Kp 128 or 256 with out_c 256, TM2_RQ_HIGHMUL_E records and the full int8 range
    over a pixel count that is a multiple of three and not of four (vww's 3 x 3 128 -> 256 and 256 -> 256 layers),
    where blocks of four would leave one or two pixels to the slower one-pixel loop."""
    p = params
    pixels = p["batches"] * p["out_h"] * p["out_w"]
    return (
        mode == RQ_HIGHMUL_E and _pointwise_shape(p, kp) and kp in (128, 256) and p["out_c"] == 256
        and (p["act_min"], p["act_max"]) == (-128, 127) and pixels % 3 == 0 and pixels % 4 != 0
    )


def lower_conv_packed(params: dict[str, Any], w: Tensor, b: Tensor | None, mult, shift) -> Lowered | None:
    """CONV_2D (int8, not grouped) -> ``tm2_conv2d_s8_packed``: one packed stream (doubled int16 weights, bias,
    requantisation records) and the column scratch; None when the sums could overflow (see pack_conv_gemm)."""
    assert w.data is not None
    packed = pack_conv_gemm(
        w.data, _bias_values(b), mult, shift, params["input_offset"], params["output_offset"],
        params["act_min"], params["act_max"],
    )
    if packed is None:
        return None
    stream, kp, mode = packed
    path = conv_packed_path(params, kp, mode)
    entry = conv_packed_entry(
        path, kp, conv_rq_shift(stream, kp) if mode == RQ_HIGHMUL_E else 0, conv_blocks3(params, kp, mode), params
    )
    return Lowered(
        template="ops/conv2d_packed.j2",
        params={**params, "depth_padded": kp, "rq_mode": mode, "path": path, "entry": entry},
        consts=[ConstArray("packed", "int32_t", stream, weights=True)],
        scratch_bytes=(12 if params["in_c"] % 4 else 8) * kp,  # TM2_CONV_PACKED_SCRATCH
    )


def dw3x3_applies(params: dict[str, Any], w: Tensor) -> bool:
    """The 3x3 depthwise kernel covers depth multiplier 1, dilation 1 and equal strides of 1 or 2."""
    return (
        PACKED
        and w.dtype is DType.INT8
        and params["depth_multiplier"] == 1
        and params["filter_h"] == 3
        and params["filter_w"] == 3
        and params["dilation_h"] == 1
        and params["dilation_w"] == 1
        and params["stride_h"] == params["stride_w"]
        and params["stride_h"] in (1, 2)
    )


def lower_dw3x3_packed(params: dict[str, Any], w: Tensor, b: Tensor | None, mult, shift) -> Lowered:
    """DEPTHWISE_CONV_2D 3x3 -> ``tm2_depthwise3x3_s8_packed`` (see :func:`dw3x3_applies`)."""
    assert w.data is not None
    row_len = dw3x3_row_len(params["in_w"], params["out_w"], params["stride_w"], params["pad_w"])
    rq, mode = dw3x3_requant(
        w.data, _bias_values(b), mult, shift, params["input_offset"], params["output_offset"],
        params["act_min"], params["act_max"],
    )
    # the records of the stride-2 kernel (tm2_dw_s2_dsp.c) after the packed weights, where it takes the layer
    variants = dw3x3_s2_variants(
        params["in_c"], params["in_w"], params["out_w"], params["pad_w"], params["stride_w"], mode,
        params["act_min"], params["act_max"],
    )
    s2_records = dw3x3_s2_records(
        w.data, _bias_values(b), rq, params["input_offset"], variants, low=params["output_offset"] == -128,
        shifts=RQ_SHIFTS if dw3x3_s2_whole(params) else DW_S2_RQ_SHIFTS,
    )
    plane_spec = dw3x3_plane_spec(params, rq, mode)
    # the records of the specialised loop on records (TM2_DW_PLANE_SPEC_REC), which the generated code passes instead
    # of the weights, bias and rq where the descriptor covers the layer whole and the board has an FPU: a build
    # links one form or the other
    records = [] if plane_spec is None else [
        ConstArray("dw6rec", "int32_t", dw3x3_plane_records(w.data, _bias_values(b), rq), weights=True)
    ]
    return Lowered(
        template="ops/depthwise3x3_packed.j2",
        params={
            **params, "row_len": row_len, "rq_mode": mode, "wider": dw3x3_planes_offer(params),
            "plane_spec": plane_spec,
            "s2_spec": dw3x3_s2_spec(params, s2_records),
            "dw_small3": int(dw3x3_small3(params, mode)), "dw4x4": dw3x3_4x4(params, mode),
        },
        const_inputs=_bias_inputs(b),
        consts=[
            ConstArray("weights", "int32_t", np.concatenate([pack_dw3x3_weights(w.data), s2_records]), weights=True),
            ConstArray("rq", "int32_t", rq),
            *records,
        ],
        scratch_bytes=dw3x3_scratch_bytes(params["in_c"], row_len),
    )


def fc_packed_entry(params: dict[str, Any], mode: int) -> str:
    """The C function the generated call names for a FULLY_CONNECTED layer (tm2_fc_dsp.h): records of
    TM2_RQ_SINGLE_FAST, one entry for every row (per_channel 0) and the full int8 range (every MLPerf Tiny model's) take
    ``tm2_fully_connected_s8_packed_single``, which links no other requantisation form's loop (and traps on any
    other layer); the others ``tm2_fully_connected_s8_packed``."""
    if mode == RQ_SINGLE_FAST and not params["per_channel"] and (params["act_min"], params["act_max"]) == (-128, 127):
        return "tm2_fully_connected_s8_packed_single"
    return "tm2_fully_connected_s8_packed"


def lower_fc_packed(params: dict[str, Any], w: Tensor, b: Tensor | None, mult, shift) -> Lowered:
    """FULLY_CONNECTED (int8) -> ``tm2_fully_connected_s8_packed``: packed weights, rq table, one widened row."""
    assert w.data is not None
    packed, kp = pack_fc_weights(w.data)
    bound = acc_bound(w.data, _bias_values(b), params["input_offset"])
    if len(mult) == 1:  # one multiplier for every row: bound the largest accumulator
        bound = bound.max(keepdims=True)
    rq, mode = requant_table(
        mult, shift, params["output_offset"], single_rounding=bool(params["single_rounding"]), bound=bound
    )
    return Lowered(
        template="ops/fully_connected_packed.j2",
        params={**params, "depth_padded": kp, "rq_mode": mode, "entry": fc_packed_entry(params, mode)},
        const_inputs=_bias_inputs(b),
        consts=[ConstArray("weights", "int8_t", packed, weights=True), ConstArray("rq", "int32_t", rq)],
        scratch_bytes=2 * kp,
    )
