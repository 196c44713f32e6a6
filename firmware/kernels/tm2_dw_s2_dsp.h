/* tinym2net int8 depthwise 3x3 convolutions of stride 2 straight from the HWC input (no scratch), for cores
 * with the DSP extension. Hand-written for tinym2net. C99, no heap, no state. */
#ifndef TM2_DW_S2_DSP_H
#define TM2_DW_S2_DSP_H
#include <stdint.h>

#include "tm2_conv_dsp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether tm2_depthwise3x3_s8_s2 takes the layer: the DSP extension (and no TM2_PORTABLE), stride 2, a
 * channel count that is a multiple of four, TM2_RQ_HIGHMUL records, the full int8 output range, an input
 * at least three columns wide and at most one padding column on either side that a pixel reads (SAME and
 * VALID). The kernels of the other forms (tm2_depthwise3x3_s8_packed, _planes, _direct) call it first where
 * it applies. */
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#define TM2_DW_S2_APPLIES(p)                                                                                 \
  ((p)->stride == 2 && ((p)->channels & 3) == 0 && (p)->rq_mode == TM2_RQ_HIGHMUL && (p)->act_min == -128 && \
   (p)->act_max == 127 && (p)->in_w >= 3 && (p)->pad_w <= 1 && 2 * (p)->out_w - (p)->pad_w <= (p)->in_w)

/* DEPTHWISE_CONV_2D 3x3 of stride 2 (TM2_DW_S2_APPLIES), bit-exact with tm2_depthwise3x3_s8_packed: four
 * channels a pixel. Per filter row, the words of input columns 2 ox and 2 ox + 1 (channels c .. c + 3) are
 * joined by PKHBT / PKHTB and sign-extended by SXTB16 into the int16 pairs (column 2 ox, column 2 ox + 1) of
 * each channel, one SMLAD each against (w0, w1); column 2 ox + 2 goes through SXTB16 and SMLABB / SMLATT.
 * weights: the packed weights of tm2_depthwise3x3_s8_packed (channels * 6 words), then the records the
 * lowering appends where this kernel takes the layer (tinym2net/ops/packing.py, dw3x3_s2_records): per
 * channel quad, the biases with the input offset folded in (sum w * (x + off) = sum w * x + off * sum w),
 * the weights, both doubled for the TM2_RQ_HIGHMUL requantisation, and the requantisation records; a
 * pixel with a column in the left or right padding reads the three columns next to it inside the input,
 * on a record of weights shifted by one column. bias and rq are not read (their values are in the
 * records). */
void tm2_depthwise3x3_s8_s2(const tm2_dw3x3_packed_params *p, const int8_t *input, const int32_t *weights,
                            const int32_t *bias, const tm2_rq *rq, int8_t *output);
#else
#define TM2_DW_S2_APPLIES(p) 0
#endif

#ifdef __cplusplus
}
#endif
#endif
