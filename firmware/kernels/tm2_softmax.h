/* tinym2net int8 SOFTMAX over the last axis. Hand-written for tinym2net; bit-exact with TFLite's reference
 * kernel (reference_ops::Softmax for int8 in / int8 out, used by LiteRT's BUILTIN_REF resolver and by
 * TFLite Micro). Output quantisation is fixed: scale 1/256, zero point -128. No heap, no state.
 *
 * For each row of `depth` values (max = the row maximum, diff = x - max <= 0):
 *   - diff < diff_min contributes exp = 0 and gives output -128;
 *   - otherwise scaled = MultiplyByQuantizedMultiplierGreaterThanOne(diff, input_multiplier, input_left_shift)
 *     is diff * beta * input_scale as a Q5.26 fixed-point number, e = exp(scaled) in Q0 (gemmlowp
 *     exp_on_negative_values);
 *   - sum = sum of e rescaled to Q12.19; its reciprocal 1/sum = r / 2^k with r in Q0 (GetReciprocal);
 *   - out = clamp(RoundingDivideByPOT(r * e, k + 23) - 128, -128, 127).
 * A row whose sum of exponentials reaches 512 (only possible with depth >= 512) makes TFLite abort
 * (TFLITE_CHECK on k + 23 <= 31); this kernel writes -128 (probability 0) for the whole row instead, since
 * every probability is then at most 1/512, half an output step. */
#ifndef TM2_SOFTMAX_H
#define TM2_SOFTMAX_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t outer_size;       /* number of rows: product of all dimensions but the last */
  int32_t depth;            /* last dimension (1 .. 4095) */
  int32_t input_multiplier; /* from PreprocessSoftmaxScaling(beta, input_scale, 5) */
  int32_t input_left_shift; /* 0 .. 31 */
  int32_t diff_min;         /* -CalculateInputRadius(5, input_left_shift) */
} tm2_softmax_params;

/* SOFTMAX, int8 input (any scale / zero point), int8 output (1/256, -128). */
void tm2_softmax_s8(const tm2_softmax_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif
#endif
