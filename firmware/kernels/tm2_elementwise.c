/* int8 ADD and MUL (see tm2_elementwise.h). Hand-written for tinym2net. */
#include "tm2_elementwise.h"

#include "tm2_fixedpoint.h"

/* One output element of ADD: both inputs are brought to a common scale with 20 bits of headroom,
 * summed, and rescaled to the output (TFLite reference_integer_ops::AddFunc). */
static int8_t add_one(const tm2_add_params *p, int8_t a, int8_t b) {
  const int32_t x1 = (p->input1_offset + a) * (1 << p->left_shift);
  const int32_t x2 = (p->input2_offset + b) * (1 << p->left_shift);
  const int32_t s1 = tm2_mbqm_small(x1, p->input1_multiplier, p->input1_shift);
  const int32_t s2 = tm2_mbqm_small(x2, p->input2_multiplier, p->input2_shift);
  const int32_t out = tm2_mbqm_small(s1 + s2, p->output_multiplier, p->output_shift) + p->output_offset;
  return (int8_t)tm2_clamp_i32(out, p->act_min, p->act_max);
}

/* One output element of MUL: product of the offset inputs, rescaled to the output. */
static int8_t mul_one(const tm2_mul_params *p, int8_t a, int8_t b) {
  const int32_t prod = (p->input1_offset + a) * (p->input2_offset + b);
  const int32_t out = tm2_mbqm(prod, p->output_multiplier, p->output_shift) + p->output_offset;
  return (int8_t)tm2_clamp_i32(out, p->act_min, p->act_max);
}

void tm2_add_s8(const tm2_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  const tm2_bcast4 *g = &p->bcast;
  for (int32_t i0 = 0; i0 < g->out_shape[0]; ++i0) {
    for (int32_t i1 = 0; i1 < g->out_shape[1]; ++i1) {
      for (int32_t i2 = 0; i2 < g->out_shape[2]; ++i2) {
        const int8_t *a = in1 + i0 * g->in1_strides[0] + i1 * g->in1_strides[1] + i2 * g->in1_strides[2];
        const int8_t *b = in2 + i0 * g->in2_strides[0] + i1 * g->in2_strides[1] + i2 * g->in2_strides[2];
        for (int32_t i3 = 0; i3 < g->out_shape[3]; ++i3) {
          *out++ = add_one(p, a[i3 * g->in1_strides[3]], b[i3 * g->in2_strides[3]]);
        }
      }
    }
  }
}

void tm2_mul_s8(const tm2_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  const tm2_bcast4 *g = &p->bcast;
  for (int32_t i0 = 0; i0 < g->out_shape[0]; ++i0) {
    for (int32_t i1 = 0; i1 < g->out_shape[1]; ++i1) {
      for (int32_t i2 = 0; i2 < g->out_shape[2]; ++i2) {
        const int8_t *a = in1 + i0 * g->in1_strides[0] + i1 * g->in1_strides[1] + i2 * g->in1_strides[2];
        const int8_t *b = in2 + i0 * g->in2_strides[0] + i1 * g->in2_strides[1] + i2 * g->in2_strides[2];
        for (int32_t i3 = 0; i3 < g->out_shape[3]; ++i3) {
          *out++ = mul_one(p, a[i3 * g->in1_strides[3]], b[i3 * g->in2_strides[3]]);
        }
      }
    }
  }
}
