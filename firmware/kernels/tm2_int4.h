/* tinym2net kernels with packed int4 weights (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED). Hand-written, C99.
 *
 * Weights stay packed in flash exactly as TFLite stores an INT4 tensor: the tensor is flattened in its
 * natural order ([out_c][h][w][in_c] for CONV, [1][h][w][out_c] for DEPTHWISE, [out][in] for FC) and
 * element i lives in byte i / 2, in the low nibble when i is even and the high nibble when i is odd,
 * as a two's-complement value in -8..7. The kernels decode nibbles in registers while accumulating:
 * there is no unpacked int8 copy of the filter and no scratch buffer, so the RAM of an int4 model is
 * the RAM of the same model with int8 weights.
 *
 * Arithmetic is the int8 kernels' (tm2_conv.h, tm2_fc.h) with each weight read as its int4 value, which
 * is what TFLite's reference interpreter and TFLite Micro compute after unpacking int4 filters to int8:
 *   acc = sum w * (x + input_offset) + bias;  out = clamp(requantise(acc) + output_offset, act_min, act_max).
 * CONV/DEPTHWISE requantise per channel with tm2_mbqm; FC with tm2_mbqm_single when single_rounding is
 * set (LiteRT), tm2_mbqm otherwise (TFLite Micro), per channel or per tensor as p->per_channel says.
 *
 * Bias: int4 weights have scales about 18x coarser than int8 ones, so their int32 biases (scale
 * input_scale * filter_scale) are about 18x smaller and usually fit in int16. The code generator then
 * stores them as int16 (bias16) and passes bias = NULL; otherwise bias (int32) and bias16 = NULL. Both
 * NULL: no bias. The value added to the accumulator is the same int32 either way. */
#ifndef TM2_INT4_H
#define TM2_INT4_H
#include <stdint.h>

#include "tm2_conv.h"
#include "tm2_fc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D with int4 filter [out_c][filter_h][filter_w][filter_in_c] packed two per byte. */
void tm2_conv2d_s4(const tm2_conv_params *p, const int8_t *input, const int8_t *filter_packed, const int32_t *bias,
                   const int16_t *bias16, const int32_t *mult, const int32_t *shift, int8_t *output);

/* DEPTHWISE_CONV_2D with int4 filter [1][filter_h][filter_w][out_c] packed two per byte. */
void tm2_depthwise_conv2d_s4(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter_packed,
                             const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                             int8_t *output);

/* FULLY_CONNECTED with int4 filter [out_depth][accum_depth] packed two per byte. */
void tm2_fully_connected_s4(const tm2_fc_params *p, const int8_t *input, const int8_t *filter_packed,
                            const int32_t *bias, const int16_t *bias16, const int32_t *mult, const int32_t *shift,
                            int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
