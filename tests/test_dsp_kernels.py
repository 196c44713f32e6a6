"""Packed int8 kernels (tm2_conv_dsp.c, tm2_fc_dsp.c, tm2_requant.h): bit-exact on the Cortex-M4 DSP path.

The SIMD code only runs on an Arm core with the DSP extension, so a small test firmware is
cross-compiled for the nano33 board (Cortex-M4F) and run in QEMU (mps2-an386). It reads test cases
from tm2_in.bin -- kernel, parameter struct, input, packed weights, bias, requantisation table --
runs the kernel and writes the output bytes, plus a flag saying whether the bytes after the output
stayed untouched. The same firmware is also built with -DTM2_PORTABLE (the plain C bodies on the
same core) and for the host (gcc, io_host.c). Every output is compared byte for byte with the NumPy
references of tests/refops_linear.py, which know nothing of the packed layouts.

Cases are random shapes chosen to hit the awkward paths: odd channel counts and depths (loop
tails, padded channel pairs and row groups), in_c not a multiple of 4 (byte gathering), strides,
dilations, SAME padding on every side, partial pixel blocks, narrow clamps (generic stores) and
multipliers that force the generic requantisation (left shifts, e = 1, m = 2^30).
"""

from __future__ import annotations

import functools
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2
import numpy as np
import pytest
from refops_elementwise import ref_add
from refops_linear import (
    avg_pool2d,
    conv2d,
    depthwise_conv2d,
    fc_per_tensor_multiplier,
    mbqm,
    out_size_and_pad,
    quantize_multiplier,
)

from tinym2net.boards import load_board
from tinym2net.ops import packing
from tinym2net.quantmath import quantize_multiplier_smaller_than_one_exp
from tinym2net.resources import firmware_dir, templates_dir
from tinym2net.toolchain import cross_build, host_build, run_qemu

KERNELS = firmware_dir() / "kernels"
RUNTIME = firmware_dir() / "runtime"

KIND_CONV, KIND_DW, KIND_FC, KIND_RQ, KIND_ADD, KIND_DW_PLANES, KIND_DW_PLANES_INPLACE, KIND_DW_DIRECT = range(1, 9)
# tm2_depthwise3x3_s8_planes_spec with one of the harness's TM2_DW_PLANE_SPEC descriptors (out of place, in place)
KIND_DW_SPEC, KIND_DW_SPEC_INPLACE = 9, 10
KIND_AVG_POOL, KIND_CONV_INPLACE = 20, 21
# tm2_depthwise3x3_s8_planes_whole with a descriptor covering the layer whole (out of place, in place); the same
# with the descriptor's records form (TM2_DW_PLANE_SPEC_REC) on the layer's records (packing.dw3x3_plane_records)
KIND_DW_WHOLE, KIND_DW_WHOLE_INPLACE, KIND_DW_WHOLE_REC, KIND_DW_WHOLE_REC_INPLACE = 22, 23, 24, 25
# tm2_depthwise3x3_s8_planes_small3 (3 x 3 maps; the generated code's entry where packing.dw3x3_small3 holds)
KIND_DW_SMALL3, KIND_DW_SMALL3_INPLACE = 26, 27
# tm2_depthwise3x3_s8_s2_spec with one of the harness's TM2_DWS2_SPEC runs
KIND_DW_S2_SPEC = 11
# tm2_depthwise3x3_s8_4x4 (out of place, in place); tm2_depthwise3x3_s8_planes without the DSP extension
KIND_DW_4X4, KIND_DW_4X4_INPLACE = 28, 29

# Field order of the C parameter structs (all int32).
CONV_FIELDS = (
    "batches in_h in_w in_c out_h out_w out_c filter_h filter_w stride_h stride_w dilation_h dilation_w "
    "pad_h pad_w input_offset output_offset act_min act_max depth_padded rq_mode path"
).split()
DW_FIELDS = (
    "batches in_h in_w channels out_h out_w stride pad_h pad_w input_offset output_offset act_min act_max "
    "row_len rq_mode plane_len plane_cols plane_ch"
).split()
FC_FIELDS = (
    "batches accum_depth out_depth depth_padded input_offset output_offset act_min act_max per_channel rq_mode"
).split()

HARNESS_C = r"""
#include <stdint.h>
#include <string.h>

#include "tm2_conv_dsp.h"
#include "tm2_dw_plane6.h"
#include "tm2_dw_s2_dsp.h"
#include "tm2_elementwise.h"
#include "tm2_fc_dsp.h"
#include "tm2_inplace.h"
#include "tm2_io.h"
#include "tm2_pool.h"
#include "tm2_requant.h"

#define ARENA_BYTES (160 * 1024) /* a Kp 256 -> 256 layer: 135 KB of packed weights */
#define GUARD 16
static uint8_t arena[ARENA_BYTES] __attribute__((aligned(16)));
static int32_t params[64];

static int read_u32(uint32_t *v) { return tm2_io_read(v, 4); }

/* the specialised column loops of the planes kernel's test cases, and their descriptors by index */
/*TM2_DW_PLANE_SPECS*/

/* the specialised runs of the stride-2 kernel's test cases, by index (NULL without the DSP extension) */
/*TM2_DWS2_SPECS*/

/* A length-prefixed blob placed 16-aligned in the arena; NULL for length 0. */
static void *read_blob(uint32_t *used) {
  uint32_t n;
  if (read_u32(&n) != 0 || *used + n + 16 > ARENA_BYTES) tm2_io_exit(3);
  if (n == 0) return NULL;
  void *p = arena + *used;
  if (tm2_io_read(p, n) != 0) tm2_io_exit(4);
  *used = (*used + n + 15) & ~15u;
  return p;
}

static void *reserve(uint32_t *used, uint32_t n, uint8_t fill) {
  if (*used + n + GUARD + 16 > ARENA_BYTES) tm2_io_exit(5);
  void *p = arena + *used;
  memset(p, fill, n + GUARD);
  *used = (*used + n + GUARD + 15) & ~15u;
  return p;
}

/* One requantisation record: acc, tm2_rq (4 words), mode, output offset. Output: tm2_rq_apply and,
 * with DSP, the saturating fast helper (else 0). */
static void run_requant(const int32_t *rec, uint32_t n, int32_t *out) {
  for (uint32_t i = 0; i < n; ++i, rec += 7) {
    const tm2_rq *q = (const tm2_rq *)(rec + 1);
    out[2 * i] = tm2_rq_apply(rec[0], q, rec[5], rec[6]);
    out[2 * i + 1] = 0;
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
    if (rec[5] == TM2_RQ_DOUBLE_FAST) out[2 * i + 1] = tm2_rq_double_fast_s8(rec[0], q->mult, q->hi, q->sh, rec[6]);
    if (rec[5] == TM2_RQ_SINGLE_FAST) out[2 * i + 1] = tm2_rq_single_fast_s8(rec[0], q);
#endif
  }
}

int main(int argc, char **argv) {
  uint32_t cases;
  if (tm2_io_open(argc, argv) != 0 || read_u32(&cases) != 0) return 2;
  for (uint32_t c = 0; c < cases; ++c) {
    uint32_t kind, np, used = 0, scratch_len, out_len;
    if (read_u32(&kind) != 0 || read_u32(&np) != 0 || np > 64) return 6;
    if (tm2_io_read(params, 4 * np) != 0) return 7;
    const void *in = read_blob(&used);
    const void *w = read_blob(&used);
    const int32_t *bias = (const int32_t *)read_blob(&used);
    const tm2_rq *rq = (const tm2_rq *)read_blob(&used);
    if (read_u32(&scratch_len) != 0 || read_u32(&out_len) != 0) return 8;
    void *scratch = reserve(&used, scratch_len, 0xA5); /* garbage: kernels must not rely on zeros */
    uint8_t *out = (uint8_t *)reserve(&used, out_len, 0x5A);
    if (kind == 1 && np * 4 == sizeof(tm2_conv_packed_params)) {
      tm2_conv_packed_params p;
      memcpy(&p, params, sizeof p);
      (void)bias, (void)rq; /* in the packed stream */
      tm2_conv2d_s8_packed(&p, (const int8_t *)in, (const int32_t *)w, scratch, (int8_t *)out);
    } else if (kind == 2 && np * 4 == sizeof(tm2_dw3x3_packed_params)) {
      tm2_dw3x3_packed_params p;
      memcpy(&p, params, sizeof p);
      tm2_depthwise3x3_s8_packed(&p, (const int8_t *)in, (const int32_t *)w, bias, rq, scratch, (int8_t *)out);
    } else if ((kind == 6 || kind == 7) && np * 4 == sizeof(tm2_dw3x3_packed_params)) {
      tm2_dw3x3_packed_params p;
      memcpy(&p, params, sizeof p);
      const int8_t *src = (const int8_t *)in;
      if (kind == 7) { /* in place: the output buffer starts as the input (equal shapes) */
        memcpy(out, in, out_len);
        src = (const int8_t *)out;
      }
      tm2_depthwise3x3_s8_planes(&p, src, (const int32_t *)w, bias, rq, scratch, (int8_t *)out);
    } else if ((kind == 26 || kind == 27) && np * 4 == sizeof(tm2_dw3x3_packed_params)) {
      tm2_dw3x3_packed_params p;
      memcpy(&p, params, sizeof p);
      const int8_t *src = (const int8_t *)in;
      if (kind == 27) { /* in place */
        memcpy(out, in, out_len);
        src = (const int8_t *)out;
      }
      tm2_depthwise3x3_s8_planes_small3(&p, src, (const int32_t *)w, bias, rq, scratch, (int8_t *)out);
    } else if ((kind == 9 || kind == 10 || (kind >= 22 && kind <= 25)) &&
               np * 4 == sizeof(tm2_dw3x3_packed_params) + 4) {
      tm2_dw3x3_packed_params p; /* then the index of the descriptor (-1: NULL) */
      memcpy(&p, params, sizeof p);
      const int32_t k = params[np - 1];
      const int8_t *src = (const int8_t *)in;
      if (kind == 10 || kind == 23 || kind == 25) {
        memcpy(out, in, out_len);
        src = (const int8_t *)out;
      }
      if (kind >= 22) { /* (24, 25: w the records, bias and rq NULL) */
        tm2_depthwise3x3_s8_planes_whole(&p, src, (const int32_t *)w, bias, rq, scratch, (int8_t *)out,
                                         kind >= 24 ? dw6_rspecs[k] : dw6_specs[k]);
      } else {
        tm2_depthwise3x3_s8_planes_spec(&p, src, (const int32_t *)w, bias, rq, scratch, (int8_t *)out,
                                        k >= 0 ? dw6_specs[k] : NULL);
      }
    } else if (kind == 11 && np * 4 == sizeof(tm2_dw3x3_packed_params) + 4) {
      tm2_dw3x3_packed_params p; /* then the index of the run (-1: NULL); scratch length 0: NULL */
      memcpy(&p, params, sizeof p);
      const int32_t k = params[np - 1]; /* + 0x10000: tm2_depthwise3x3_s8_s2_whole */
      if (k >= 0x10000) {
        tm2_depthwise3x3_s8_s2_whole(&p, (const int8_t *)in, (const int32_t *)w, bias, rq,
                                     scratch_len ? scratch : NULL, (int8_t *)out, dws2_specs[k - 0x10000]);
      } else {
        tm2_depthwise3x3_s8_s2_spec(&p, (const int8_t *)in, (const int32_t *)w, bias, rq,
                                    scratch_len ? scratch : NULL, (int8_t *)out, k >= 0 ? dws2_specs[k] : NULL);
      }
    } else if ((kind == 28 || kind == 29) && np * 4 == sizeof(tm2_dw3x3_packed_params)) {
      tm2_dw3x3_packed_params p;
      memcpy(&p, params, sizeof p);
      const int8_t *src = (const int8_t *)in;
      if (kind == 29) {
        memcpy(out, in, out_len);
        src = (const int8_t *)out;
      }
#if TM2_CONV_USE_DSP
      (void)scratch;
      tm2_depthwise3x3_s8_4x4(&p, src, (const int32_t *)w, bias, rq, (int8_t *)out);
#else
      tm2_depthwise3x3_s8_planes(&p, src, (const int32_t *)w, bias, rq, scratch, (int8_t *)out);
#endif
    } else if (kind == 8 && np * 4 == sizeof(tm2_dw3x3_packed_params)) {
      tm2_dw3x3_packed_params p;
      memcpy(&p, params, sizeof p);
      (void)scratch;
      tm2_depthwise3x3_s8_direct(&p, (const int8_t *)in, (const int32_t *)w, bias, rq, (int8_t *)out);
    } else if (kind == 3 && np * 4 == sizeof(tm2_fc_packed_params)) {
      tm2_fc_packed_params p;
      memcpy(&p, params, sizeof p);
      /* the entry the generator names for such layers (tinym2net/ops/packing.py fc_packed_entry) */
      if (p.rq_mode == TM2_RQ_SINGLE_FAST && !p.per_channel && p.act_min == -128 && p.act_max == 127) {
        tm2_fully_connected_s8_packed_single(&p, (const int8_t *)in, (const int8_t *)w, bias, rq, scratch,
                                             (int8_t *)out);
      } else {
        tm2_fully_connected_s8_packed(&p, (const int8_t *)in, (const int8_t *)w, bias, rq, scratch, (int8_t *)out);
      }
    } else if (kind == 21 && np * 4 == sizeof(tm2_conv_packed_params)) {
      tm2_conv_packed_params p; /* in place: the output buffer starts as the input (out_len: the input's bytes) */
      memcpy(&p, params, sizeof p);
      (void)bias, (void)rq;
      memcpy(out, in, out_len);
      tm2_conv2d_s8_packed(&p, (const int8_t *)out, (const int32_t *)w, scratch, (int8_t *)out);
    } else if (kind == 20 && np * 4 == sizeof(tm2_pool_params)) {
      tm2_pool_params p;
      memcpy(&p, params, sizeof p);
      (void)w, (void)bias, (void)rq, (void)scratch;
      tm2_avg_pool2d_s8(&p, (const int8_t *)in, (int8_t *)out);
    } else if (kind == 4) {
      run_requant((const int32_t *)in, (uint32_t)params[0], (int32_t *)out);
    } else if (kind == 5 && np * 4 == sizeof(tm2_add_params)) {
      tm2_add_params p;
      memcpy(&p, params, sizeof p);
      tm2_add_s8(&p, (const int8_t *)in, (const int8_t *)w, (int8_t *)out);
    } else {
      return 9;
    }
    uint32_t guard_ok = 1;
    for (uint32_t i = 0; i < GUARD; ++i) guard_ok &= out[out_len + i] == 0x5A;
    if (tm2_io_write(out, out_len) != 0 || tm2_io_write(&guard_ok, 4) != 0) return 10;
  }
  tm2_io_close();
  return 0;
}
"""


# ------------------------------------------------------------------------------------ test cases


@dataclass
class Case:
    kind: int
    params: list[int]
    blobs: list[bytes]  # input, weights, bias, rq (b"" for NULL)
    scratch: int
    expected: bytes
    label: str
    extra: dict = field(default_factory=dict)


def _struct(fields: list[str], values: dict) -> list[int]:
    return [int(values[f]) for f in fields]


def _multipliers(rng: np.random.Generator, channels: int, acc_scale: float, edge: bool):
    """Per-channel (mult, shift): real multipliers that spread outputs over int8, plus edge values."""
    reals = acc_scale * np.exp(rng.uniform(-1.5, 1.5, channels))
    if edge:  # left shift, e = 1, m = 2^30 exactly (generic forms); tiny (e up to 31) and zero (fast forms)
        for c in rng.choice(channels, size=min(channels, 2), replace=False):
            reals[c] = rng.choice(
                [
                    rng.uniform(1.0, 3.0),
                    rng.uniform(0.25, 0.5),
                    2.0 ** -rng.integers(3, 12),
                    rng.uniform(1.0, 2.0) * 2.0 ** -rng.integers(24, 32),
                    0.0,
                ]
            )
    pairs = [quantize_multiplier(float(r)) for r in reals]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def _act_range(rng: np.random.Generator, zp: int) -> tuple[int, int]:
    if rng.random() < 0.75:
        return -128, 127
    lo = int(rng.integers(-128, max(-127, zp) + 1))
    return lo, int(rng.integers(max(lo, zp), 128))


def conv_case(rng: np.random.Generator, i: int, shape: dict | None = None) -> Case:
    """A random CONV_2D case; ``shape`` fixes some of in_c, kernel, stride, dilation, same, h, w, out_c, and may
    set ``e`` (lo, hi): per-channel exponents e = -shift from lo to hi (channel 0 lo, channel 1 hi), ``dead``: one
    dead channel (zero weights, bias +-2^30), ``rq_shift``: pack_conv_gemm's preferred TM2_RQ_HIGHMUL_E shift
    (None, the default: TM2_RQ_HIGHMUL records), ``x`` and ``in_off``: the input and its offset (drawn all the same,
    so that the draws after them do not change)."""
    shape = shape or {}
    in_c = int(rng.choice([1, 2, 3, 4, 5, 8, 12, 16, 20]))
    kh, kw = [(1, 1), (3, 3), (2, 5), (10, 4), (3, 1), (1, 3)][int(rng.integers(0, 6))]
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dilation = (1, 1) if rng.random() < 0.8 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    same = bool(rng.random() < 0.6)
    in_c, (kh, kw), stride, dilation = (
        shape.get("in_c", in_c), shape.get("kernel", (kh, kw)), shape.get("stride", stride),
        shape.get("dilation", dilation),
    )
    same = shape.get("same", same)
    h = int(rng.integers((kh - 1) * dilation[0] + 1, (kh - 1) * dilation[0] + 7))
    w = int(rng.integers((kw - 1) * dilation[1] + 1, (kw - 1) * dilation[1] + (7 if rng.random() < 0.6 else 20)))
    out_c = int(rng.integers(1, 20))
    h, w, out_c = shape.get("h", h), shape.get("w", w), shape.get("out_c", out_c)
    oh, ph = out_size_and_pad(same, h, kh, stride[0], dilation[0])
    ow, pw = out_size_and_pad(same, w, kw, stride[1], dilation[1])
    x = rng.integers(-128, 128, (1, h, w, in_c), dtype=np.int8)
    filt = rng.integers(-127, 128, (out_c, kh, kw, in_c), dtype=np.int8)
    bias = rng.integers(-5000, 5000, out_c).astype(np.int32) if rng.random() < 0.8 else None
    in_off = int(rng.integers(-127, 129))
    x, in_off = shape.get("x", x), shape.get("in_off", in_off)
    zp = -128 if rng.random() < 0.3 else int(rng.integers(-128, 128))  # -128: the uncorrected HIGHMUL form
    zp = shape.get("zp", zp)
    act_min, act_max = shape.get("act", _act_range(rng, zp))
    depth = kh * kw * in_c
    if "e" in shape:  # real multipliers f 2^-e, f in [0.5, 1)
        lo, hi = shape["e"]
        es = rng.integers(lo, hi + 1, out_c)
        es[: min(2, out_c)] = [lo, hi][: min(2, out_c)]
        pairs = [quantize_multiplier(float(rng.uniform(0.5, 1.0)) * 2.0 ** -int(e)) for e in es]
        mult, shift = np.array([q[0] for q in pairs], np.int32), np.array([q[1] for q in pairs], np.int32)
    else:
        mult, shift = _multipliers(rng, out_c, 1.0 / (np.sqrt(depth) * 128 * 70), edge=rng.random() < 0.2)
    if shape.get("dead"):
        bias = np.zeros(out_c, np.int32) if bias is None else bias
    if bias is not None and (shape["dead"] if "dead" in shape else rng.random() < 0.2):
        # a dead channel as in vww: zero weights, bias +-2^30
        c = int(rng.integers(0, out_c))
        if shift[c] <= 0:
            filt[c] = 0
            bias[c] = int(rng.choice([-1, 1])) << 30
    want = conv2d(
        x, filt, bias, mult, shift, out_hw=(oh, ow), stride=stride, dilation=dilation, pad=(ph, pw),
        input_offset=in_off, output_offset=zp, act_min=act_min, act_max=act_max,
    )
    packed, kp, mode = packing.pack_conv_gemm(
        filt, bias, mult, shift, in_off, zp, act_min, act_max, rq_shift=shape.get("rq_shift")
    )
    values = {
        "batches": 1, "in_h": h, "in_w": w, "in_c": in_c, "out_h": oh, "out_w": ow, "out_c": out_c,
        "filter_h": kh, "filter_w": kw, "stride_h": stride[0], "stride_w": stride[1],
        "dilation_h": dilation[0], "dilation_w": dilation[1], "pad_h": ph, "pad_w": pw,
        "input_offset": in_off, "output_offset": zp, "act_min": act_min, "act_max": act_max,
        "depth_padded": kp, "rq_mode": mode,
    }
    values["path"] = packing.conv_packed_path(values, kp, mode)
    return Case(
        KIND_CONV, _struct(CONV_FIELDS, values),
        [x.tobytes(), packed.tobytes(), b"", b""],
        (12 if in_c % 4 else 8) * kp, want.tobytes(), f"conv#{i} {values}",
        {"mode": mode, "path": values["path"], "rq_shift": packing.conv_rq_shift(packed, kp)},
    )


def dw_case(
    rng: np.random.Generator, i: int, hw: tuple[int, int] | None = None, stride: int | None = None,
    zp: int | None = None, ch: int | None = None, same: bool | None = None, full_range: bool = False,
    wmax: int = 127, acc_scale: float | None = None, s2_shifts: tuple[int, ...] = packing.DW_S2_RQ_SHIFTS,
) -> Case:
    """A DEPTHWISE_CONV_2D 3x3 case; s2_shifts: the shifts E the stride-2 kernel's records may take."""
    ch = int(rng.choice([1, 3, 4, 7, 8, 12, 16, 21])) if ch is None else ch
    stride = int(rng.integers(1, 3)) if stride is None else stride
    same = bool(rng.random() < 0.6) if same is None else same
    h = int(rng.integers(3, 9)) if hw is None else hw[0]
    w = int(rng.integers(3, 17)) if hw is None else hw[1]
    oh, ph = out_size_and_pad(same, h, 3, stride)
    ow, pw = out_size_and_pad(same, w, 3, stride)
    x = rng.integers(-128, 128, (1, h, w, ch), dtype=np.int8)
    filt = rng.integers(-wmax, wmax + 1, (1, 3, 3, ch), dtype=np.int8)
    bias = rng.integers(-3000, 3000, ch).astype(np.int32) if rng.random() < 0.8 else None
    in_off = int(rng.integers(-127, 129))
    if zp is None:
        zp = -128 if rng.random() < 0.3 else int(rng.integers(-128, 128))  # -128: the uncorrected HIGHMUL form
    act_min, act_max = (-128, 127) if full_range else _act_range(rng, zp)
    # (small weights, wmax, or a given acc_scale: larger multipliers, smaller right shifts e, TM2_RQ_HIGHMUL_E of the
    # plane kernel)
    acc_scale = 1.0 / (3 * (wmax + 1) * 70) if acc_scale is None else acc_scale
    mult, shift = _multipliers(rng, ch, acc_scale, edge=rng.random() < 0.2)
    if bias is not None and rng.random() < 0.1:  # a dead channel: constant output, |2 acc| >= 2^31
        bias[0] = (1 << 30) + int(rng.integers(0, 1 << 29))
    want = depthwise_conv2d(
        x, filt, bias, mult, shift, depth_multiplier=1, out_hw=(oh, ow), stride=(stride, stride),
        dilation=(1, 1), pad=(ph, pw), input_offset=in_off, output_offset=zp, act_min=act_min, act_max=act_max,
    )
    row_len = packing.dw3x3_row_len(w, ow, stride, pw)
    if rng.random() < 0.3:  # the table of earlier builds (fast double rounding or generic)
        rq, mode = packing.requant_table(
            mult, shift, zp, bound=packing.acc_bound(filt.reshape(9, ch).T, bias, in_off)
        )
    else:  # what the lowering builds: TM2_RQ_HIGHMUL where it is exact
        rq, mode = packing.dw3x3_requant(filt, bias, mult, shift, in_off, zp, act_min, act_max)
    # the packed weights, then the stride-2 kernel's records where it takes the layer (as the lowering)
    variants = packing.dw3x3_s2_variants(ch, w, ow, pw, stride, mode, act_min, act_max)
    weights = np.concatenate(
        [packing.pack_dw3x3_weights(filt),
         packing.dw3x3_s2_records(filt, bias, rq, in_off, variants, low=zp == -128, shifts=s2_shifts)]
    )
    values = {
        "batches": 1, "in_h": h, "in_w": w, "channels": ch, "out_h": oh, "out_w": ow, "stride": stride,
        "pad_h": ph, "pad_w": pw, "input_offset": in_off, "output_offset": zp, "act_min": act_min,
        "act_max": act_max, "row_len": row_len, "rq_mode": mode, "plane_len": 0, "plane_cols": 0, "plane_ch": 0,
    }
    return Case(
        KIND_DW, _struct(DW_FIELDS, values),
        [x.tobytes(), weights.tobytes(), b"" if bias is None else bias.tobytes(),
         rq.tobytes()],
        packing.dw3x3_scratch_bytes(ch, row_len), want.tobytes(), f"dw#{i} {values}",
        {"mode": mode, "zp": zp, "five": stride == 1 and ow % 4 == 1 and ow >= 5 and zp == -128
         and (act_min, act_max) == (-128, 127)},
    )


def dw_planes_case(
    rng: np.random.Generator, i: int, five: bool = False, six: bool = False, short: bool = False,
    sixes: bool = False, three: bool = False, shifted: bool = False, small3: bool = False,
) -> Case:
    """tm2_depthwise3x3_s8_planes: a dw_case run on whole channel planes, 1 to 4 at a time; stride-1 SAME
    cases also in place (input and output in one buffer). `five`: stride 1, output offset -128 and 4k + 1
    rows (the five-output tail of the assembly, kws' 25 rows); `six`: stride 1, output offset -128 and 4k + 2
    rows (the six-output tail, vww's 6 x 6 maps; other output offsets: a group and the two-output tail);
    `short`: stride 2, at most three rows and an output offset other than -128 (the assembly's no-group form
    with the corrected requantisation); `sixes`: stride 1, output offset -128 and mostly 6k or 6k + 1 rows
    (tm2_dw_plane_cols6: one group or a loop of them, and the last single output); `three`: stride 1, output
    offset -128 and mostly three rows (tm2_dw_plane_cols3); `shifted`: `sixes` with small weights and larger
    multipliers (E 12), or large multipliers (right shifts e of 4 .. 7: E 12 may scale some weight out of int16,
    then the layer keeps TM2_RQ_HIGHMUL), so that the layer takes TM2_RQ_HIGHMUL_E (tm2_dw_plane_cols6_e<E>, E in the entries' third word);
    `small3`: 3 x 3 maps, stride 1, SAME, output offset -128, the full range, 1 to 300 channels (tm2_dw3x3_s8_small3,
    with weights up to 127 or small ones and larger multipliers: E 0 or not in the entries)."""
    tall = rng.random() < 0.5  # tall and narrow, as kws (25 x 5): long plane columns
    hw = (int(rng.integers(3, 31)), int(rng.integers(3, 8))) if tall else (int(rng.integers(3, 13)), int(rng.integers(3, 13)))
    if five:
        hw = (int(rng.choice([5, 9, 13, 25])), hw[1])
    if six:
        hw = (int(rng.choice([6, 10, 14, 26])), hw[1])
    if short:
        hw = (int(rng.integers(3, 7)), hw[1])
    if sixes or shifted:
        hw = (int(rng.choice([6, 7, 8, 12, 13, 18, 19, 24, 26])), hw[1])
    if three:
        hw = (int(rng.choice([3, 5])), hw[1])
    if small3:
        hw = (3, 3)
    sixes = sixes or shifted
    zp = -128 if five or sixes or three or small3 or (six and i % 4) else int(rng.integers(-127, 128)) if short else None
    case = dw_case(rng, i, hw, stride=1 if five or six or sixes or three or small3 else 2 if short else None, zp=zp,
                   ch=int(rng.choice([1, 2, 3, 4, 5, 8, 13, 64, 256, 300])) if small3 else None,
                   same=True if small3 else None, full_range=shifted or small3,
                   wmax=int(rng.choice([4, 10, 24])) if (shifted or small3) and i % 4 else 127,
                   acc_scale=2.0 ** -int(rng.integers(4, 7)) if shifted and not i % 4 else None)
    values = dict(zip(DW_FIELDS, case.params, strict=True))
    plane_len, plane_cols = packing.dw3x3_planes_geometry(
        {"stride_h": values["stride"], "in_h": values["in_h"], "out_h": values["out_h"], "pad_h": values["pad_h"],
         "in_w": values["in_w"], "out_w": values["out_w"], "pad_w": values["pad_w"]}
    )
    plane_ch = int(rng.choice([1, 2, 4]))
    values.update(plane_len=plane_len, plane_cols=plane_cols, plane_ch=plane_ch)
    same_shape = values["stride"] == 1 and (values["in_h"], values["in_w"]) == (values["out_h"], values["out_w"])
    kind = KIND_DW_PLANES_INPLACE if same_shape and rng.random() < 0.7 else KIND_DW_PLANES
    return Case(
        kind, _struct(DW_FIELDS, values), case.blobs,
        packing.dw3x3_planes_scratch_bytes(plane_ch, plane_len, plane_cols), case.expected,
        f"dw-planes#{i} {values}", {**case.extra, "inplace": kind == KIND_DW_PLANES_INPLACE},
    )


# Descriptors at the edges of the specialised loop's immediate ranges: the largest plane column for 4 and 8 groups
# (the last LDRD at 1020), the largest output stride (5 chm <= 4095, 6 chm a modified immediate) and one whose
# 6 chm takes ADDW; with the columns unrolled, vww's 6 x 6 x 128 (the column step a modified immediate) and the
# largest plane columns for 5 columns of 4 groups and 2 of 4. Their transposes (in_h, head, row, ch, ps, g: the
# channels a call; in_h 0: none): the longest input row for runs of four pairs (eight rows, 7 row = 4095 bytes) and
# for runs of three (six rows, 5 row = 4095), the largest planes (the last pair-out's plane 1 store at 4095, a quad's
# planes 2, 3 8190 bytes on), with a head and with a tail (s moving back by 4095 more than once a column), and kws'
# 25 x 5 x 64 in pairs and in quads; planes too large for a pair's plane 1 store from plane 0's pointer (from a
# second one, 8190 bytes on) and for a quad's (no transpose). And two unrolled columns of 6k + 1 outputs of 384 channels (beyond an STRB's
# negative offset: each column's last output on its own)
SPEC_EDGES = (
    ("tm2_dw6_edge_a", 12, 768, 488, 25, 0, 25, 1, 585, 117, 4047, 2),
    ("tm2_dw6_edge_b", 0, 682, 464, 48, 0, 49, 0, 585, 13, 3999, 4),
    ("tm2_dw6_edge_c", 0, 768, 20, 6, 6, 0, 0, 0, 0, 0, 2),
    ("tm2_dw6_edge_d", 12, 320, 160, 25, 5, 25, 1, 320, 64, 420, 2),
    ("tm2_dw6_edge_e", 12, 192, 324, 24, 2, 0, 0, 0, 0, 0, 2),
    ("tm2_dw6_edge_f", 12, 768, 20, 7, 2, 0, 0, 0, 0, 0, 2),
    ("tm2_dw6_edge_g", 12, 585, 60, 25, 0, 25, 1, 819, 117, 4047, 2),
    ("tm2_dw6_edge_h", 12, 320, 160, 25, 5, 25, 1, 320, 64, 420, 4),
    ("tm2_dw6_edge_i", 12, 80, 100, 48, 0, 48, 1, 80, 2, 8190, 2),
    ("tm2_dw6_edge_j", 12, 80, 100, 48, 0, 48, 1, 80, 2, 4000, 4),
)
SPEC_KEYS = ("name", "e", "chm", "rl2", "rows", "cols", "in_h", "head", "row", "ch", "ps", "g")

# Output rows of the specialised six-output loop's cases: one group, an odd and an even number of them, with and
# without the last single output
SPEC_ROWS = (6, 7, 12, 13, 18, 19, 24, 25)


def dw_spec_case(rng: np.random.Generator, i: int, rows: int, e: int, shape: tuple | None = None) -> tuple[Case, dict]:
    """A layer that the specialised loop of TM2_DW_PLANE_SPEC takes (stride 1, output offset -128, full range),
    `rows` output rows, the shift E `e` (0: TM2_RQ_HIGHMUL without E; smaller weights make larger E likely), SAME or
    VALID, 1 to 8 channels, 1, 2 or 4 at a time; drawn until packing.dw3x3_plane_spec gives that E. (case without
    its descriptor index, the spec). shape: (same, out_w, channels, plane_ch) instead of drawn ones."""
    while True:
        same = bool(rng.random() < 0.7) if shape is None else shape[0]
        out_w = int(rng.integers(3, 11)) if shape is None else shape[1]
        hw = (rows if same else rows + 2, out_w + (0 if same else 2))
        ch = int(rng.choice([1, 2, 3, 4, 5, 8])) if shape is None else shape[2]
        case = dw_case(rng, i, hw, stride=1, zp=-128, ch=ch, same=same, full_range=True,
                       wmax=int(rng.choice([4, 10, 24, 127])) if e else 127,
                       acc_scale=2.0 ** -int(rng.integers(4, 7)) if e and rng.random() < 0.3 else None)
        values = dict(zip(DW_FIELDS, case.params, strict=True))
        geometry = {"stride_h": 1, "in_h": values["in_h"], "out_h": values["out_h"], "pad_h": values["pad_h"],
                    "in_w": values["in_w"], "out_w": values["out_w"], "pad_w": values["pad_w"]}
        spec = packing.dw3x3_plane_spec(
            {**geometry, "in_c": ch, "input_offset": values["input_offset"], "output_offset": -128, "act_min": -128,
             "act_max": 127},
            np.frombuffer(case.blobs[3], np.int32), case.extra["mode"],
        )
        if spec is not None and spec["e"] == e:
            break
    plane_len, plane_cols = packing.dw3x3_planes_geometry(geometry)
    plane_ch = int(rng.choice([1, 2, 4])) if shape is None else shape[3]
    values.update(plane_len=plane_len, plane_cols=plane_cols, plane_ch=plane_ch)
    spec = {**spec, "g": plane_ch}  # (the descriptor's transpose: of the channels a call of its first case)
    inplace = same and rng.random() < 0.5
    return Case(
        KIND_DW_SPEC_INPLACE if inplace else KIND_DW_SPEC, _struct(DW_FIELDS, values), case.blobs,
        packing.dw3x3_planes_scratch_bytes(plane_ch, plane_len, plane_cols), case.expected,
        f"dw-spec#{i} {values} {spec}", {**case.extra, "inplace": inplace},
    ), spec


@functools.cache
def dw_spec_cases() -> tuple[tuple[Case, ...], tuple[dict, ...]]:
    """The specialised loop's cases (six of each row count: E 0 and 12, and one of the other shifts) and the distinct descriptors they take, in the
    harness's order; each case carries its descriptor's index, a few that of a descriptor differing from theirs in
    one constant (rows, E, chm or rl2: the kernel must fall back to the generic loop) or -1 (none)."""
    rng = np.random.default_rng(27)
    specs, names = [], {}

    def unrolls(spec: dict, cols: int) -> bool:  # (whether `cols` columns of the spec's shape assemble unrolled)
        g = spec["rows"] // 6
        return (cols + 1) * spec["rl2"] + 12 * (g - 1) + 8 <= 1020 and packing._thumb_add_imm(
            abs(spec["chm"] // cols - 6 * g * spec["chm"]))

    def index(spec: dict) -> int:
        if spec["cols"] and not unrolls(spec, spec["cols"]):
            spec = {**spec, "cols": 0}  # (a constant off that the unrolled columns could not assemble: the loop)
        name = f"tm2_dw6_e{spec['e']}_c{spec['chm']}_r{spec['rl2']}_h{spec['rows']}_w{spec['cols']}"
        if name not in names:
            names[name] = len(specs)
            specs.append({**spec, "name": name})
        return names[name]

    out = []
    for r, rows in enumerate(SPEC_ROWS):
        # (E 12 most layers take, 0, and one of the other shifts of DW_PLANE_SHIFTS)
        for j, e in enumerate((0, 12, 12, 0, 12, (11, 13, 14, 10)[rows % 4])):
            case, spec = dw_spec_case(rng, len(out), rows, e)
            k = index(spec)
            if j == 3:  # one constant off (E 12 for the entries' 0; columns unrolled, but not the layer's count)
                field = ("rows", "e", "chm", "rl2", "cols")[r % 5]
                w = values_of(case)["out_w"]
                k = index({**spec, field: {"rows": rows + 6, "e": 12, "chm": spec["chm"] + 1, "rl2": spec["rl2"] + 4,
                                           "cols": next(c for c in range(1, 16) if c != w and unrolls(spec, c))}[field]})
            elif j == 2 and r % 3 == 0:
                k = -1
            out.append(Case(case.kind, [*case.params, k], case.blobs, case.scratch, case.expected, case.label,
                            {**case.extra, "spec": k}))
    # long input columns: the transposes' s moving on within a column (kws' 25 x 5 x 64 in pairs and quads; VALID
    # 27 x 7 x 40, with a tail; 12 x 12 x 64, runs of three pairs, 12 x 12 x 32 quads; VALID 14 x 6 x 8 quads and 20 x 5 x 6
    # pairs, neither head nor tail; 48 x 40 x 2 pairs, plane 1 from a second pointer)
    for rows, shape in ((25, (True, 5, 64, 2)), (25, (False, 5, 40, 2)), (12, (True, 12, 64, 2)),
                        (25, (True, 5, 64, 4)), (12, (True, 12, 32, 4)), (12, (False, 4, 8, 4)),
                        (18, (False, 3, 6, 2)), (48, (True, 40, 2, 2))):
        case, spec = dw_spec_case(rng, len(out), rows, 12, shape)
        k = index(spec)
        out.append(Case(case.kind, [*case.params, k], case.blobs, case.scratch, case.expected, case.label,
                        {**case.extra, "spec": k}))
    # vww's 6 x 6 x 128 layers in quads (columns unrolled, the padding plane columns skipped) of E 10, 11 and 0
    for e in (10, 11, 0):
        case, spec = dw_spec_case(rng, len(out), 6, e, (True, 6, 128, 4))
        k = index(spec)
        out.append(Case(case.kind, [*case.params, k], case.blobs, case.scratch, case.expected, case.label,
                        {**case.extra, "spec": k}))
    return tuple(out), tuple(specs)


def values_of(case: Case) -> dict:
    """The parameter struct of a depthwise case by field name."""
    return dict(zip(DW_FIELDS, case.params[: len(DW_FIELDS)], strict=True))


def _harness_specs(records: bool = False) -> str:
    """The harness's TM2_DW_PLANE_SPEC lines and their table dw6_specs (dw_spec_cases); with records, instead the
    records forms (TM2_DW_PLANE_SPEC_REC) of the descriptors of dw_whole_cases in dw6_rspecs, by the same index
    (NULL elsewhere): both in one harness would not fit the flash."""
    specs = dw_spec_cases()[1]
    if records:
        used = {c.params[-1] for c in dw_whole_cases()}
        lines = [f"TM2_DW_PLANE_SPEC_REC({', '.join(str(s[k]) for k in SPEC_KEYS)})"
                 for k, s in enumerate(specs) if k in used]
        table = ", ".join("NULL" for _ in specs)
        rtable = ", ".join(f"&{s['name']}" if k in used else "NULL" for k, s in enumerate(specs))
    else:
        # and some that no case runs, at the edges of the immediate ranges (dw3x3_plane_spec): the assembler checks
        # them
        specs = (*specs, *(dict(zip(SPEC_KEYS, v, strict=True)) for v in SPEC_EDGES))
        lines = [f"TM2_DW_PLANE_SPEC({', '.join(str(s[k]) for k in SPEC_KEYS)})" for s in specs]
        table = ", ".join(f"&{s['name']}" for s in specs)
        rtable = "NULL"
    return "\n".join([*lines, f"static const tm2_dw6_spec *const dw6_specs[] = {{{table}}};",
                      f"static const tm2_dw6_spec *const dw6_rspecs[] = {{{rtable}}};"])


# Runs of TM2_DWS2_SPEC that no case takes, at the edge of the immediate range (dw3x3_s2_spec: 2 row + 2 ch <= 4095;
# interior pixels n, three records a quad): the assembler checks them
S2_SPEC_EDGES = (("E", 4, 2040, 254), ("LOW", 128, 1919, 7))


@functools.cache
def dw_s2_spec_cases() -> tuple[tuple[Case, ...], tuple[dict, ...]]:
    """Cases of tm2_depthwise3x3_s8_s2_spec and the distinct runs (TM2_DWS2_SPEC) they take, in the harness's order:
    layers that the stride-2 kernel takes with output offset -128, those of one input width in two (or SAME ones) of
    every channel count with small weights and larger multipliers (TM2_RQ_HIGHMUL_E records; the others mostly
    TM2_RQ_HIGHMUL; drawn until packing.dw3x3_s2_spec gives a run), odd and even input sizes, SAME (odd: the first
    row and column in the padding, even: the last ones, run2 and the right edge pixel) and VALID, one to 64 channel
    quads (128 and 256 channels, narrow inputs: the input pointer moved by an ADD, and the output pointer too with
    256); one or two input widths a channel count, many heights each, so that the cases share runs (each run is a
    few hundred bytes of the harness's flash). Each case carries its run's index; some that of another case's run
    for other channels or rows (the kernel must take the generic run) or -1 (none); most of those whose runs take
    every row (packing.dw3x3_s2_whole) go through tm2_depthwise3x3_s8_s2_whole (index + 0x10000) on records of any
    shift of RQ_SHIFTS. Scratch: none (tm2_depthwise3x3_s8_direct without the DSP extension), the packed kernel's,
    or planes."""
    rng = np.random.default_rng(41)
    specs: list[dict] = []
    names: dict[str, int] = {}

    def index(spec: dict) -> int:
        if spec["name"] not in names:
            names[spec["name"]] = len(specs)
            specs.append(spec)
        return names[spec["name"]]

    out = []
    widths = {4: (6,), 8: (24,), 72: (8,), 128: (6, 7), 256: (4,)}
    for ch in (4, 8, 72, 128, 256):
        heights = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) if ch < 128 else (2, 3, 5, 6)
        for hw in [(h, w) for w in widths[ch] for h in heights]:
            for same in (True, False):
                i = len(out)
                # whole: through tm2_depthwise3x3_s8_s2_whole where the padding lets the runs take every row
                other = i % 13 == 3
                whole = not other and i % 11 != 5 and i % 4 != 0
                whole = whole and out_size_and_pad(same, hw[0], 3, 2)[1] == out_size_and_pad(same, hw[1], 3, 2)[1] == 0
                for _ in range(50):
                    shifted = hw[1] == widths[ch][ch % 3 % 2] if len(widths[ch]) == 2 else same
                    case = dw_case(rng, i, hw, stride=2, zp=-128, ch=ch, same=same, full_range=True,
                                   wmax=int(rng.choice([4, 10, 24])) if shifted else 127,
                                   acc_scale=2.0 ** -int(rng.integers(7, 12)) if shifted else None,
                                   s2_shifts=packing.RQ_SHIFTS if whole and i // 3 % 2 else packing.DW_S2_RQ_SHIFTS)
                    values = values_of(case)
                    if values["out_h"] * values["out_w"] == 0:
                        break
                    geometry = {"in_c": ch, "in_w": hw[1], "out_w": values["out_w"], "pad_w": values["pad_w"],
                                "pad_h": values["pad_h"], "stride_w": 2, "act_min": -128, "act_max": 127,
                                "output_offset": -128}
                    spec = packing.dw3x3_s2_spec(geometry, np.frombuffer(case.blobs[1], np.int32)[6 * ch:])
                    if spec is not None:
                        break
                if values["out_h"] * values["out_w"] == 0 or spec is None:
                    continue
                assert spec["whole"] or not whole
                if other:  # the run of other channels or rows (one the harness has for other cases)
                    runs = [j for j, s in enumerate(specs) if (s["ch"], s["row"]) != (spec["ch"], spec["row"])]
                    k = runs[i % len(runs)] if runs else -1
                elif i % 11 == 5:
                    k = -1
                else:
                    k = index(spec) + (0x10000 if whole else 0)
                scratch = 0
                if i % 3 == 1:
                    scratch = packing.dw3x3_scratch_bytes(ch, values["row_len"])
                elif i % 3 == 2:
                    geo = {"stride_h": 2, "in_h": hw[0], "out_h": values["out_h"], "pad_h": values["pad_h"],
                           "in_w": hw[1], "out_w": values["out_w"], "pad_w": values["pad_w"]}
                    plane_len, plane_cols = packing.dw3x3_planes_geometry(geo)
                    values.update(plane_len=plane_len, plane_cols=plane_cols, plane_ch=4)
                    scratch = packing.dw3x3_planes_scratch_bytes(4, plane_len, plane_cols)
                out.append(Case(KIND_DW_S2_SPEC, [*_struct(DW_FIELDS, values), k], case.blobs, scratch, case.expected,
                                f"dw-s2-spec#{i} {values} run {k}", {**case.extra, "spec": k}))
    return tuple(out), tuple(specs)


def _harness_s2_specs() -> str:
    """The harness's TM2_DWS2_SPEC lines and their table (dw_s2_spec_cases), then those of S2_SPEC_EDGES."""
    specs = [*dw_s2_spec_cases()[1],
             *({"rq": q, "e": 12 if q == "E" else 0, "ch": c, "row": r, "edge": 1, "n": n, "recs": 3,
                "name": f"tm2_dws2_edge_c{c}_r{r}"} for q, c, r, n in S2_SPEC_EDGES)]
    lines = [f"TM2_DWS2_SPEC({s['name']}, {s['rq']}, {s['e']}, {s['ch']}, {s['row']}, {s['edge']}, {s['n']}, {s['recs']})"
             for s in specs]
    table = ", ".join(f"TM2_DWS2_SPEC_REF({s['name']})" for s in specs)
    return "\n".join([*lines, f"static const tm2_dws2_spec *const dws2_specs[] = {{{table}}};"])


def _single_rounding(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's int64 MultiplyByQuantizedMultiplier: round half up of acc * m / 2^(31 - shift)."""
    total = 31 - shift.astype(np.int64)
    return (acc.astype(np.int64) * mult.astype(np.int64) + (np.int64(1) << (total - 1))) >> total


def fc_case(rng: np.random.Generator, i: int, single_tensor: bool = False) -> Case:
    """A random FULLY_CONNECTED case; single_tensor: single rounding, one multiplier, the full int8 range (the
    layers of tm2_fully_connected_s8_packed_single)."""
    depth = int(rng.choice([1, 3, 4, 7, 8, 13, 16, 24, 37, 64, 70]))
    out = int(rng.integers(1, 14))
    batches = int(rng.integers(1, 4))
    per_channel = not single_tensor and bool(rng.random() < 0.5)
    single = single_tensor or bool(rng.random() < 0.5)
    x = rng.integers(-128, 128, (batches, depth), dtype=np.int8)
    filt = rng.integers(-127, 128, (out, depth), dtype=np.int8)
    bias = rng.integers(-5000, 5000, out).astype(np.int32) if rng.random() < 0.8 else None
    in_off = int(rng.integers(-127, 129))
    zp = int(rng.integers(-128, 128))
    act_min, act_max = (-128, 127) if single_tensor else _act_range(rng, zp)
    scale = 1.0 / (np.sqrt(depth) * 128 * 70)
    if per_channel:
        mult, shift = _multipliers(rng, out, scale, edge=rng.random() < 0.2)
    else:
        in_s, w_s = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.001, 0.01))
        mult, shift = fc_per_tensor_multiplier(in_s, w_s, in_s * w_s / (scale * float(np.exp(rng.uniform(-1, 1)))))
    acc = (x.astype(np.int64) + in_off) @ filt.astype(np.int64).T + (0 if bias is None else bias.astype(np.int64))
    m_b = np.broadcast_to(mult, (out,))
    s_b = np.broadcast_to(shift, (out,))
    scaled = _single_rounding(acc, m_b, s_b) if single else mbqm(acc, m_b, s_b)
    want = np.clip(scaled + zp, act_min, act_max).astype(np.int8)
    packed, kp = packing.pack_fc_weights(filt)
    rq, mode = packing.requant_table(mult, shift, zp, single_rounding=single)
    values = {
        "batches": batches, "accum_depth": depth, "out_depth": out, "depth_padded": kp, "input_offset": in_off,
        "output_offset": zp, "act_min": act_min, "act_max": act_max, "per_channel": int(per_channel),
        "rq_mode": mode,
    }
    return Case(
        KIND_FC, _struct(FC_FIELDS, values),
        [x.tobytes(), packed.tobytes(), b"" if bias is None else bias.tobytes(), rq.tobytes()],
        2 * kp, want.tobytes(), f"fc#{i} {values}", {"mode": mode},
    )


def requant_case(rng: np.random.Generator, n: int) -> tuple[Case, np.ndarray, np.ndarray]:
    """n random (acc, multiplier, zero point) records in all four modes, ties and extremes included."""
    records, plain, modes = [], [], []
    j = 0
    while len(records) < n:
        j += 1
        single = j % 2 == 1
        mult, shift = quantize_multiplier(float(np.exp(rng.uniform(np.log(2.0**-32), np.log(2.0**3)))))
        if j % 7 == 0:
            mult = 1 << 30  # exact power of two: the double-rounding fast form does not apply
        if j % 11 == 0:
            mult, shift = 0, 0  # a zero multiplier: constant channel in the fast forms
        zp = int(rng.integers(-128, 128))
        e = max(-shift, 0)
        choice = j % 5
        if choice == 0:
            acc = int(rng.integers(-(2**31), 2**31))
        elif choice == 1:
            acc = int(rng.choice([-(2**31), 2**31 - 1, -1, 0, 1]))
        else:  # near rounding ties of the result
            acc = int(rng.integers(-(2 ** min(30, e + 12)), 2 ** min(30, e + 12)))
        table, mode = packing.requant_table(
            np.array([mult]), np.array([shift]), zp, single_rounding=single
        )
        a, m, s = np.int64(acc), np.int64(mult), np.int64(shift)
        v = _single_rounding(np.array([a]), np.array([m]), np.array([s]))[0] if single else mbqm(a, m, s)
        if not -(2**31) <= int(v) + zp < 2**31:
            continue  # the int32 result itself would overflow (undefined in C, never seen in models)
        records.append([acc, *table.tolist(), mode, zp])
        plain.append(int(v) + zp)
        modes.append(mode)
    blob = np.array(records, np.int64)
    blob = (blob & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    want = np.array(plain, np.int64)
    case = Case(KIND_RQ, [n], [blob.tobytes(), b"", b"", b""], 0, b"", "requant", {})
    return case, want, np.array(modes)


def add_case(rng: np.random.Generator, i: int, ratio: float = 1.0) -> Case:
    """ADD of two int8 tensors: same shape (large: the table path) or with the second broadcast; ``ratio``
    scales the first input's scale (far from 1: one table with a large right shift)."""
    h, w, c = [(16, 16, 8), (32, 8, 16), (3, 5, 7), (8, 8, 32), (5, 9, 23)][i % 5]  # 5 x 9 x 23: odd, tables
    x1 = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
    bshape = (1, h, w, c) if i % 3 else (1, 1, 1, c)
    x2 = rng.integers(-128, 128, bshape, dtype=np.int8)
    s1, s2 = float(rng.uniform(0.01, 0.2)) * ratio, float(rng.uniform(0.01, 0.2))
    so = float(rng.uniform(0.02, 0.3))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, 3))
    if i % 4 == 1:
        zo = -128  # the uncorrected HIGHMUL form
    act_min, act_max = _act_range(rng, zo)
    want = ref_add(x1, x2, s1, z1, s2, z2, so, zo, act_min, act_max)
    f1, f2, fo = np.float32(s1), np.float32(s2), np.float32(so)
    twice_max = 2.0 * float(max(f1, f2))
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(float(f1) / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(float(f2) / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / float(np.float32(1 << 20) * fo))
    strides1 = (h * w * c, w * c, c, 1)
    strides2 = strides1 if bshape == x1.shape else (0, 0, 0, 1)
    params = [-z1, -z2, zo, 20, m1, sh1, m2, sh2, mo, sho, act_min, act_max, 1, h, w, c, *strides1, *strides2]
    return Case(KIND_ADD, params, [x1.tobytes(), x2.tobytes(), b"", b""], 0, want.tobytes(), f"add#{i} {bshape}")


def encode(cases: list[Case], out_lens: list[int]) -> bytes:
    parts = [struct.pack("<I", len(cases))]
    for case, out_len in zip(cases, out_lens, strict=True):
        parts.append(struct.pack("<II", case.kind, len(case.params)))
        parts.append(np.array(case.params, np.int64).astype(np.int32).tobytes())
        for blob in case.blobs:
            parts.append(struct.pack("<I", len(blob)) + blob)
        parts.append(struct.pack("<II", case.scratch, out_len))
    return b"".join(parts)


def decode(data: bytes, out_lens: list[int]) -> list[tuple[bytes, bool]]:
    results, pos = [], 0
    for n in out_lens:
        out = data[pos : pos + n]
        (guard,) = struct.unpack_from("<I", data, pos + n)
        results.append((out, guard == 1))
        pos += n + 4
    assert pos == len(data), "trailing or missing output bytes"
    return results


# ---------------------------------------------------------------------------------- the firmware


# The harness links every kernel form and every test's specialised loops, more code than any one model links: it
# takes the flash of the emulator's machine (mps2-an386: 4 MB at 0x0, boards/nano33.toml), not the board's 1 MB.
HARNESS_FLASH_BYTES = 4 * 1024 * 1024


def _linker_script(root: Path) -> Path:
    board = load_board("nano33")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined)
    ld = root / "linker.ld"
    ld.write_text(
        env.get_template("linker.ld.j2").render(
            board=board, stack_bytes=4096, flash_origin=board.emulator_flash_origin,
            ram_origin=board.emulator_ram_origin, flash_bytes=HARNESS_FLASH_BYTES,
        )
    )
    return ld


KERNEL_SOURCES = ("tm2_conv_dsp.c", "tm2_dw_dsp.c", "tm2_fc_dsp.c", "tm2_elementwise.c", "tm2_inplace.c",
                  "tm2_dw_s2_dsp.c", "tm2_pool.c")


def build_harness(root: Path, variant: str, records: bool = False) -> Path:
    """variant: "dsp" (Cortex-M4 with DSP), "portable" (same core, -DTM2_PORTABLE) or "host"; records: the
    depthwise descriptors in their records form (_harness_specs)."""
    root.mkdir(parents=True, exist_ok=True)
    main = root / "harness.c"
    main.write_text(HARNESS_C.replace("/*TM2_DW_PLANE_SPECS*/", _harness_specs(records)).replace(
        "/*TM2_DWS2_SPECS*/", _harness_s2_specs()))
    kernels = [KERNELS / name for name in KERNEL_SOURCES]
    if variant == "host":
        return host_build([main, *kernels, RUNTIME / "io_host.c"], [KERNELS, RUNTIME], root / "harness")
    runtime = [RUNTIME / n for n in ("startup.c", "io_semihost.c", "tm2_stack.c")]
    defines = ["TM2_PORTABLE"] if variant == "portable" else None
    return cross_build(
        [main, *kernels, *runtime], [KERNELS, RUNTIME], root / "harness.elf", load_board("nano33"),
        _linker_script(root), defines=defines,
    )


def run_harness(exe: Path, variant: str, data: bytes, workdir: Path) -> bytes:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tm2_in.bin").write_bytes(data)
    if variant == "host":
        proc = subprocess.run([str(exe), "tm2_in.bin", "tm2_out.bin"], cwd=workdir, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
    else:
        res = run_qemu(exe, load_board("nano33"), workdir, timeout_s=60)
        assert res.returncode == 0, f"harness exit {res.returncode}: {res.stderr}"
    return (workdir / "tm2_out.bin").read_bytes()


VARIANTS = ("dsp", "portable", "host")


def _tools_for(variant: str) -> None:
    need = ["gcc"] if variant == "host" else ["arm-none-eabi-gcc", "qemu-system-arm"]
    for tool in need:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module", params=VARIANTS)
def harness(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    variant = request.param
    _tools_for(variant)
    root = tmp_path_factory.mktemp(f"harness_{variant}")
    return variant, build_harness(root, variant), root


@pytest.fixture(scope="module")
def harness_rec(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """The DSP harness with the records forms of the depthwise descriptors (build_harness's records)."""
    _tools_for("dsp")
    root = tmp_path_factory.mktemp("harness_rec")
    return "dsp", build_harness(root, "dsp", records=True), root


def _check_cases(harness: tuple[str, Path, Path], cases: list[Case], name: str) -> None:
    variant, exe, root = harness
    lens = [len(c.expected) for c in cases]
    results = decode(run_harness(exe, variant, encode(cases, lens), root / name), lens)
    bad = [c.label for c, (got, _) in zip(cases, results, strict=True) if got != c.expected]
    assert not bad, f"{variant}: {len(bad)} of {len(cases)} cases differ, first: {bad[0]}"
    overrun = [c.label for c, (_, guard) in zip(cases, results, strict=True) if not guard]
    assert not overrun, f"{variant}: writes past the output in {overrun[0]}"


# ------------------------------------------------------------------------------------------- tests


def test_conv2d_packed_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(11)
    cases = [conv_case(rng, i) for i in range(120)]
    modes = {c.extra["mode"] for c in cases}
    assert modes == {packing.RQ_DOUBLE, packing.RQ_HIGHMUL}  # both requantisation paths are exercised
    _check_cases(harness, cases, "conv")


def test_conv2d_packed_row_layout_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Filter rows of 4 g + 1 bytes (row layout: the 3x3 filters of three channels of first layers, in_c 1
    with filter_w 5, in_c 5 pointwise) and of 4 g bytes with in_c not a multiple of 4 (kws' 10x4 filters of
    one channel): pixels straight from the input rows, edges gathered, both output offset forms."""
    rng = np.random.default_rng(23)
    shapes = []
    for stride in [(1, 1), (2, 2), (1, 2), (3, 1)]:
        for same in (True, False):
            for zp in (-128, 5):
                shapes.append({"in_c": 3, "kernel": (3, 3), "stride": stride, "same": same, "zp": zp,
                               "h": int(rng.integers(3, 12)), "w": int(rng.integers(3, 30))})
    shapes += [
        {"in_c": 3, "kernel": (3, 3), "stride": (1, 1), "same": True, "h": 9, "w": 32, "out_c": 16},
        {"in_c": 3, "kernel": (3, 3), "stride": (2, 2), "same": True, "h": 12, "w": 24, "out_c": 8, "zp": -128},
        {"in_c": 3, "kernel": (3, 3), "stride": (1, 1), "same": True, "h": 1, "w": 2, "out_c": 3},
        {"in_c": 3, "kernel": (3, 3), "stride": (1, 1), "same": True, "h": 2, "w": 12, "out_c": 4},  # in_h < 3
        {"in_c": 3, "kernel": (3, 3), "stride": (1, 1), "same": True, "h": 6, "w": 5, "out_c": 2},  # in_w < 7
        {"in_c": 3, "kernel": (3, 3), "stride": (2, 2), "same": True, "h": 2, "w": 9, "out_c": 5},
        {"in_c": 3, "kernel": (3, 3), "dilation": (2, 2), "same": True, "h": 9, "w": 11},
        {"in_c": 3, "kernel": (3, 3), "dilation": (1, 2), "same": False, "h": 9, "w": 11},
        {"in_c": 1, "kernel": (10, 4), "stride": (2, 2), "same": True, "h": 49, "w": 10, "out_c": 9},
        {"in_c": 1, "kernel": (10, 4), "stride": (1, 1), "same": False, "h": 12, "w": 13, "zp": -128},
        {"in_c": 1, "kernel": (2, 5), "stride": (1, 1), "same": True, "h": 6, "w": 17},
        {"in_c": 1, "kernel": (3, 1), "stride": (1, 2), "same": True},
        {"in_c": 5, "kernel": (1, 1), "stride": (1, 1), "same": False, "h": 3, "w": 7},
        {"in_c": 5, "kernel": (1, 1), "stride": (2, 1), "same": True},
        {"in_c": 3, "kernel": (1, 3), "stride": (1, 1), "same": True, "h": 4, "w": 9},
        {"in_c": 1, "kernel": (1, 1), "stride": (1, 1), "same": True, "h": 5, "w": 5},
        {"in_c": 1, "kernel": (17, 1), "stride": (1, 1), "same": True, "h": 20, "w": 6},  # taller than TM2_ROWS_MAX
        {"in_c": 1, "kernel": (17, 4), "stride": (2, 1), "same": True, "h": 19, "w": 9},
        {"in_c": 2, "kernel": (3, 2), "stride": (1, 1), "same": True, "h": 7, "w": 11},
        {"in_c": 1, "kernel": (3, 8), "stride": (1, 2), "same": True, "h": 6, "w": 21},
        {"in_c": 3, "kernel": (2, 7), "stride": (1, 1), "same": True, "h": 5, "w": 13, "zp": -128},
        {"in_c": 7, "kernel": (2, 3), "stride": (1, 1), "same": False, "h": 4, "w": 10},
    ]
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert any(packing.conv_rows_layout(3, 3, 3) for _ in cases)
    _check_cases(harness, cases, "conv_rows")


def test_conv2d_packed_tail_pixels_match_reference(harness: tuple[str, Path, Path]) -> None:
    """Layers whose pixel count leaves one or two pixels after the last full block of four (the fast path
    computes them pixel by pixel, tm2_gemm_pixel), both output offset forms, Kp/2 of 2 mod 4 and 0 mod 4."""
    rng = np.random.default_rng(29)
    shapes = []
    for h, w in [(1, 5), (1, 6), (3, 3), (2, 5), (5, 5), (1, 7), (2, 3), (3, 6)]:
        for in_c, kernel in [(8, (1, 1)), (4, (1, 1)), (16, (1, 1)), (12, (3, 3)), (3, (3, 3)), (1, (10, 4))]:
            shapes.append({"in_c": in_c, "kernel": kernel, "stride": (1, 1), "dilation": (1, 1), "same": True,
                           "h": h, "w": w, "zp": int(rng.choice([-128, 3])), "act": (-128, 127)})
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert any(c.extra["mode"] == packing.RQ_HIGHMUL for c in cases)
    _check_cases(harness, cases, "conv_tail")


def test_conv2d_packed_pointwise_fast_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Pointwise layers of Kp 8 .. 128 (the exact-step loop, tm2_conv_pw_fast): both output offset forms,
    pixel counts with 0 to 3 pixels after the last full block, even and odd out_c (odd: the general path)."""
    rng = np.random.default_rng(31)
    shapes = []
    for in_c in (8, 16, 32, 64, 128):
        for h, w in [(1, 4), (2, 3), (1, 5), (3, 3), (2, 7), (4, 4)]:
            out_c = int(rng.choice([2, 4, 6, 10, 16, 7]))
            shapes.append({"in_c": in_c, "kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1), "same": True,
                           "h": h, "w": w, "out_c": out_c, "zp": int(rng.choice([-128, -5, 9])),
                           "act": (-128, 127)})
    # Kp 8 and 16 with out_c 2 Kp and 4 Kp, Kp 32 with out_c 32 and 64: the stores at immediate offsets
    # (TM2_PW_BLOCKS_C)
    # Kp 64 with out_c 64 and output offset -128 four channel pairs a loop step (TM2_GEMM_PAIRS_Q), Kp 128 with out_c
    # 128 stores at immediate offsets one pair a step (TM2_GEMM_PAIRS_XC1), their other out_c one pair a step
    # (TM2_GEMM_PAIRS_X1); other output offsets two pairs a step (TM2_GEMM_PAIRS_X)
    for in_c, out_c, zp in [(8, 16, -128), (8, 16, 9), (8, 32, -5), (16, 32, -128), (16, 32, 3), (16, 64, -128),
                            (32, 32, -128), (32, 32, 6), (32, 64, -128), (32, 64, -7), (64, 64, -128), (64, 64, 5),
                            (64, 128, -128), (128, 128, -128), (128, 128, -3), (128, 256, -128)]:
        shapes.append({"in_c": in_c, "kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1), "same": True,
                       "h": 3, "w": 5, "out_c": out_c, "zp": zp, "act": (-128, 127)})
    # calls of fewer than four pixels (pixel by pixel, tm2_conv_pw_few), both output offset forms
    for in_c, w, zp in [(8, 1, -128), (16, 3, 4), (64, 2, -128), (128, 3, -9)]:
        shapes.append({"in_c": in_c, "kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1), "same": True,
                       "h": 1, "w": w, "out_c": 6, "zp": zp, "act": (-128, 127)})
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert sum(c.extra["path"] == packing.CONV_PATH_POINTWISE for c in cases) > len(cases) // 2
    _check_cases(harness, cases, "conv_pw_fast")


def test_conv2d_packed_first_layer_fast_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """3x3 filters of three channels with output rows a multiple of four pixels wide (tm2_conv_first_fast):
    strides 1 and 2, SAME and VALID, edge blocks, both output offset forms, odd out_c (the general path)."""
    rng = np.random.default_rng(37)
    shapes = []
    for stride in [(1, 1), (2, 2), (1, 2), (2, 1)]:
        for same in (True, False):
            for zp in (-128, 7):
                sh, sw = stride
                ow = 4 * int(rng.integers(1, 4))
                w = (ow - 1) * sw + 1 if same else (ow - 1) * sw + 3
                h = int(rng.integers(3, 10))
                shapes.append({"in_c": 3, "kernel": (3, 3), "stride": stride, "dilation": (1, 1), "same": same,
                               "zp": zp, "h": h, "w": w, "out_c": int(rng.choice([2, 8, 12, 5])),
                               "act": (-128, 127)})
    # out_c 8 and 16 (the stores at immediate offsets), both output offset forms, both strides
    # (stride_w 3: the widening with a run-time pixel stride)
    for stride, out_c, zp in [((2, 2), 8, 5), ((1, 1), 16, -128), ((1, 1), 16, -3), ((2, 2), 16, -128),
                              ((1, 3), 8, -128), ((2, 3), 6, 4)]:
        ow = 8
        w = (ow - 1) * stride[1] + 1
        shapes.append({"in_c": 3, "kernel": (3, 3), "stride": stride, "dilation": (1, 1), "same": True,
                       "zp": zp, "h": 5, "w": w, "out_c": out_c, "act": (-128, 127)})
    # stride 2 over an even width and height (vww's 96x96): SAME pads one column right and one row below only, the
    # last pixel of each row has its third column past the edge (tm2_widen_rows_3x6), the last row its third row
    for zp in (-128, 5):
        shapes.append({"in_c": 3, "kernel": (3, 3), "stride": (2, 2), "dilation": (1, 1), "same": True,
                       "zp": zp, "h": 10, "w": 16, "out_c": 8, "act": (-128, 127)})
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert sum(c.extra["path"] == packing.CONV_PATH_FIRST3X3 for c in cases) > len(cases) // 2
    _check_cases(harness, cases, "conv_first_fast")


def test_conv2d_packed_rows4_fast_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """10x4 filters of one channel (TM2_CONV_PATH_ROWS4, tm2_conv_rows4_fast, kws' first layer): 64 output channels,
    output offset -128, pixel counts leaving 0 to 3 pixels after the last full block, blocks across output rows,
    pixels past every edge of the input (words masked at the columns, rows outside), strides 1 and 2; other output
    offsets, other out_c and fewer than four pixels (the general loop)."""
    rng = np.random.default_rng(43)
    shapes = []
    for (h, w), stride, same in [((49, 10), (2, 2), True), ((12, 7), (1, 1), True), ((13, 9), (2, 1), True),
                                 ((11, 5), (1, 2), False), ((10, 4), (1, 1), False), ((14, 6), (2, 2), True),
                                 ((16, 8), (1, 1), True), ((10, 6), (1, 1), False), ((20, 11), (2, 2), False)]:
        for zp in (-128, 6):
            shapes.append({"in_c": 1, "kernel": (10, 4), "stride": stride, "dilation": (1, 1), "same": same,
                           "h": h, "w": w, "out_c": 64, "zp": zp, "act": (-128, 127)})
    shapes += [
        {"in_c": 1, "kernel": (10, 4), "stride": (2, 2), "dilation": (1, 1), "same": True, "h": 49, "w": 10,
         "out_c": 32, "zp": -128, "act": (-128, 127)},
        {"in_c": 1, "kernel": (10, 4), "stride": (1, 1), "dilation": (1, 1), "same": False, "h": 10, "w": 5,
         "out_c": 64, "zp": 3, "act": (-128, 127)},
    ]
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert sum(c.extra["path"] == packing.CONV_PATH_ROWS4 for c in cases) > len(cases) // 2
    _check_cases(harness, cases, "conv_rows4_fast")


def test_conv2d_packed_word_rows_at_edges_match_reference(harness: tuple[str, Path, Path]) -> None:
    """Filters of one channel and four columns (kws' 10x4) whose pixels reach past the input's edges
    (tm2_widen_rows4_edge): narrow and low inputs, words that would cross the tensor's first or last byte,
    row dilation, strides, both output offset forms."""
    rng = np.random.default_rng(41)
    shapes = []
    for kh in (1, 3, 10):
        for h, w in [(1, 3), (2, 4), (3, 5), (12, 10), (5, 2), (9, 7)]:
            shapes.append({"in_c": 1, "kernel": (kh, 4), "stride": (int(rng.integers(1, 3)), int(rng.integers(1, 3))),
                           "dilation": (int(rng.integers(1, 3)), 1), "same": True, "h": h, "w": w,
                           "zp": int(rng.choice([-128, 4]))})
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    _check_cases(harness, cases, "conv_word_rows")


def _shift_form_shapes(rng: np.random.Generator, e_shift: int) -> list[dict]:
    """Layers of every loop for TM2_RQ_HIGHMUL_E of shift e_shift: exponents e_shift - 7 .. e_shift - 1 (scales
    2^1 .. 2^7), output offset -128, the full int8 range."""
    common = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": e_shift,
              "e": (e_shift - 7, e_shift - 1)}
    pw = {**common, "kernel": (1, 1), "stride": (1, 1)}
    shapes = []
    # pointwise of every Kp (the out_c with stores at immediate offsets too, odd out_c: the general loop), pixel
    # counts with 0 to 3 pixels after the last block (tm2_gemm_pixel) and fewer than four (tm2_conv_pw_few)
    for in_c, outs in [(8, (16, 32, 6)), (16, (32, 64, 10)), (32, (32, 64, 4)), (64, (2, 12)), (128, (4, 6, 7))]:
        for out_c in outs:
            h, w = [(2, 4), (1, 5), (3, 3), (1, 7), (1, 3)][int(rng.integers(0, 5))]
            shapes.append({**pw, "in_c": in_c, "h": h, "w": w, "out_c": out_c})
    shapes.append({**pw, "in_c": 64, "h": 1, "w": 2, "out_c": 8})
    # Kp 64 with out_c 64 (four channel pairs a loop step) and Kp 128 with out_c 128 (stores at immediate offsets),
    # three and two blocks
    shapes.append({**pw, "in_c": 64, "h": 3, "w": 5, "out_c": 64})
    shapes.append({**pw, "in_c": 128, "h": 2, "w": 5, "out_c": 128})
    # Kp 16 with out_c 32 (four channel pairs a loop step, the constant-column form): three blocks and three pixels
    shapes.append({**pw, "in_c": 16, "h": 3, "w": 5, "out_c": 32})
    # first layers: out_c 8 and 16 (stores at immediate offsets) and others, strides 1, 2 and 3 (run-time stride)
    for stride, out_c in [((1, 1), 8), ((2, 2), 16), ((1, 1), 6), ((1, 3), 8), ((2, 1), 16)]:
        w = 7 * stride[1] + 1
        shapes.append({**common, "in_c": 3, "kernel": (3, 3), "stride": stride, "h": 5, "w": w, "out_c": out_c})
    # the general loop: one pass (Kp 144) and more (Kp 180), kws' 10x4 filters, a strided layer, odd out_c, and
    # pixel counts that leave one or two pixels after the last block (tm2_gemm_pixel: Kp / 2 of 0, 2, 4 and 6 mod 8,
    # Kp 108 the six position pairs before its loop of eight)
    for in_c, kernel, stride, h, w, out_c in [(16, (3, 3), (1, 1), 3, 3, 8), (20, (3, 3), (1, 1), 2, 3, 6),
                                              (1, (10, 4), (2, 1), 12, 6, 8), (8, (3, 3), (2, 2), 5, 6, 5),
                                              (4, (3, 1), (1, 1), 2, 5, 4), (12, (3, 3), (1, 1), 3, 3, 6)]:
        shapes.append({**common, "in_c": in_c, "kernel": kernel, "stride": stride, "h": h, "w": w, "out_c": out_c})
    # kws' first layer (10x4 filters of one channel, 64 output channels): the rows4 loop, one pixel after the last
    # block; the 10x4 layer of 8 output channels above takes the general loop from the rows4 entry
    shapes.append({**common, "in_c": 1, "kernel": (10, 4), "stride": (2, 2), "h": 49, "w": 10, "out_c": 64})
    for i, sh in enumerate(shapes):
        sh["dead"] = i % 3 == 0  # constant channels: record (0, k 2^E, E)
    return shapes


def test_conv2d_packed_shift_form_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """TM2_RQ_HIGHMUL_E records (the requantisation's shift in SSAT, one entry per shift E): every loop for every
    shift that has entry points, channel scales 2^1 .. 2^7, constant channels, tail pixels."""
    rng = np.random.default_rng(43)
    cases = []
    for e_shift in packing.RQ_SHIFTS:
        cases += [conv_case(rng, len(cases) + i, sh) for i, sh in enumerate(_shift_form_shapes(rng, e_shift))]
    assert all(c.extra["mode"] == packing.RQ_HIGHMUL_E for c in cases)
    for e_shift in packing.RQ_SHIFTS:
        paths = {c.extra["path"] for c in cases if c.extra["rq_shift"] == e_shift}
        assert paths == {packing.CONV_PATH_GENERAL, packing.CONV_PATH_POINTWISE, packing.CONV_PATH_FIRST3X3,
                         packing.CONV_PATH_ROWS4}
    _check_cases(harness, cases, "conv_shift")


def test_conv2d_packed_pw8_pixel_pairs_match_reference(harness: tuple[str, Path, Path]) -> None:
    """Kp 8 with out_c 16 and TM2_RQ_HIGHMUL_E records (vww's 48x48 8 -> 16 layer: TM2_PW8_PAIRS, pixel pairs with
    both pixels widened in registers): every shift E, pixel counts from 4 to 33 (even, and odd: the last pixel by
    tm2_gemm_pixel), channel scales 2^1 .. 2^7, constant channels; in place over the whole tensor (from the last pixel
    down), the bytes after the output keeping the input's; and the extreme inputs of the FPU form's difference of
    pixel B's position pair 3 to pixel A's (pixels of -128 next to pixels of 127, both ways, input offsets -127 and
    128)."""
    rng = np.random.default_rng(53)
    cases = []
    for e_shift in packing.RQ_SHIFTS:
        for j, (h, w) in enumerate([(1, 4), (1, 5), (2, 3), (1, 7), (2, 4), (3, 3), (4, 4), (1, 17), (3, 11)]):
            sh = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": e_shift,
                  "e": (e_shift - 7, e_shift - 1), "kernel": (1, 1), "stride": (1, 1), "h": h, "w": w,
                  "in_c": 8, "out_c": 16, "dead": j % 3 == 0}
            cases.append(conv_case(rng, len(cases), sh))
        for k, pixels in enumerate((4, 5, 6, 9, 14, 23)):
            cases.append(pw_form_case(rng, len(cases), 8, 16, pixels, e_shift, k % 3 == 1, True))
        for k, in_off in enumerate((-127, 128)):
            x = np.full((1, 1, 10, 8), -128, np.int8)
            x[0, 0, k::2] = 127
            sh = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": e_shift,
                  "e": (e_shift - 7, e_shift - 1), "kernel": (1, 1), "stride": (1, 1), "h": 1, "w": 10,
                  "in_c": 8, "out_c": 16, "dead": False, "x": x, "in_off": in_off}
            cases.append(conv_case(rng, len(cases), sh))
    assert all(c.extra["mode"] == packing.RQ_HIGHMUL_E and c.extra["path"] == packing.CONV_PATH_POINTWISE
               for c in cases)
    assert {c.extra["rq_shift"] for c in cases} == set(packing.RQ_SHIFTS)
    assert sum(c.kind == KIND_CONV_INPLACE for c in cases) == 6 * len(packing.RQ_SHIFTS)
    _check_cases(harness, cases, "conv_pw8_pairs")


def pw_form_case(rng: np.random.Generator, i: int, in_c: int, out_c: int, pixels: int, e_shift: int | None,
                 dead: bool, in_place: bool) -> Case:
    """A pointwise case of one row of `pixels` pixels, output offset -128 and the full range: TM2_RQ_HIGHMUL_E records
    of shift `e_shift` (channel scales 2^1 .. 2^7), or the layer's own records (None); in place over the whole tensor
    where asked, the bytes after the output keeping the input's."""
    sh = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": e_shift, "kernel": (1, 1),
          "stride": (1, 1), "h": 1, "w": pixels, "in_c": in_c, "out_c": out_c, "dead": dead}
    if e_shift is not None:
        sh["e"] = (e_shift - 7, e_shift - 1)
    c = conv_case(rng, i, sh)
    if not in_place:
        return c
    want = c.expected + c.blobs[0][len(c.expected):]
    return Case(KIND_CONV_INPLACE, c.params, c.blobs, c.scratch, want, f"in place {c.label}", c.extra)


def test_conv2d_packed_pw_fpu_form_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Kp 16 with out_c 32 and Kp 32 with out_c 32 and 64, TM2_RQ_HIGHMUL_E records (vww's 16 -> 32, 32 -> 32 and
    32 -> 64 layers: TM2_PW_BLOCKS_F16 / _F32, pixels 0 and 1 of a block in FPU registers): every shift E, pixel
    counts with 0 to 3 pixels after the last block (one to five blocks), channel scales 2^1 .. 2^7, constant
    channels; and in place over the whole tensor (expanding layers from the last pixel down), the bytes after the
    output keeping the input's."""
    rng = np.random.default_rng(59)
    cases = []
    for e_shift in packing.RQ_SHIFTS:
        for j, (in_c, out_c) in enumerate([(16, 32), (32, 32), (32, 64)]):
            for k, pixels in enumerate((4, 5, 6, 7, 9, 8, 11, 22)):
                cases.append(pw_form_case(rng, len(cases), in_c, out_c, pixels, e_shift, (j + k) % 3 == 0, k % 2 == 1))
    assert all(c.extra["mode"] == packing.RQ_HIGHMUL_E and c.extra["path"] == packing.CONV_PATH_POINTWISE
               for c in cases)
    assert {c.extra["rq_shift"] for c in cases} == set(packing.RQ_SHIFTS)
    assert sum(c.kind == KIND_CONV_INPLACE for c in cases) == len(cases) // 2
    _check_cases(harness, cases, "conv_pw_fpu")


def test_conv2d_packed_pw64_fpu_form_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Kp 64 with TM2_RQ_HIGHMUL_E records: out_c 64 (kws' and vww's 64 -> 64 layers: TM2_PW_BLOCKS_F64, pixels 0
    and 1's position pairs 1 .. 15 in FPU registers, pairs 16 .. 31 in the column) and 128 (vww's 64 -> 128 layer:
    the entry _pw64o128_e<E>, two channel pairs a loop step), out_c 48 (the other loop) alongside: every shift E, pixel counts with 0 to 3 pixels after the last block (one to five blocks),
    channel scales 2^1 .. 2^7, constant channels; and in place over the whole tensor (expanding layers from the last
    pixel down), the bytes after the output keeping the input's."""
    rng = np.random.default_rng(67)
    cases = []
    for e_shift in packing.RQ_SHIFTS:
        for j, out_c in enumerate((64, 128, 48)):
            for k, pixels in enumerate((4, 5, 6, 7, 9, 8, 11, 22) if out_c == 64 else (5, 8, 11)):
                cases.append(pw_form_case(rng, len(cases), 64, out_c, pixels, e_shift, (j + k) % 3 == 0, k % 2 == 1))
    assert all(c.extra["mode"] == packing.RQ_HIGHMUL_E and c.extra["path"] == packing.CONV_PATH_POINTWISE
               for c in cases)
    assert {c.extra["rq_shift"] for c in cases} == set(packing.RQ_SHIFTS)
    assert sum(c.kind == KIND_CONV_INPLACE for c in cases) == 6 * len(packing.RQ_SHIFTS)
    _check_cases(harness, cases, "conv_pw64_fpu")


def test_conv2d_packed_pw128_fpu_form_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Kp 128 with out_c 128 (vww's 6x6 128 -> 128 layers: TM2_PW_BLOCKS_F128, pixels 0 and 1's position pairs 1 ..
    15 in FPU registers, pairs 16 .. 63 in the column, one channel pair a loop step) with TM2_RQ_HIGHMUL_E records of
    every shift E and with TM2_RQ_HIGHMUL records of output offset -128 (TM2_PW_BLOCKS_F128L); out_c 96 and 256 (the
    other loops) alongside: pixel counts with 0 to 3 pixels after the last block (one to five blocks), channel scales
    2^1 .. 2^7, constant channels; and in place over the whole tensor (expanding layers from the last pixel down),
    the bytes after the output keeping the input's."""
    rng = np.random.default_rng(71)
    cases = []
    for e_shift in (*packing.RQ_SHIFTS, None):
        for j, out_c in enumerate((128, 96, 256)):
            for k, pixels in enumerate((4, 5, 6, 7, 9, 8, 11, 22) if out_c == 128 else (5, 8)):
                cases.append(pw_form_case(rng, len(cases), 128, out_c, pixels, e_shift, (j + k) % 3 == 0, k % 2 == 1))
    assert all(c.extra["path"] == packing.CONV_PATH_POINTWISE for c in cases)
    modes = [c.extra["mode"] for c in cases]
    assert modes.count(packing.RQ_HIGHMUL) == 12 and modes.count(packing.RQ_HIGHMUL_E) == len(cases) - 12
    assert {c.extra["rq_shift"] for c in cases} >= set(packing.RQ_SHIFTS)
    assert sum(c.kind == KIND_CONV_INPLACE for c in cases) == 6 * (len(packing.RQ_SHIFTS) + 1)
    _check_cases(harness, cases, "conv_pw128_fpu")


def test_conv2d_packed_first_layer_fpu_form_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """3x3 filters of three channels at stride_w 2 with out_c 8 and TM2_RQ_HIGHMUL_E records (vww's first layer: the
    interior blocks of each row in the FPU-register form, TM2_FIRST_S8_ROW): every shift, one to four and eleven
    interior blocks a row, SAME over even widths (one column padded on the right only, as vww's 96: the block at the
    right edge run on by the interior loop from its rows' copy) and odd ones (one on each side), VALID, stride_h 1 and
    2, rows at the top and bottom edges, channel scales 2^1 .. 2^7, constant channels; out_c 16 and stride_w 1 (the
    other loops) alongside."""
    rng = np.random.default_rng(61)
    cases = []
    j = 0
    for stride in [(2, 2), (1, 2)]:
        for same, extra in [(True, 0), (True, -1), (False, 1)]:
            for ow in (4, 8, 12, 20, 48):  # every width with every shift over the six stride and padding forms
                e_shift = packing.RQ_SHIFTS[(j + j // 5) % len(packing.RQ_SHIFTS)]
                w = 2 * ow + extra  # SAME: 2 ow (pad right) or 2 ow - 1 (pad both); VALID: 2 ow + 1
                sh = {"dilation": (1, 1), "same": same, "zp": -128, "act": (-128, 127), "rq_shift": e_shift,
                      "e": (e_shift - 7, e_shift - 1), "kernel": (3, 3), "stride": stride, "in_c": 3, "out_c": 8,
                      "h": int(rng.integers(3, 9)), "w": w, "dead": j % 3 == 0}
                cases.append(conv_case(rng, len(cases), sh))
                j += 1
    for stride, out_c in [((2, 2), 16), ((1, 1), 8)]:
        cases.append(conv_case(rng, len(cases), {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127),
                                                 "rq_shift": 12, "e": (5, 11), "kernel": (3, 3), "stride": stride,
                                                 "in_c": 3, "out_c": out_c, "h": 6, "w": 16}))
    fpu = [c for c in cases[:-2] if c.extra["path"] == packing.CONV_PATH_FIRST3X3
           and c.extra["mode"] == packing.RQ_HIGHMUL_E]
    assert len(fpu) == len(cases) - 2 and {c.extra["rq_shift"] for c in fpu} == set(packing.RQ_SHIFTS)
    _check_cases(harness, cases, "conv_first_fpu")


def test_conv2d_packed_three_pixel_blocks_match_reference(harness: tuple[str, Path, Path]) -> None:
    """Pointwise Kp 128 and 256 with out_c 256 and TM2_RQ_HIGHMUL_E records (vww's 3 x 3 128 -> 256 and 256 -> 256
    layers): pixel counts a multiple of three and not of four run in blocks of three pixels
    (tm2_conv2d_s8_packed_pw<Kp>x3_e<E>; with an FPU TM2_PW3F_BLOCK, position pairs 1 .. 10 of each block in FPU
    registers: 3, 6, 9 and 15 pixels), other counts in blocks of four (Kp 128) or the general loop (Kp 256); in place
    too (from the last pixel down; not the general loop); constant channels; every shift E for both Kp (3 and 9
    pixels, in place and not)."""
    rng = np.random.default_rng(59)
    cases = []
    for e_shift, in_c in ((12, 128), (14, 128), (12, 256)):
        for j, (h, w) in enumerate([(1, 3), (2, 3), (3, 3), (3, 5), (1, 7), (2, 4)]):
            sh = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": e_shift,
                  "e": (e_shift - 7, e_shift - 1), "kernel": (1, 1), "stride": (1, 1), "h": h, "w": w,
                  "in_c": in_c, "out_c": 256, "dead": j % 3 == 0}
            c = conv_case(rng, len(cases), sh)
            assert c.extra["mode"] == packing.RQ_HIGHMUL_E
            cases.append(c)
            if in_c == 256 and (h * w % 3 or h * w % 4 == 0):  # the general loop: not offered in place
                continue
            cases.append(Case(KIND_CONV_INPLACE, c.params, c.blobs, c.scratch, c.expected, f"in place {c.label}",
                              c.extra))
    for k, e_shift in enumerate(packing.RQ_SHIFTS):
        for in_c in (128, 256):
            if (e_shift, in_c) in ((12, 128), (14, 128), (12, 256)):
                continue
            pixels = (3, 9)[k % 2]
            c = pw_form_case(rng, len(cases), in_c, 256, pixels, e_shift, k % 3 == 0, False)
            assert c.extra["mode"] == packing.RQ_HIGHMUL_E and c.extra["rq_shift"] == e_shift
            cases.append(c)
            cases.append(pw_form_case(rng, len(cases), in_c, 256, 12 - pixels, e_shift, k % 3 == 1, True))
    _check_cases(harness, cases, "conv_pw_x3")


def test_pointwise_entry_names() -> None:
    """The generated call names the loop: pw<Kp>[_e<E>], and pw<Kp>x3_e<E> for pointwise Kp 128 and 256 -> 256 with
    TM2_RQ_HIGHMUL_E records over a pixel count that is a multiple of three and not of four."""
    def params(in_c, out_c, h, w, act=(-128, 127)):
        return {"batches": 1, "in_h": h, "in_w": w, "in_c": in_c, "out_h": h, "out_w": w, "out_c": out_c,
                "filter_h": 1, "filter_w": 1, "stride_h": 1, "stride_w": 1, "pad_h": 0, "pad_w": 0,
                "act_min": act[0], "act_max": act[1]}

    e = packing.RQ_HIGHMUL_E
    assert packing.conv_blocks3(params(128, 256, 3, 3), 128, e) and packing.conv_blocks3(params(256, 256, 2, 3), 256, e)
    assert not packing.conv_blocks3(params(128, 256, 3, 4), 128, e)  # a multiple of four
    assert not packing.conv_blocks3(params(128, 256, 1, 7), 128, e)  # not of three
    assert not packing.conv_blocks3(params(128, 128, 3, 3), 128, e)
    assert not packing.conv_blocks3(params(64, 256, 3, 3), 64, e)
    assert not packing.conv_blocks3(params(128, 256, 3, 3), 128, packing.RQ_HIGHMUL)
    assert not packing.conv_blocks3(params(128, 256, 3, 3, (-128, 100)), 128, e)
    pw, general = packing.CONV_PATH_POINTWISE, packing.CONV_PATH_GENERAL
    assert packing.conv_packed_entry(pw, 128, 14, True) == "tm2_conv2d_s8_packed_pw128x3_e14"
    assert packing.conv_packed_entry(general, 256, 12, True) == "tm2_conv2d_s8_packed_pw256x3_e12"
    assert packing.conv_packed_entry(pw, 128, 14) == "tm2_conv2d_s8_packed_pw128_e14"
    assert packing.conv_packed_entry(general, 256, 12) == "tm2_conv2d_s8_packed_general_e12"
    p64 = params(64, 128, 3, 3)
    assert packing.conv_packed_entry(pw, 64, 12, params=p64) == "tm2_conv2d_s8_packed_pw64o128_e12"
    assert packing.conv_packed_entry(pw, 64, 0, params=p64) == "tm2_conv2d_s8_packed_pw64"
    assert packing.conv_packed_entry(pw, 64, 12, params=params(64, 64, 3, 3)) == "tm2_conv2d_s8_packed_pw64o64_e12"
    assert packing.conv_packed_entry(pw, 64, 12, params=params(64, 48, 3, 3)) == "tm2_conv2d_s8_packed_pw64_e12"
    assert packing.conv_packed_entry(pw, 8, 11, params=params(8, 16, 3, 3)) == "tm2_conv2d_s8_packed_pw8o16_e11"
    p128 = {**params(128, 128, 6, 6), "output_offset": -128}
    assert packing.conv_packed_entry(pw, 128, 0, params=p128) == "tm2_conv2d_s8_packed_pw128o128"
    assert packing.conv_packed_entry(pw, 128, 14, params=p128) == "tm2_conv2d_s8_packed_pw128o128_e14"
    assert packing.conv_packed_entry(pw, 128, 0, params={**p128, "output_offset": 3}) == "tm2_conv2d_s8_packed_pw128"
    # every (Kp, out_c) with an entry of its own is declared in the header
    header = (firmware_dir() / "kernels" / "tm2_conv_dsp.h").read_text()
    line = next(x for x in header.splitlines() if x.startswith("#define TM2_PW_OWN_LOOPS(X, E)"))
    assert re.findall(r"X\((\d+), (\d+), E\)", line) == [(str(k), str(o)) for k, o in packing.PW_OWN_LOOPS]


def test_rows4_entry_names() -> None:
    """A 10x4 layer of one channel (CONV_PATH_ROWS4) with TM2_RQ_HIGHMUL_E records names the rows4 entry only where
    the rows4 loop takes it (64 output channels, at least four pixels: that entry links no general loop and traps
    otherwise), the general one otherwise; TM2_RQ_HIGHMUL records keep the rows4 entry (its own fallback)."""
    def params(out_c, h, w):
        return {"batches": 1, "in_h": 49, "in_w": 10, "in_c": 1, "out_h": h, "out_w": w, "out_c": out_c}

    rows4 = packing.CONV_PATH_ROWS4
    assert packing.conv_packed_entry(rows4, 40, 12, params=params(64, 25, 5)) == "tm2_conv2d_s8_packed_rows4_e12"
    assert packing.conv_packed_entry(rows4, 40, 12, params=params(64, 1, 4)) == "tm2_conv2d_s8_packed_rows4_e12"
    assert packing.conv_packed_entry(rows4, 40, 12, params=params(64, 1, 3)) == "tm2_conv2d_s8_packed_general_e12"
    assert packing.conv_packed_entry(rows4, 40, 12, params=params(8, 25, 5)) == "tm2_conv2d_s8_packed_general_e12"
    assert packing.conv_packed_entry(rows4, 40, 12) == "tm2_conv2d_s8_packed_general_e12"
    assert packing.conv_packed_entry(rows4, 40, 0, params=params(8, 25, 5)) == "tm2_conv2d_s8_packed_rows4"


def test_first_layer_entry_names() -> None:
    """A first layer (CONV_PATH_FIRST3X3) of TM2_RQ_HIGHMUL_E records names the FPU-register entry at stride_w 2 into
    out_c 8, the entry of its out_c's loop alone for the other layers into out_c 8 or 16, the one of every loop
    otherwise."""
    first = packing.CONV_PATH_FIRST3X3
    assert packing.conv_packed_entry(first, 28, 12, params={"out_c": 8, "stride_w": 2}) == (
        "tm2_conv2d_s8_packed_first3x3s2o8_e12")
    assert packing.conv_packed_entry(first, 28, 12, params={"out_c": 8, "stride_w": 1}) == (
        "tm2_conv2d_s8_packed_first3x3o8_e12")
    assert packing.conv_packed_entry(first, 28, 13, params={"out_c": 16, "stride_w": 2}) == (
        "tm2_conv2d_s8_packed_first3x3o16_e13")
    assert packing.conv_packed_entry(first, 28, 12, params={"out_c": 6, "stride_w": 1}) == (
        "tm2_conv2d_s8_packed_first3x3_e12")
    assert packing.conv_packed_entry(first, 28, 0, params={"out_c": 16, "stride_w": 1}) == (
        "tm2_conv2d_s8_packed_first3x3")


def test_general_entry_names() -> None:
    """A general layer of TM2_RQ_HIGHMUL (or any other non-E) records names the general loop without the loops of
    output offset -128 where its output offset is another (resnet's), the full general loop otherwise."""
    general = packing.CONV_PATH_GENERAL
    assert packing.conv_packed_entry(general, 144, 0, params={"output_offset": 4}) == (
        "tm2_conv2d_s8_packed_general_signed")
    assert packing.conv_packed_entry(general, 144, 0, params={"output_offset": -128}) == (
        "tm2_conv2d_s8_packed_general")
    assert packing.conv_packed_entry(general, 144, 12, params={"output_offset": -128}) == (
        "tm2_conv2d_s8_packed_general_e12")


def test_conv2d_packed_shift_form_falls_back(harness: tuple[str, Path, Path]) -> None:
    """Layers whose exponents spread over more than seven (no shift E gives every channel a scale 2^1 .. 2^7 of its
    int16 weights) keep TM2_RQ_HIGHMUL records; a layer whose preferred shift fails takes the nearest that passes."""
    rng = np.random.default_rng(47)
    common = {"dilation": (1, 1), "same": True, "zp": -128, "act": (-128, 127), "rq_shift": 12}
    shapes = [
        {**common, "in_c": 32, "kernel": (1, 1), "stride": (1, 1), "h": 3, "w": 3, "out_c": 8, "e": (5, 13)},
        {**common, "in_c": 8, "kernel": (3, 3), "stride": (1, 1), "h": 4, "w": 5, "out_c": 6, "e": (6, 14)},
        {**common, "in_c": 3, "kernel": (3, 3), "stride": (1, 1), "h": 4, "w": 8, "out_c": 8, "e": (2, 11)},
        {**common, "in_c": 16, "kernel": (1, 1), "stride": (1, 1), "h": 2, "w": 4, "out_c": 4, "e": (12, 13)},
    ]
    cases = [conv_case(rng, i, sh) for i, sh in enumerate(shapes)]
    assert [c.extra["mode"] for c in cases] == [packing.RQ_HIGHMUL] * 3 + [packing.RQ_HIGHMUL_E]
    assert cases[3].extra["rq_shift"] == 14
    _check_cases(harness, cases, "conv_shift_fallback")


def test_shift_records_exact() -> None:
    """TM2_RQ_HIGHMUL_E gives the TM2_RQ_HIGHMUL value for every reachable sum (both written as the instructions
    compute them, the SSAT included), ties of the rounding included; the checks refuse weights past int16 and
    exponents too far apart."""
    rng = np.random.default_rng(53)

    def smmla(a: int, m: int, hz: int, rounding: bool) -> int:
        v = (a * m + (hz << 32) + ((1 << 31) if rounding else 0)) >> 32
        assert -(1 << 31) <= v < (1 << 31)
        return v

    for _ in range(40):
        channels, taps = 6, int(rng.integers(1, 40))
        w2d = rng.integers(-127, 128, (channels, taps)).astype(np.int64)
        w2d[0, 0] = 127
        e_pref = int(rng.choice(packing.RQ_SHIFTS))
        e = rng.integers(e_pref - 6, e_pref, channels)
        e[1] = e_pref - 1
        mult = rng.integers((1 << 30) + 1, 1 << 31, channels)
        bias = rng.integers(-3000, 3000, channels)
        bound = packing.acc_bound(w2d, bias, 0)
        consts: list[int | None] = [None] * channels
        recs, mode = packing.highmul_records(mult, -e, -128, bound, consts)
        assert mode == packing.RQ_HIGHMUL
        shifted = packing.shift_records(recs, w2d, bound, consts, e_pref)
        assert shifted is not None
        recs_e, ks, e_shift = shifted
        assert e_shift == e_pref and (ks == e_shift - e).all()
        for c in range(channels):
            m, hz, ec = recs[c].tolist()
            _, hz2, _ = recs_e[c].tolist()
            b = int(bound[c])
            # every sum near 0, near the bounds, and the rounding's ties (v + hz = 2^e j: v = 2^e j - hz)
            ties = [(((j << ec) - hz) << 31) // m for j in range(-3, 260, 7)]
            sums = list(range(-300, 300)) + [b, -b, b - 1, 1 - b]
            sums += [t + d for t in ties for d in (-1, 0, 1) if abs(t + d) <= b]
            for acc in sums:
                want = min(127, max(-128, smmla(2 * acc, m, hz, True) >> ec))
                got = min(127, max(-128, smmla((2 * acc) << int(ks[c]), m, hz2, False) >> e_shift))
                assert got == want, (acc, m, ec, int(ks[c]))
    # k = 8 would scale 2 * 127 past int16; exponents 6 and 13 need E >= 14 and k = 8
    w2d = np.full((2, 4), 127, np.int64)
    bound = packing.acc_bound(w2d, None, 0)
    recs, _ = packing.highmul_records(np.array([1 << 30 | 1] * 2), np.array([-6, -13]), -128, bound, [None, None])
    assert packing.shift_scales(recs, w2d, bound, [None, None], 14) is None
    assert packing.shift_records(recs, w2d, bound, [None, None], 12) is None
    assert packing.shift_scales(recs, w2d // 2, bound, [None, None], 14) is not None  # |w| 63: 2^9 * 63 fits


def test_shift_entries_match_packing() -> None:
    """The shifts with entry points in tm2_conv_dsp.h, and their requantisation macros in tm2_conv_dsp.c, are
    packing.RQ_SHIFTS."""
    header = (KERNELS / "tm2_conv_dsp.h").read_text()
    line = next(x for x in header.splitlines() if x.startswith("#define TM2_CONV_RQ_SHIFTS(X)"))
    assert tuple(int(v) for v in re.findall(r"X\((\d+)\)", line)) == packing.RQ_SHIFTS
    source = (KERNELS / "tm2_conv_dsp.c").read_text()
    for e_shift in packing.RQ_SHIFTS:
        assert f'#define TM2_GEMM_RQ_E{e_shift}(A) TM2_GEMM_RQ_SHIFT(A, "{e_shift}")' in source
        assert f"#define TM2_GEMM_RQ_E{e_shift}_REC TM2_GEMM_REC2" in source


def test_depthwise3x3_packed_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(12)
    cases = [dw_case(rng, i) for i in range(120)]
    assert {c.extra["mode"] for c in cases} == {packing.RQ_DOUBLE, packing.RQ_DOUBLE_FAST, packing.RQ_HIGHMUL}
    assert any(c.extra["mode"] == packing.RQ_HIGHMUL and c.extra["zp"] == -128 for c in cases)
    # the assembly's five-output tail (stride 1, out_w % 4 == 1, output offset -128, full range)
    five = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.extra["five"]]
    assert len(five) >= 3
    _check_cases(harness, cases, "dw")


def test_depthwise3x3_planes_small3_entry_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_planes_small3 (vww's 3 x 3 x 256 layer: tm2_dw3x3_s8_small3 alone) on the layers
    packing.dw3x3_small3 takes: 3 x 3 maps, 1 to 300 channels, in place and apart, weights up to 127 or small."""
    rng = np.random.default_rng(27)
    fields = ("in_h", "in_w", "out_h", "out_w", "stride", "pad_h", "pad_w", "output_offset", "act_min", "act_max")
    cases = []
    for i in range(60):
        c = dw_planes_case(rng, i, small3=True)
        v = dict(zip(fields, (c.params[DW_FIELDS.index(f)] for f in fields), strict=True))
        params = {**v, "stride_h": v["stride"]}
        if packing.dw3x3_small3(params, c.extra["mode"]):
            cases.append(replace(c, kind=KIND_DW_SMALL3_INPLACE if c.extra["inplace"] else KIND_DW_SMALL3))
    assert len(cases) >= 30 and any(c.extra["inplace"] for c in cases) and not all(c.extra["inplace"] for c in cases)
    assert not packing.dw3x3_small3({**params, "pad_h": 0}, packing.RQ_HIGHMUL)
    assert not packing.dw3x3_small3(params, packing.RQ_HIGHMUL_E)
    _check_cases(harness, cases, "dw_small3")


def dw_4x4_case(rng: np.random.Generator, i: int) -> Case:
    """tm2_depthwise3x3_s8_4x4: 4 x 4 maps, stride 1, SAME, output offset -128, the full range, TM2_RQ_HIGHMUL (the
    layers packing.dw3x3_4x4 gives the kernel), 1 to 300 channels, weights up to 127 or small ones, dead channels
    (dw_case); in place or apart; the planes geometry for the portable build's fallback."""
    while True:
        case = dw_case(rng, i, (4, 4), stride=1, zp=-128, ch=int(rng.choice([1, 2, 3, 4, 5, 8, 16, 24, 64, 300])),
                       same=True, full_range=True, wmax=int(rng.choice([4, 10, 24])) if i % 4 else 127)
        values = dict(zip(DW_FIELDS, case.params, strict=True))
        geometry = {**values, "stride_h": 1, "in_c": values["channels"]}
        if packing.dw3x3_4x4(geometry, values["rq_mode"]):
            break
    # a batch of two now and then: the sample twice (the second one's input and output 16 ch bytes on)
    batches = 2 if i % 5 == 4 else 1
    blobs = [case.blobs[0] * batches, *case.blobs[1:]]
    expected = case.expected * batches
    plane_len, plane_cols = packing.dw3x3_planes_geometry({**geometry, "stride_h": 1})
    values.update(batches=batches, plane_len=plane_len, plane_cols=plane_cols, plane_ch=int(rng.choice([1, 2, 4])))
    kind = KIND_DW_4X4_INPLACE if rng.random() < 0.5 else KIND_DW_4X4
    return Case(
        kind, _struct(DW_FIELDS, values), blobs,
        packing.dw3x3_planes_scratch_bytes(values["plane_ch"], plane_len, plane_cols), expected,
        f"dw-4x4#{i} {values}", {**case.extra, "inplace": kind == KIND_DW_4X4_INPLACE},
    )


def test_depthwise3x3_4x4_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(27)
    cases = [dw_4x4_case(rng, i) for i in range(80)]
    assert sum(c.extra["inplace"] for c in cases) >= 20
    assert any(c.params[DW_FIELDS.index("batches")] == 2 for c in cases)
    _check_cases(harness, cases, "dw-4x4")


def test_depthwise3x3_planes_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(15)
    cases = [dw_planes_case(rng, i) for i in range(160)] + [dw_planes_case(rng, 160 + i, five=True) for i in range(40)]
    cases += [dw_planes_case(rng, 200 + i, six=True) for i in range(40)]
    cases += [dw_planes_case(rng, 240 + i, short=True) for i in range(40)]
    cases += [dw_planes_case(rng, 280 + i, sixes=True) for i in range(60)]
    cases += [dw_planes_case(rng, 340 + i, three=True) for i in range(30)]
    cases += [dw_planes_case(rng, 370 + i, shifted=True) for i in range(160)]
    cases += [dw_planes_case(rng, 530 + i, small3=True) for i in range(40)]
    assert sum(c.extra["inplace"] for c in cases) >= 20
    assert {c.params[DW_FIELDS.index("plane_ch")] for c in cases} == {1, 2, 4}
    # the transposes' column loop (TM2_DWT_LOOP): every count of row pairs modulo 4 (four a pass), channel pairs and
    # quads (channels a multiple of 4, stride 1: not the stride-2 kernel)
    pch, in_h, pad_h, chs, st = (DW_FIELDS.index(f) for f in ("plane_ch", "in_h", "pad_h", "channels", "stride"))
    loops = {(c.params[pch], (c.params[in_h] - (c.params[pad_h] & 1)) // 2 % 4) for c in cases
             if c.params[pch] in (2, 4) and c.params[chs] % 4 == 0 and c.params[st] == 1}
    assert loops == {(n, r) for n in (2, 4) for r in range(4)}
    rows = DW_FIELDS.index("out_h")
    five = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.extra["zp"] == -128 and c.params[rows] % 4 == 1]
    assert len(five) >= 10
    six = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.params[rows] % 4 == 2 and c.params[rows] > 4]
    assert len(six) >= 10
    # the six-output tail: output offset -128 and the full int8 range ("five" but for 4k + 2 rows)
    zp_i, lo_i, hi_i = (DW_FIELDS.index(f) for f in ("output_offset", "act_min", "act_max"))
    six_tail = [c for c in six if (c.params[zp_i], c.params[lo_i], c.params[hi_i]) == (-128, -128, 127)]
    assert len(six_tail) >= 5 and len(six) > len(six_tail)
    # the no-group form at stride 2 with the corrected requantisation (output offset not -128, full range)
    stride_i = DW_FIELDS.index("stride")
    short = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.params[stride_i] == 2
             and c.params[rows] <= 3 and c.params[zp_i] != -128 and (c.params[lo_i], c.params[hi_i]) == (-128, 127)]
    assert len(short) >= 5
    # tm2_dw_plane_cols6: stride 1, output offset -128, full range, 6k or 6k + 1 rows; each of its forms (one
    # group; an odd or even number of groups, with or without the last single output)
    cols6 = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.params[stride_i] == 1
             and (c.params[zp_i], c.params[lo_i], c.params[hi_i]) == (-128, -128, 127) and c.params[rows] >= 6
             and c.params[rows] % 6 <= 1]
    forms = {("single" if c.params[rows] == 6 else ("odd", "even")[c.params[rows] // 6 % 2 == 0], c.params[rows] % 6)
             for c in cols6}
    assert forms == {("single", 0), ("odd", 0), ("odd", 1), ("even", 0), ("even", 1)}
    # tm2_dw_plane_cols3: the same with three rows
    cols3 = [c for c in cases if c.extra["mode"] == packing.RQ_HIGHMUL and c.params[stride_i] == 1
             and (c.params[zp_i], c.params[lo_i], c.params[hi_i]) == (-128, -128, 127) and c.params[rows] == 3]
    assert len(cols3) >= 5
    # tm2_dw3x3_s8_small3: 3 x 3 maps (padding 1) of one to 300 channels, in place and not, E 0 and other E in the
    # entries (the kernel takes TM2_RQ_HIGHMUL whatever E), a constant channel
    inh_i, inw_i = DW_FIELDS.index("in_h"), DW_FIELDS.index("in_w")
    small3 = [c for c in cols3 if (c.params[inh_i], c.params[inw_i]) == (3, 3)]
    assert {c.params[chs] for c in small3} >= {1, 2, 3, 4, 256, 300}
    assert sum(c.extra["inplace"] for c in small3) >= 5 and sum(not c.extra["inplace"] for c in small3) >= 5
    e3 = {int(np.frombuffer(c.blobs[3], np.int32).reshape(-1, 4)[0, 2]) for c in small3}
    assert 0 in e3 and len(e3) > 1
    assert any((np.frombuffer(c.blobs[3], np.int32).reshape(-1, 4)[:, 0] == 0).any() for c in small3)
    # tm2_dw_plane_cols6_e<E>: every E of DW_RQ_SHIFTS (the entries' third word), each of the forms, some with a constant
    # channel (m = 0); the other E of DW_PLANE_SHIFTS (for the specialised loops) run as TM2_RQ_HIGHMUL here
    entries = [np.frombuffer(c.blobs[3], np.int32).reshape(-1, 4) for c in cols6]
    shifted6 = [(c, t) for c, t in zip(cols6, entries, strict=True) if t[0, 2] in packing.DW_RQ_SHIFTS]
    assert {int(t[0, 2]) for _, t in shifted6} == set(packing.DW_RQ_SHIFTS)
    assert {int(t[0, 2]) for t in entries} > {0, *packing.DW_RQ_SHIFTS}
    assert {("single" if c.params[rows] == 6 else ("odd", "even")[c.params[rows] // 6 % 2 == 0], c.params[rows] % 6)
            for c, _ in shifted6} == forms
    assert any((t[:, 0] == 0).any() for _, t in shifted6)
    _check_cases(harness, cases, "dw_planes")


def test_depthwise3x3_planes_spec_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_planes_spec: the specialised six-output loops (TM2_DW_PLANE_SPEC) of every row count of
    SPEC_ROWS and E 0 and 12, columns unrolled or in a loop, on 1, 2 or 4 channels a time, in place and not;
    descriptors of another shape and none (the generic loop)."""
    cases, specs = dw_spec_cases()
    taken = [c for c in cases if c.extra["spec"] >= 0 and f"'name': '{specs[c.extra['spec']]['name']}_i" in c.label]
    assert {(specs[c.extra["spec"]]["rows"], specs[c.extra["spec"]]["e"]) for c in taken} >= {
        (rows, e) for rows in SPEC_ROWS for e in (0, 12)
    }
    assert {specs[c.extra["spec"]]["e"] for c in taken} == {0, *packing.DW_PLANE_SHIFTS}
    assert {c.params[DW_FIELDS.index("plane_ch")] for c in taken} == {1, 2, 4}
    assert {specs[c.extra["spec"]]["cols"] > 0 for c in taken} == {True, False}  # columns unrolled and a loop
    # columns unrolled of 6k + 1 outputs: the last outputs of column pairs in one unit, an odd count's last alone
    assert {specs[c.extra["spec"]]["cols"] % 2 for c in taken
            if specs[c.extra["spec"]]["cols"] > 1 and specs[c.extra["spec"]]["rows"] % 6 == 1} == {0, 1}
    assert any(c.extra["inplace"] for c in taken) and any(not c.extra["inplace"] for c in taken)
    assert any(c.params[DW_FIELDS.index("channels")] > c.params[DW_FIELDS.index("plane_ch")] for c in taken)
    # columns unrolled on input columns the descriptor knows (row / ch): SAME, the padding plane columns skipped (the
    # first column's row a, the last's row c; with 6k + 1 outputs, in the last outputs of column pairs and alone),
    # and VALID (none)
    def skips(c: Case) -> tuple[int, int, int] | None:
        v, sp = values_of(c), specs[c.extra["spec"]]
        if sp["cols"] and sp["ch"] == v["channels"] and sp["row"] == v["in_w"] * v["channels"]:
            return v["pad_w"], sp["rows"] % 6, sp["cols"] % 2 if sp["rows"] % 6 else 0
        return None

    assert {skips(c) for c in taken} >= {(1, 0, 0), (1, 1, 0), (1, 1, 1), (0, 0, 0)}
    assert len(cases) - len(taken) - sum(c.extra["spec"] == -1 for c in cases) >= 8
    assert any(c.extra["spec"] == -1 for c in cases)

    def transposes(c: Case, g: int) -> tuple[int, int] | None:  # (head, tail) where it runs the spec's transpose
        v, sp = values_of(c), specs[c.extra["spec"]]
        taken = v["plane_ch"] == sp["g"] == g and v["channels"] >= g and (g == 2 or v["channels"] % 4 == 0) and (
            sp["in_h"], sp["head"], sp["row"], sp["ch"], sp["ps"]) == (
            v["in_h"], v["pad_h"] & 1, v["in_w"] * v["channels"], v["channels"], 2 * v["plane_cols"] * v["plane_len"])
        return (sp["head"], (v["in_h"] - sp["head"]) & 1) if taken else None

    def pairs(c: Case) -> tuple[int, int] | None:
        return transposes(c, 2)

    # pairs and quads with a head or not, a tail or not
    assert {pairs(c) for c in taken} >= {(1, 0), (1, 1), (0, 0), (0, 1)}
    assert {transposes(c, 4) for c in taken} >= {(1, 0), (1, 1), (0, 0), (0, 1)}
    # columns unrolled (TM2_DW6T_UNROLLED), loads from s2 among them, and in a loop, s moving on within a column
    def unrolled(c: Case) -> bool:
        v, sp = values_of(c), specs[c.extra["spec"]]
        n = sp["head"] + (sp["in_h"] - sp["head"] + 1) // 2
        return ((v["in_w"] - 1) * v["channels"] + (v["in_h"] - 1) * sp["row"] <= 4320 + 4095
                and (v["in_w"] - 1) * sp["rl2"] + sp["ps"] + 4 * (n - 1) <= 4095 and v["in_w"] * n <= 80)

    def span(c: Case) -> int:  # (the last load's offset from the first)
        v = values_of(c)
        return (v["in_w"] - 1) * v["channels"] + (v["in_h"] - 1) * v["in_w"] * v["channels"]

    assert any(pairs(c) and unrolled(c) and span(c) > 4095 for c in taken)
    assert any(pairs(c) and not unrolled(c) and span(c) > 4095 for c in taken)
    assert any(pairs(c) and not unrolled(c) and span(c) <= 4095 for c in taken)
    # runs of three pairs (eight rows past an offset); quads (a loop) with s moving on and not
    assert any(pairs(c) and not unrolled(c) and 7 * values_of(c)["in_w"] * values_of(c)["channels"] > 4095
               for c in taken)
    assert any(transposes(c, 4) and span(c) > 4095 for c in taken)
    assert any(transposes(c, 4) and span(c) <= 4095 for c in taken)
    # a quad's columns unrolled (TM2_DW6T_UNROLLED: at most 32 pair-outs), loads beyond 4095 from s + 4320 (vww's
    # 6 x 6 x 128), and in a loop
    def quad_pair_outs(c: Case) -> int:
        sp = specs[c.extra["spec"]]
        return values_of(c)["in_w"] * (sp["head"] + (sp["in_h"] - sp["head"] + 1) // 2)

    assert any(transposes(c, 4) and unrolled(c) and quad_pair_outs(c) <= 32 and span(c) > 4095 for c in taken)
    assert any(transposes(c, 4) and quad_pair_outs(c) > 32 for c in taken)
    # a pair's plane 1 stores from d2 (past an offset from d)
    assert any(pairs(c) and specs[c.extra["spec"]]["ps"] + 4 * (values_of(c)["in_h"] // 2) > 4095 for c in taken)
    _check_cases(harness, list(cases), "dw_spec")


def dw_whole_cases() -> list[Case]:
    """The cases of the specialised loops whose descriptor covers them whole by dw3x3_plane_spec's own account (its
    "whole" lists their channels a call, and the descriptor is theirs: the harness keeps the first of each loop's
    name), as tm2_depthwise3x3_s8_planes_whole cases."""
    cases, specs = dw_spec_cases()
    whole = []
    for c in cases:
        v, k = values_of(c), c.extra["spec"]
        if k < 0:
            continue
        geometry = {key: v[key] for key in ("in_h", "out_h", "pad_h", "in_w", "out_w", "pad_w")}
        mine = packing.dw3x3_plane_spec(
            {**geometry, "stride_h": 1, "in_c": v["channels"], "input_offset": v["input_offset"],
             "output_offset": -128, "act_min": -128, "act_max": 127},
            np.frombuffer(c.blobs[3], np.int32), c.extra["mode"],
        )
        sp = specs[k]
        loop, transpose = ("e", "chm", "rl2", "rows"), ("in_h", "head", "row", "ch", "ps")
        if mine is None or v["plane_ch"] not in mine["whole"] or sp["cols"] not in (0, mine["cols"]):
            continue
        if any(mine[key] != sp[key] for key in loop):
            continue
        # (one channel a call: the plain transpose; else the descriptor's, built for these channels a call)
        if v["plane_ch"] == 1 or (v["plane_ch"] == sp["g"] and all(mine[key] == sp[key] for key in transpose)):
            kind = KIND_DW_WHOLE_INPLACE if c.extra["inplace"] else KIND_DW_WHOLE
            whole.append(replace(c, kind=kind, label=c.label.replace("dw-spec", "dw-whole")))
    return whole


def test_depthwise3x3_planes_whole_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_planes_whole: the cases that their descriptor covers whole (dw_whole_cases), pairs and
    quads, with a head or not, in place and not, through the specialised transpose and loop alone (a case the
    descriptor did not cover would trap)."""
    whole = dw_whole_cases()
    assert {(values_of(c)["pad_h"] & 1, values_of(c)["plane_ch"]) for c in whole} == {
        (head, g) for head in (0, 1) for g in (1, 2, 4)}
    assert {c.kind for c in whole} == {KIND_DW_WHOLE, KIND_DW_WHOLE_INPLACE}
    assert any(values_of(c)["channels"] > values_of(c)["plane_ch"] for c in whole)
    _check_cases(harness, whole, "dw_whole")


def plane_records_case(c: Case) -> Case:
    """A tm2_depthwise3x3_s8_planes_whole case on the records of its layer (packing.dw3x3_plane_records of the filter
    its packed words hold, its bias and rq) instead of its weights, bias and rq, with the descriptor's records form."""
    ch = values_of(c)["channels"]
    words = np.frombuffer(c.blobs[1], np.uint32)[: 6 * ch].reshape(ch, 6)
    lo, hi = (words & 0xFFFF).astype(np.uint16).view(np.int16), (words >> 16).astype(np.uint16).view(np.int16)
    # (per filter row y: the words (w_y0, w_y1), (w_y1, w_y2))
    filt = np.stack([np.stack([lo[:, 2 * y], hi[:, 2 * y], hi[:, 2 * y + 1]]) for y in range(3)]).astype(np.int8)
    bias = np.frombuffer(c.blobs[2], np.int32) if c.blobs[2] else None
    records = packing.dw3x3_plane_records(filt.reshape(1, 3, 3, ch), bias, np.frombuffer(c.blobs[3], np.int32))
    kind = KIND_DW_WHOLE_REC_INPLACE if c.kind == KIND_DW_WHOLE_INPLACE else KIND_DW_WHOLE_REC
    return replace(c, kind=kind, blobs=[c.blobs[0], records.tobytes(), b"", b""],
                   label=c.label.replace("dw-whole", "dw-rec"))


def test_depthwise3x3_planes_whole_records_match_reference(harness_rec: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_planes_whole with the records form of the descriptor (TM2_DW_PLANE_SPEC_REC, the DSP
    build with an FPU: the records harness) on the layer's records (packing.dw3x3_plane_records): every case of
    dw_whole_cases, E 0 (ten
    words a channel, e among them), 10, 11, 12 and the others, columns unrolled (the padding plane columns skipped
    or not) and in a loop (its first and last columns peeled or not), 6k and 6k + 1 rows, 1, 2 and 4 channels a call, one and many channel groups, in place and
    not, layers without a bias; vww's 6 x 6 x 128 quads among them."""
    cases, specs = dw_spec_cases()
    rec = [plane_records_case(c) for c in dw_whole_cases()]
    spec_of = [specs[c.params[-1]] for c in rec]
    assert {sp["e"] for sp in spec_of} == {0, *packing.DW_PLANE_SHIFTS}
    assert {values_of(c)["plane_ch"] for c in rec} == {1, 2, 4}
    assert {sp["cols"] > 0 for sp in spec_of} == {True, False}
    assert {sp["rows"] % 6 for sp in spec_of} == {0, 1}
    assert {(values_of(c)["pad_w"], sp["cols"] > 0) for c, sp in zip(rec, spec_of, strict=True)} >= {
        (1, True), (0, True), (1, False)}
    assert any(values_of(c)["channels"] > values_of(c)["plane_ch"] for c in rec)
    assert {c.kind for c in rec} == {KIND_DW_WHOLE_REC, KIND_DW_WHOLE_REC_INPLACE}
    assert any(not c.blobs[2] for c in dw_whole_cases())  # (a layer without a bias: zeros in its records)
    # columns in a loop: SAME, the first and last columns peeled (TM2_DW6S_PEEL: the descriptor knows the input
    # columns, output stride = input row), E 0 and not, and VALID (none peeled)
    peeled = {(sp["e"] == 0, sp["chm"] == sp["row"]) for c, sp in zip(rec, spec_of, strict=True)
              if sp["cols"] == 0 and sp["ch"] == values_of(c)["channels"] and sp["row"] >= 3 * sp["ch"]}
    assert peeled >= {(True, True), (False, True), (False, False)}
    vww = {(sp["e"], sp["cols"]) for c, sp in zip(rec, spec_of, strict=True) if values_of(c)["channels"] == 128
           and values_of(c)["out_h"] == 6 and values_of(c)["plane_ch"] == 4}
    assert vww >= {(10, 6), (11, 6), (0, 6)}
    _check_cases(harness_rec, rec, "dw_rec")


def test_plane_spec_only_where_the_loop_applies_and_its_offsets_fit() -> None:
    """packing.dw3x3_plane_spec: the six-output loop's forms only, and only shapes whose offsets stay in range."""
    kws = {"stride_h": 1, "in_h": 25, "out_h": 25, "pad_h": 1, "in_w": 5, "out_w": 5, "pad_w": 1, "in_c": 64,
           "input_offset": 0, "output_offset": -128, "act_min": -128, "act_max": 127}
    rq = np.zeros((64, 4), np.int32)
    rq[:, 2] = 12
    spec = packing.dw3x3_plane_spec(kws, rq, packing.RQ_HIGHMUL)
    assert spec == {"e": 12, "chm": 320, "rl2": 60, "rows": 25, "cols": 5, "in_h": 25, "head": 1, "row": 320,
                    "ch": 64, "ps": 420, "whole": [1, 2, 4], "name": "tm2_dw6_e12_c320_r60_h25_w5_i25_1_320_64_420"}
    # covered whole: pairs and quads of channels a multiple of their count, an int8 padding byte, a transpose
    for change, whole in (({"in_c": 62}, [1, 2]), ({"in_c": 63}, [1]), ({"input_offset": 128}, [1, 2, 4]),
                          ({"input_offset": -127}, [1, 2, 4]), ({"input_offset": 129}, [1]),
                          ({"input_offset": -128}, [1])):
        assert packing.dw3x3_plane_spec({**kws, **change}, rq, packing.RQ_HIGHMUL)["whole"] == whole, change
    assert packing.dw3x3_plane_spec(kws, rq, packing.RQ_DOUBLE) is None
    for change in ({"stride_h": 2}, {"output_offset": -127}, {"act_min": -127}, {"act_max": 126},
                   {"in_h": 26, "out_h": 26}, {"in_h": 5, "out_h": 5}):
        assert packing.dw3x3_plane_spec({**kws, **change}, rq, packing.RQ_HIGHMUL) is None, change
    # the output stride: 5 chm an STRB offset, 6 chm an ADD immediate (768: 0x12 << 8; 770 and 820 not)
    assert packing.dw3x3_plane_spec({**kws, "in_w": 6, "out_w": 6, "in_c": 128}, rq, packing.RQ_HIGHMUL)["chm"] == 768
    for in_c in (154, 164):
        assert packing.dw3x3_plane_spec({**kws, "in_c": in_c}, rq, packing.RQ_HIGHMUL) is None
    # the plane column: the last group's LDRD at 2 rl2 + 12 (k - 1) + 8 <= 1020, k groups
    taken = [r for r in range(6, 600, 6) if packing.dw3x3_plane_spec({**kws, "in_h": r, "out_h": r}, rq,
                                                                     packing.RQ_HIGHMUL)]
    last = packing.dw3x3_plane_spec({**kws, "in_h": taken[-1], "out_h": taken[-1]}, rq, packing.RQ_HIGHMUL)
    assert taken == list(range(6, taken[-1] + 1, 6)) and 1000 < 2 * last["rl2"] + 12 * (taken[-1] // 6 - 1) + 8 <= 1020
    # the edge descriptors the harness assembles are at those limits (the next plane column, 4 bytes on, is not)
    last_ldrd = [(cols + 1 if cols else 2) * rl2 + 12 * (rows // 6 - 1) + 8
                 for _, _, _, rl2, rows, cols, *_ in SPEC_EDGES]
    assert last_ldrd == [1020, 1020, 148, 1004, 1016, 68, 164, 1004, 292, 292]
    assert all(5 * chm <= 4095 and packing._thumb_add_imm(6 * chm) for _, _, chm, *_ in SPEC_EDGES)
    assert all(packing._thumb_add_imm(abs(chm // cols - 6 * (rows // 6) * chm))
               for _, _, chm, _, rows, cols, *_ in SPEC_EDGES if cols)
    # the transposes': a run's rows (at the limits in edges a, b and g) and the last plane 1 store (at 4095 in a,
    # b and g, past it in i and j)
    last_str = [ps + 4 * (head + (in_h - head + 1) // 2 - 1) for *_, in_h, head, _, _, ps, _ in SPEC_EDGES if in_h]
    assert last_str == [4095, 4095, 468, 4095, 468, 8286, 4096]
    assert [(7 if row * 7 <= 4095 else 5) * row for *_, in_h, _, row, _, _, _ in SPEC_EDGES if in_h] == [
        4095, 4095, 2240, 4095, 2240, 560, 560]
    # and only where they fit: the loads past that limit take tm2_dw_planes_pair / _quad (in_h 0)
    wide = {**kws, "in_h": 27, "pad_h": 0, "in_w": 7, "pad_w": 0, "in_c": 117}  # (VALID) 5 row = 4095
    assert packing.dw3x3_plane_spec(wide, rq, packing.RQ_HIGHMUL)["in_h"] == 27
    assert packing.dw3x3_plane_spec({**wide, "in_c": 118}, rq, packing.RQ_HIGHMUL)["in_h"] == 0
    assert packing.dw3x3_plane_spec({**wide, "in_c": 118}, rq, packing.RQ_HIGHMUL)["whole"] == [1]
    # quads only where planes 1 and 3 are a store offset away (TM2_DW6T_QUAD_FITS: ps + 4 (pair-outs - 1) <= 4095)
    tall = {**kws, "in_h": 37, "out_h": 37, "in_w": 50, "out_w": 50, "in_c": 4}
    quads = [w for w in range(40, 60) if 4 in packing.dw3x3_plane_spec(
        {**tall, "in_w": w, "out_w": w}, rq, packing.RQ_HIGHMUL)["whole"]]
    last = packing.dw3x3_plane_spec({**tall, "in_w": quads[-1], "out_w": quads[-1]}, rq, packing.RQ_HIGHMUL)
    assert quads == list(range(40, quads[-1] + 1)) and quads[-1] < 59
    assert 4095 - 2 * last["rl2"] < last["ps"] + 4 * (last["head"] + (37 - last["head"] + 1) // 2 - 1) <= 4095
    # columns unrolled up to DW_SPEC_UNROLL outputs a channel (kws), not beyond (a loop)
    assert spec["cols"] == 5
    assert packing.dw3x3_plane_spec({**kws, "in_w": 7, "out_w": 7}, rq, packing.RQ_HIGHMUL)["cols"] == 0


def test_depthwise3x3_direct_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_direct (tm2_inplace.c): the scratch-free kernel the plan runs in place where the
    packed kernel's scratch would raise the arena; four channels a pixel in assembly with the DSP extension."""
    rng = np.random.default_rng(16)
    cases = []
    for i in range(120):
        case = dw_case(rng, i)
        cases.append(Case(KIND_DW_DIRECT, case.params, case.blobs, 0, case.expected, f"dw-direct#{i}", case.extra))
    channels = [c.params[DW_FIELDS.index("channels")] for c in cases]
    assert sum(ch % 4 == 0 for ch in channels) >= 40
    _check_cases(harness, cases, "dw_direct")


def test_depthwise3x3_s2_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_s2 (tm2_dw_s2_dsp.c), which the packed and direct kernels (and the planes kernel)
    run for stride 2 with the DSP extension, on the records after the packed weights: one to eighteen channel
    quads (runs of more than TM2_DWS2_CHUNK quads), SAME (odd widths: a left edge pixel; the right edge) and
    VALID, one to twelve input rows (the first or the last filter row in the padding, or two of them), three
    to 24 columns, both output offset forms, and with output offset -128 also with the records of TM2_RQ_HIGHMUL_E
    (smaller weights, larger multipliers: right shifts below E; some with a constant channel); the same cases through
    the portable kernels."""
    rng = np.random.default_rng(31)
    cases = []
    shapes = [(1, 3), (2, 5), (3, 3), (4, 4), (5, 7), (7, 9), (12, 24), (6, 6), (9, 4), (2, 16), (1, 8), (3, 11)]
    for ch in (4, 8, 68, 72):
        for hw in shapes:
            for same in (True, False):
                for zp, shifted in ((-128, False), (7, False), (-128, True)):
                    i = len(cases)
                    case = dw_case(rng, i, hw, stride=2, zp=zp, ch=ch, same=same, full_range=True,
                                   wmax=int(rng.choice([4, 10, 24])) if shifted else 127,
                                   acc_scale=2.0 ** -int(rng.integers(6, 10)) if shifted else None)
                    if case.params[DW_FIELDS.index("out_h")] * case.params[DW_FIELDS.index("out_w")] == 0:
                        continue
                    kind = KIND_DW_DIRECT if i % 2 else KIND_DW
                    cases.append(Case(kind, case.params, case.blobs, 0 if kind == KIND_DW_DIRECT else case.scratch,
                                      case.expected, f"dw-s2#{i} {case.label}", case.extra))
    fields = [dict(zip(DW_FIELDS, c.params, strict=True)) for c in cases]
    taken = [f for f, c in zip(fields, cases, strict=True) if packing.dw3x3_s2_variants(
        f["channels"], f["in_w"], f["out_w"], f["pad_w"], f["stride"], c.extra["mode"], f["act_min"], f["act_max"])]
    assert len(taken) >= 80
    assert {f["pad_w"] for f in taken} == {0, 1} and {f["pad_h"] for f in taken} == {0, 1}
    assert any(f["in_h"] < 3 for f in taken) and any(f["channels"] > 64 for f in taken)
    # the TM2_RQ_HIGHMUL_E records (a negative third requantisation word), some with a constant channel (m = 0)
    shifted = []
    for f, c in zip(fields, cases, strict=True):
        words = np.frombuffer(c.blobs[1], np.int32)[6 * f["channels"]:]
        if words.size and words[24] < 0:
            shifted.append(words.reshape(-1, packing.DW_S2_RECORD_WORDS)[:, 22:34].reshape(-1, 3))
    assert len(shifted) >= 40 and len(taken) - len(shifted) >= 60
    assert {int(r[0, 2]) for r in shifted} == {-e for e in packing.DW_S2_RQ_SHIFTS}
    assert any((r[:, 0] == 0).any() for r in shifted)
    _check_cases(harness, cases, "dw_s2")


def test_depthwise3x3_s2_spec_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """tm2_depthwise3x3_s8_s2_spec: the stride-2 kernel with the specialised runs of TM2_DWS2_SPEC (immediate
    offsets from one input pointer) on the rows with every filter row inside the input, the generic run on the
    others and where the run's channels or rows are not the layer's (or none is given); without the DSP extension
    the direct, packed or planes kernel (dw_s2_spec_cases)."""
    cases, specs = dw_s2_spec_cases()
    fields = [values_of(c) for c in cases]
    assert len(cases) >= 80 and len(specs) >= 10
    assert {f["pad_w"] for f in fields} == {0, 1} and {f["pad_h"] for f in fields} == {0, 1}
    assert any(f["in_h"] < 3 for f in fields) and {f["channels"] for f in fields} == {4, 8, 72, 128, 256}
    assert {f["in_h"] % 2 for f in fields} == {0, 1} and {f["in_w"] % 2 for f in fields} == {0, 1}
    runs = [c.extra["spec"] & 0xFFFF if c.extra["spec"] >= 0 else -1 for c in cases]
    matched = [specs[k]["ch"] == f["channels"] and specs[k]["row"] == f["in_w"] * f["channels"]
               for k, f in zip(runs, fields, strict=True) if k >= 0]
    assert sum(matched) >= 60 and not all(matched) and -1 in runs
    forms = [specs[k]["rq"] for k in runs if k >= 0]
    assert forms.count("E") >= 25 and forms.count("LOW") >= 25
    # tm2_depthwise3x3_s8_s2_whole: with and without a right edge pixel and run2 (even heights), both forms, shifts
    # other than 12, odd and even numbers of interior pixels
    whole = [(specs[k], f) for k, f, c in zip(runs, fields, cases, strict=True) if c.extra["spec"] >= 0x10000]
    assert len(whole) >= 20 and {s["edge"] for s, _ in whole} == {0, 1} and {s["rq"] for s, _ in whole} == {"E", "LOW"}
    assert {s["n"] % 2 for s, _ in whole} == {0, 1} and {s["n"] % 2 for s in specs} == {0, 1}
    assert any(f["in_h"] % 2 == 0 and f["out_h"] * 2 > f["in_h"] - 2 for _, f in whole)
    assert len({s["e"] for s, _ in whole} - {0, 12}) >= 1
    _check_cases(harness, list(cases), "dw_s2_spec")


def test_fully_connected_packed_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(13)
    cases = [fc_case(rng, i) for i in range(70)]
    assert {c.extra["mode"] for c in cases} == {
        packing.RQ_DOUBLE, packing.RQ_DOUBLE_FAST, packing.RQ_SINGLE, packing.RQ_SINGLE_FAST
    }
    _check_cases(harness, cases, "fc")


def test_fully_connected_single_entry_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Layers of tm2_fully_connected_s8_packed_single (the harness calls it for them, as the generated code does:
    packing.fc_packed_entry): single rounding, one multiplier, the full int8 range; out_depth 1 to 13 (full groups
    of four rows and every partial last group), several batches, with and without bias."""
    rng = np.random.default_rng(17)
    cases = [fc_case(rng, i, single_tensor=True) for i in range(40)]
    assert all(c.extra["mode"] == packing.RQ_SINGLE_FAST for c in cases)
    outs = {c.params[FC_FIELDS.index("out_depth")] % 4 for c in cases}
    assert outs == {0, 1, 2, 3}
    assert packing.fc_packed_entry({"per_channel": 0, "act_min": -128, "act_max": 127}, packing.RQ_SINGLE_FAST) == (
        "tm2_fully_connected_s8_packed_single")
    assert packing.fc_packed_entry({"per_channel": 1, "act_min": -128, "act_max": 127}, packing.RQ_SINGLE_FAST) == (
        "tm2_fully_connected_s8_packed")
    assert packing.fc_packed_entry({"per_channel": 0, "act_min": -128, "act_max": 100}, packing.RQ_SINGLE_FAST) == (
        "tm2_fully_connected_s8_packed")
    assert packing.fc_packed_entry({"per_channel": 0, "act_min": -128, "act_max": 127}, packing.RQ_DOUBLE_FAST) == (
        "tm2_fully_connected_s8_packed")
    _check_cases(harness, cases, "fc_single")


def test_requantisation_forms_match_tflite_rounding(harness: tuple[str, Path, Path]) -> None:
    variant, exe, root = harness
    case, want, modes = requant_case(np.random.default_rng(14), 2000)
    n = len(want)
    data = run_harness(exe, variant, encode([case], [8 * n]), root / "rq")
    (got_bytes, guard), = decode(data, [8 * n])
    assert guard
    got = np.frombuffer(got_bytes, np.int32).reshape(n, 2).astype(np.int64)
    fast = (modes == packing.RQ_DOUBLE_FAST) | (modes == packing.RQ_SINGLE_FAST)
    assert fast.sum() > n // 2 and (~fast).sum() > n // 10
    assert np.array_equal(got[:, 0], want), f"{variant}: {int((got[:, 0] != want).sum())} records differ"
    if variant == "dsp":  # the SMLAL forms with saturation to int8
        assert np.array_equal(got[fast, 1], np.clip(want[fast], -128, 127))


def test_pointwise_in_place_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Pointwise layers on the pointwise path run in place over the whole tensor (what tinym2net/ops/inplace.py
    offers): out_c <= in_c from the first pixel up, expanding layers (out_c > in_c, the output over the input and
    the bytes after it) from the last pixel down, vww's 8 -> 16 pixel pairs with an odd last pixel among them; pixel
    counts with 0 to 3 pixels after the last block of four and under four pixels, every requantisation form; the
    bytes after the output keep the input's."""
    rng = np.random.default_rng(29)
    cases = []
    for i, (in_c, out_c, pixels) in enumerate(
        [(8, 8, 16), (8, 6, 13), (16, 16, 9), (16, 10, 7), (32, 32, 25), (32, 2, 6), (64, 64, 125), (64, 48, 3),
         (128, 128, 10), (128, 64, 2), (16, 16, 1), (8, 4, 11),
         (8, 16, 13), (8, 16, 10), (8, 16, 3), (16, 32, 11), (16, 24, 9), (32, 64, 14), (32, 40, 5), (64, 128, 7),
         (64, 66, 2), (128, 256, 9), (8, 32, 6), (16, 64, 4),
         # pixels a multiple of three but not of four, out_c other than 256 (blocks of four, the last one moved back)
         (64, 64, 9), (128, 96, 15), (256, 64, 9), (256, 32, 6)]
    ):
        for zp, shift in ((-128, None), (7, None), (-128, 12)):
            shape = {"in_c": in_c, "out_c": out_c, "kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1),
                     "same": True, "h": 1, "w": pixels, "zp": zp, "act": (-128, 127), "rq_shift": shift}
            if shift:
                shape["e"] = (shift - 7, shift - 1)
            c = conv_case(rng, i, shape)
            if c.extra["path"] != packing.CONV_PATH_POINTWISE:  # a multiplier the fast forms cannot take
                continue
            x = c.blobs[0]
            want = c.expected + x[len(c.expected):]
            cases.append(Case(KIND_CONV_INPLACE, c.params, c.blobs, c.scratch, want, f"in place {c.label}", c.extra))
    assert len(cases) >= 30 and {c.extra["mode"] for c in cases} == {packing.RQ_HIGHMUL, packing.RQ_HIGHMUL_E}
    _check_cases(harness, cases, "pw_inplace")


def avg_pool_case(rng: np.random.Generator, i: int, h: int, w: int, ch: int, k: tuple[int, int] | None = None) -> Case:
    """AVERAGE_POOL_2D of an h x w x ch input: global (k None: the window is the whole input, the DSP path for
    channel counts of 8 k up to 255 pixels) or a k window at stride 1, SAME (the generic loop)."""
    kh, kw = (h, w) if k is None else k
    oh, ph = out_size_and_pad(k is not None, h, kh, 1)
    ow, pw = out_size_and_pad(k is not None, w, kw, 1)
    # extreme inputs in some cases: the 16-bit lane sums at their bounds (255 x -128, 255 x 127)
    fill = [None, -128, 127][i % 3] if h * w == 255 else None
    x = rng.integers(-128, 128, (1, h, w, ch), dtype=np.int8) if fill is None else np.full((1, h, w, ch), fill, np.int8)
    act_min, act_max = (-128, 127) if i % 4 else (-20, 30)
    want = avg_pool2d(x, k_hw=(kh, kw), out_hw=(oh, ow), stride=(1, 1), pad=(ph, pw), act_min=act_min,
                      act_max=act_max)
    values = [1, h, w, ch, oh, ow, kh, kw, 1, 1, ph, pw, act_min, act_max]
    return Case(KIND_AVG_POOL, values, [x.tobytes(), b"", b"", b""], 0, want.tobytes(), f"avgpool#{i} {values}")


def test_avg_pool_matches_reference(harness: tuple[str, Path, Path]) -> None:
    """Global average pooling (kws' 25 x 5 x 64: 16 channels a pass; 8 k + 8 channels: the 8-channel pass;
    255 pixels of -128 or 127: the lane sums at their bounds) and the generic window loop."""
    rng = np.random.default_rng(17)
    shapes = [(25, 5, 64), (3, 3, 256), (5, 5, 24), (1, 1, 8), (2, 3, 40), (15, 17, 16), (15, 17, 16), (15, 17, 8),
              (15, 17, 24), (16, 16, 8), (4, 4, 12), (3, 5, 7)]
    cases = [avg_pool_case(rng, i, *s) for i, s in enumerate(shapes)]
    cases += [avg_pool_case(rng, 100 + i, 6, 7, ch, (2, 3)) for i, ch in enumerate((8, 16, 5))]
    _check_cases(harness, cases, "avg_pool")


def test_add_matches_reference(harness: tuple[str, Path, Path]) -> None:
    rng = np.random.default_rng(15)
    cases = [add_case(rng, i) for i in range(30)]
    assert any(len(c.expected) >= 1024 for c in cases) and any(len(c.expected) < 1024 for c in cases)
    _check_cases(harness, cases, "add")


def test_add_tables_extreme_scales_match_reference(harness: tuple[str, Path, Path]) -> None:
    """Scale ratios far from 1 (right shifts of the table rescale up to ~20) on the table path."""
    rng = np.random.default_rng(16)
    cases = [add_case(rng, i, ratio) for i in (0, 1, 3) for ratio in (1e-6, 1e-3, 0.05, 20.0, 3e3)]
    _check_cases(harness, cases, "add_extreme")


@pytest.mark.emulator
def test_whole_model_bit_exact_and_counted_on_the_dsp_path(tmp_path: Path) -> None:
    """KWS through check_model on nano33 (Cortex-M4, DSP kernels): bit-exact with LiteRT, and the
    speed fields count one inference at well under the portable kernels' ~10 cycles per MAC."""
    from conftest import mlperf_path, require_cross_tools

    from tinym2net.verify import check_model

    require_cross_tools()
    pytest.importorskip("unicorn")
    res = check_model(mlperf_path("kws_ref_model"), load_board("nano33"), inputs=2, count=True)
    assert res.bit_exact, res.first_mismatch
    speed = res.to_json()
    assert speed["macs"] == 2_656_768  # conv 320,000 + 4 x (depthwise 72,000 + pointwise 512,000) + FC 768
    assert 0 < speed["instructions"] <= speed["est_cycles"]
    assert speed["est_cycles"] < 4 * speed["macs"]
    assert speed["est_ms"] == pytest.approx(1000.0 * speed["est_cycles"] / load_board("nano33").clock_hz, abs=1e-3)
