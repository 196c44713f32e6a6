/* tinym2net in-place convolutions: an op's output overwrites its own (dying) input, both starting at
 * the same arena address, so the op needs max(in, out) bytes plus a small ring instead of in + out.
 * Hand-written for tinym2net. C99, no heap, no state outside the caller's iterator.
 *
 * Row bands. A convolution's output row r reads only input rows r*stride - pad .. r*stride - pad +
 * span - 1 (span = (filter_h - 1) * dilation_h + 1). The driver cuts the output into bands of `band`
 * rows and hands each band to the op's ordinary (out-of-place) kernel as a smaller convolution: the
 * input pointer is the band's first input row *in the arena*, in_h / pad_h are the band's rows and
 * top padding, and the output pointer is a slot of a small ring in the scratch buffer. The kernel
 * therefore computes exactly what it computes out of place (same taps, same arithmetic): bit-exact by
 * construction, whatever the kernel (reference, packed SIMD, int4).
 *
 * Direct bands. When nothing is pending in the ring and a band's output bytes hold no input row that it or a
 * later band reads, the kernel writes the band in its final place (no ring, no copy): expanding layers run
 * bottom-up and shrinking ones top-down mostly go so.
 *
 * Commit rule. A finished output row is copied from the ring to its final place only when those bytes
 * hold no input row that a band still to run reads. Bands run top to bottom (forward) or bottom to top
 * (reverse; for outputs larger than the input, where forward would never free anything); rows are
 * committed oldest first. Whether a row may be committed depends only on the shapes, so the compiler
 * simulates the driver (tinym2net/ops/inplace.py) and sizes the ring: `ring_bands` bands of slots, so
 * that a band's slot is always free when it runs. Example: a 3x3 stride-1 convolution with equal input
 * and output rows keeps two rows in the ring: row r can be stored once row r + 1 is computed.
 *
 * Usage (what the generated code does):
 *   tm2_inplace_iter it; tm2_inplace_band bd; <kernel params> q = op_params;
 *   tm2_inplace_rows_begin(&rows, &it, data, ring);
 *   while (tm2_inplace_rows_next(&rows, &it, &bd)) {
 *     q.in_h = bd.in_h; q.pad_h = bd.pad_h; q.out_h = bd.out_h;
 *     kernel(&q, bd.input, ..., bd.output);
 *   }
 * Batch 1 only. Pointwise (1x1, stride 1) convolutions are run as one column of in_h * in_w pixels, so
 * that a band is a few pixels and the ring a few pixels' bytes. */
#ifndef TM2_INPLACE_H
#define TM2_INPLACE_H
#include <stdint.h>

#include "tm2_conv_dsp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t in_h, in_row;     /* input rows and bytes per input row */
  int32_t out_h, out_row;   /* output rows and bytes per output row */
  int32_t stride, pad;      /* output row r starts reading at input row r * stride - pad */
  int32_t span;             /* input rows one output row reads: (filter_h - 1) * dilation_h + 1 */
  int32_t band;             /* output rows per kernel call */
  int32_t ring_bands;       /* bands the ring holds: ring bytes = ring_bands * band * out_row */
  int32_t reverse;          /* 0: bands from the top row down; 1: from the bottom row up */
} tm2_inplace_rows;

typedef struct {
  int32_t k;                /* bands started so far */
  int32_t bands;            /* bands in all */
  int32_t pend_lo, pend_hi; /* output rows computed into the ring and not yet stored: [pend_lo, pend_hi) */
  int8_t *data;             /* the tensor's bytes: input before the op, output after it */
  int8_t *ring;
} tm2_inplace_iter;

typedef struct {
  const int8_t *input; /* the band's first input row, in the arena */
  int32_t in_h;        /* input rows from there (clipped to the tensor) */
  int32_t pad_h;       /* padding rows above them */
  int32_t out_h;       /* output rows of the band */
  int8_t *output;      /* where the kernel writes them (a ring slot) */
} tm2_inplace_band;

void tm2_inplace_rows_begin(const tm2_inplace_rows *g, tm2_inplace_iter *it, int8_t *data, int8_t *ring);

/* Stores every finished row that may be stored; then, if bands are left, describes the next one in *band
 * and returns 1. After the last band it stores everything still in the ring and returns 0. */
int tm2_inplace_rows_next(const tm2_inplace_rows *g, tm2_inplace_iter *it, tm2_inplace_band *band);

/* DEPTHWISE_CONV_2D 3x3 on the packed weights of tm2_depthwise3x3_s8_packed (tm2_conv_dsp.h), computed
 * directly (no transposed rows, so no scratch): the in-place alternative the plan takes where the packed
 * kernel's quad of transposed rows would raise the arena (MemoryPlan.alt_ops; vww's 48-wide stride-2
 * layer). Same taps, same int32 sums and the same requantisation as the packed kernel: bit-exact with it.
 * With the Cortex-M DSP extension (and no TM2_PORTABLE), channel counts that are a multiple of four go four
 * at a time (one word load per tap, SXTAB16, SMLABB / SMLATT); with TM2_RQ_HIGHMUL and the full int8 range
 * every pixel runs in assembly (edge pixels on weights shifted by one column); otherwise plain C. Stride-2
 * layers that tm2_depthwise3x3_s8_s2 takes (TM2_DW_S2_APPLIES, tm2_dw_s2_dsp.h) run that kernel. */
void tm2_depthwise3x3_s8_direct(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                                const int32_t *bias, const tm2_rq *rq, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
