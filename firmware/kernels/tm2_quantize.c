/* Edge conversions and copies (see tm2_quantize.h). Hand-written for tinym2net. */
#include "tm2_quantize.h"

#include <string.h>

#include "tm2_fixedpoint.h"

void tm2_quantize_f32_s8(const tm2_quantize_params *p, const float *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t q = tm2_round_f32(in[i] / p->scale) + p->zero_point;
    out[i] = (int8_t)tm2_clamp_i32(q, -128, 127);
  }
}

void tm2_requantize_s8(const tm2_requantize_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t q = tm2_mbqm(in[i] - p->input_zero_point, p->multiplier, p->shift) + p->output_zero_point;
    out[i] = (int8_t)tm2_clamp_i32(q, -128, 127);
  }
}

void tm2_dequantize_s8_f32(const tm2_dequantize_params *p, const int8_t *in, float *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    out[i] = p->scale * (float)(in[i] - p->zero_point);
  }
}

void tm2_copy(void *dst, const void *src, int32_t nbytes) {
  if (dst != src && nbytes > 0) memmove(dst, src, (size_t)nbytes);
}
