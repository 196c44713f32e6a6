/* tinym2net int8 SOFTMAX: see tm2_softmax.h for the arithmetic. Hand-written for tinym2net. */
#include "tm2_softmax.h"

#include "tm2_fixedpoint.h"
#include "tm2_gemmlowp.h"

enum {
  TM2_SOFTMAX_DIFF_BITS = 5,   /* integer bits of the scaled input difference (Q5.26) */
  TM2_SOFTMAX_ACCUM_BITS = 12, /* integer bits of the sum of exponentials (Q12.19) */
};

/* exp((x - max) * beta * input_scale) in Q0 for a difference already known to be >= diff_min. */
static int32_t tm2_softmax_exp(const tm2_softmax_params *p, int32_t diff) {
  const int32_t scaled = tm2_mbqm_big(diff, p->input_multiplier, p->input_left_shift);
  return tm2_fp_exp_on_negative_values(scaled, TM2_SOFTMAX_DIFF_BITS);
}

void tm2_softmax_s8(const tm2_softmax_params *p, const int8_t *input, int8_t *output) {
  const int32_t depth = p->depth;
  int32_t row;
  for (row = 0; row < p->outer_size; ++row) {
    const int8_t *in = input + (int64_t)row * depth;
    int8_t *out = output + (int64_t)row * depth;
    int32_t max_in_row = -128;
    int32_t sum_of_exps = 0; /* Q12.19 */
    int num_bits_over_unit = 0;
    int32_t reciprocal;
    int exponent;
    int32_t c;

    for (c = 0; c < depth; ++c) max_in_row = tm2_max_i32(max_in_row, in[c]);

    for (c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t e = tm2_softmax_exp(p, diff);
        sum_of_exps = tm2_fp_add(sum_of_exps, tm2_fp_rescale(e, 0, TM2_SOFTMAX_ACCUM_BITS));
      }
    }

    reciprocal = tm2_get_reciprocal(sum_of_exps, TM2_SOFTMAX_ACCUM_BITS, &num_bits_over_unit);
    exponent = num_bits_over_unit + 31 - 8;
    if (exponent > 31) {
      /* Sum of exponentials >= 512: TFLite stops here (TFLITE_CHECK). Every probability is then at most
       * 1/512, half an output step, so the row is written as all zero probability. */
      for (c = 0; c < depth; ++c) out[c] = -128;
      continue;
    }

    /* Each output is written only after its own input was read, so input == output is allowed. */
    for (c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      int32_t value = -128;
      if (diff >= p->diff_min) {
        const int32_t e = tm2_softmax_exp(p, diff);
        const int32_t unsat = tm2_rdbpot(tm2_srdhm(reciprocal, e), exponent);
        value = tm2_clamp_i32(unsat - 128, -128, 127);
      }
      out[c] = (int8_t)value;
    }
  }
}
