/* tinym2net int8 LOGISTIC: see tm2_logistic.h for the arithmetic. Hand-written for tinym2net. */
#include "tm2_logistic.h"

#include "tm2_fixedpoint.h"
#include "tm2_gemmlowp.h"

enum {
  TM2_LOGISTIC_INPUT_BITS = 4,  /* integer bits of the rescaled input (Q4.27) */
  TM2_LOGISTIC_OUTPUT_BITS = 8, /* the Q0 result is divided by 2^(31 - 8) to get units of 1/256 */
};

void tm2_logistic_s8(const tm2_logistic_params *p, const int8_t *input, int8_t *output) {
  int32_t i;
  for (i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)input[i] - p->input_zero_point;
    int32_t value;
    if (x <= -p->input_range_radius) {
      value = -128;
    } else if (x >= p->input_range_radius) {
      value = 127;
    } else {
      const int32_t q = tm2_mbqm(x, p->input_multiplier, p->input_left_shift);
      const int32_t s = tm2_fp_logistic(q, TM2_LOGISTIC_INPUT_BITS);
      value = tm2_rdbpot(s, 31 - TM2_LOGISTIC_OUTPUT_BITS) - 128;
      value = tm2_clamp_i32(value, -128, 127);
    }
    output[i] = (int8_t)value;
  }
}
