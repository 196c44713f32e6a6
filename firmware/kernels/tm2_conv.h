/* tinym2net int8 convolution kernels (CONV_2D, DEPTHWISE_CONV_2D): portable reference versions.
 * Hand-written for tinym2net. Bit-exact with TFLite's reference ConvPerChannel / DepthwiseConvPerChannel:
 *   acc = sum filter * (input + input_offset) over in-bounds taps (out-of-bounds taps are skipped,
 *         i.e. padding contributes real zero), + bias;
 *   out = clamp(MultiplyByQuantizedMultiplier(acc, mult[c], shift[c]) + output_offset, act_min, act_max).
 * Layouts: input NHWC, output NHWC, CONV filter [out_c][filter_h][filter_w][filter_in_c],
 * DEPTHWISE filter [1][filter_h][filter_w][in_c * depth_multiplier]. No heap, no state. */
#ifndef TM2_CONV_H
#define TM2_CONV_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t filter_h, filter_w;
  int32_t filter_in_c; /* in_c / groups; equals in_c for an ordinary convolution */
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;     /* padding before the first row / column (TFLite padding_values) */
  int32_t input_offset;     /* -input zero point */
  int32_t output_offset;    /* output zero point */
  int32_t act_min, act_max; /* fused activation clamp, in output units */
} tm2_conv_params;

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c; /* out_c = in_c * depth_multiplier */
  int32_t filter_h, filter_w;
  int32_t depth_multiplier;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
} tm2_dwconv_params;

/* CONV_2D, int8 activations and weights, per-channel (out_c entries of mult/shift). bias may be NULL. */
void tm2_conv2d_s8(const tm2_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *mult, const int32_t *shift, int8_t *output);

/* DEPTHWISE_CONV_2D, int8, per-channel (out_c entries of mult/shift). bias may be NULL. */
void tm2_depthwise_conv2d_s8(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
