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

#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
#include "tm2_requant.h"

/* Smallest output for which tm2_add_s8 builds its rescale tables (2 x 256 entries cost about as much
 * as 512 elements of the plain code). */
#define TM2_ADD_TABLE_MIN 1024

/* ADD through two tables: each input's rescaled value depends only on its int8 value, so
 * s1 = MultiplyByQuantizedMultiplierSmallerThanOneExp((off1 + a) << left_shift, m1, shift1) is
 * computed once for each of the 256 values of a (the same expression as add_one, hence the same
 * numbers), likewise s2. Per element: two loads from the tables, the sum, and the output rescale, in
 * the fast form of tm2_requant.h when the output multiplier allows it (m > 2^30, right shift 2..31). */
static void tm2_add_s8_tables(const tm2_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  int32_t t1[256], t2[256];
  for (int32_t v = -128; v < 128; ++v) {
    t1[v + 128] = tm2_mbqm_small((p->input1_offset + v) * (1 << p->left_shift), p->input1_multiplier, p->input1_shift);
    t2[v + 128] = tm2_mbqm_small((p->input2_offset + v) * (1 << p->left_shift), p->input2_multiplier, p->input2_shift);
  }
  const int32_t *s1 = t1 + 128, *s2 = t2 + 128;
  const int32_t m = p->output_multiplier, e = -p->output_shift, zp = p->output_offset;
  const int fast = m > (1 << 30) && e >= 2 && e <= 31 && p->act_min == -128 && p->act_max == 127;
  const int32_t khi = fast ? (int32_t)1 << (e - 2) : 0; /* high word of K = 2^30 + 2^(30 + e) */
  const tm2_bcast4 *g = &p->bcast;
  for (int32_t i0 = 0; i0 < g->out_shape[0]; ++i0) {
    for (int32_t i1 = 0; i1 < g->out_shape[1]; ++i1) {
      for (int32_t i2 = 0; i2 < g->out_shape[2]; ++i2) {
        const int8_t *a = in1 + i0 * g->in1_strides[0] + i1 * g->in1_strides[1] + i2 * g->in1_strides[2];
        const int8_t *b = in2 + i0 * g->in2_strides[0] + i1 * g->in2_strides[1] + i2 * g->in2_strides[2];
        const int32_t n = g->out_shape[3], sa = g->in1_strides[3], sb = g->in2_strides[3];
        if (fast) {
          for (int32_t i3 = 0; i3 < n; ++i3, a += sa, b += sb) {
            *out++ = (int8_t)tm2_rq_double_fast_s8(s1[*a] + s2[*b], m, khi, e - 1, zp);
          }
        } else {
          for (int32_t i3 = 0; i3 < n; ++i3, a += sa, b += sb) {
            const int32_t v = tm2_mbqm_small(s1[*a] + s2[*b], m, p->output_shift) + zp;
            *out++ = (int8_t)tm2_clamp_i32(v, p->act_min, p->act_max);
          }
        }
      }
    }
  }
}
#endif

void tm2_add_s8(const tm2_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  const tm2_bcast4 *g = &p->bcast;
#if defined(__ARM_FEATURE_DSP) && !defined(TM2_PORTABLE)
  if (g->out_shape[0] * g->out_shape[1] * g->out_shape[2] * g->out_shape[3] >= TM2_ADD_TABLE_MIN) {
    tm2_add_s8_tables(p, in1, in2, out);
    return;
  }
#endif
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
