/* tinym2net int8 FULLY_CONNECTED kernel: portable reference version. Hand-written for tinym2net.
 * Bit-exact with TFLite's reference FullyConnected / FullyConnectedPerChannel (weights zero point 0):
 *   acc[b][o] = sum_d filter[o][d] * (input[b][d] + input_offset) + bias[o];
 *   out[b][o] = clamp(MultiplyByQuantizedMultiplier(acc, mult[k], shift[k]) + output_offset, act_min, act_max)
 * with k = o when per_channel is non-zero, else k = 0 (one multiplier for the whole tensor). */
#ifndef TM2_FC_H
#define TM2_FC_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t batches;     /* product of all output dims but the last */
  int32_t accum_depth; /* input features per batch row (filter's last dim) */
  int32_t out_depth;   /* output features (filter rows) */
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t per_channel; /* 1: mult/shift have out_depth entries; 0: one entry */
  int32_t single_rounding; /* 1: LiteRT's one-step int64 rescale; 0: TFLite Micro's two-step rescale */
} tm2_fc_params;

/* input [batches][accum_depth], filter [out_depth][accum_depth], bias [out_depth] or NULL,
 * output [batches][out_depth]. */
void tm2_fully_connected_s8(const tm2_fc_params *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
