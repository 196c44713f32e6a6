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

/* Whether both inputs have the output's own (dense, row-major) strides: no broadcasting. */
static int tm2_bcast_contiguous(const tm2_bcast4 *g) {
  int32_t stride = 1;
  for (int32_t d = 3; d >= 0; --d) {
    if (g->out_shape[d] != 1 && (g->in1_strides[d] != stride || g->in2_strides[d] != stride)) return 0;
    stride *= g->out_shape[d];
  }
  return 1;
}

/* Smallest output for which tm2_add_s8 builds its rescale tables (2 x 256 entries cost about as much
 * as 512 elements of the plain code). */
#define TM2_ADD_TABLE_MIN 1024

/* The 256 entries tm2_mbqm_small((off + v) << ls, m, shift), v = -128 .. 127, into t. With m >= 0, a right
 * shift e = -shift <= 31 and |(off + v) << ls| < 2^30, in the TM2_RQ_HIGHMUL arithmetic of tm2_requant.h:
 * SaturatingRoundingDoublingHighMul(x, m) = floor((x m + 2^30) / 2^31) = SMMULR(2 x, m) (2 x fits; the
 * saturating case needs x = m = INT32_MIN), RoundingDivideByPOT(r, e) = (r + 2^(e-1) - [r < 0]) >> e for
 * e >= 1. Otherwise entry by entry with tm2_mbqm_small. dbl 1 doubles every entry. */
static void tm2_add_table(int32_t *t, int32_t off, int32_t ls, int32_t m, int32_t shift, int32_t dbl) {
  const int32_t e = -shift;
  const int32_t lo = off - 128, hi = off + 127; /* |off + v| <= max(|lo|, |hi|) */
  const int32_t amax = tm2_max_i32(lo < 0 ? -lo : lo, hi < 0 ? -hi : hi);
  if (m >= 0 && e >= 0 && e <= 31 && ls >= 0 && ls <= 21 && ((int64_t)amax << ls) < ((int64_t)1 << 30)) {
    const int32_t step = (int32_t)1 << (ls + 1);
    const int32_t half = e >= 1 ? (int32_t)1 << (e - 1) : 0;
    int32_t x2 = lo * step; /* 2 x */
    for (int32_t *const end = t + 256; t != end; ++t, x2 += step) {
      int32_t r;
      __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(x2), "r"(m));
      *t = (int32_t)((uint32_t)(e >= 1 ? (r + half + (r >> 31)) >> e : r) << dbl);
    }
    return;
  }
  for (int32_t v = -128; v < 128; ++v) *t++ = (int32_t)((uint32_t)tm2_mbqm_small((off + v) * (1 << ls), m, shift) << dbl);
}

/* ADD through two tables: each input's rescaled value depends only on its int8 value, so
 * s1 = MultiplyByQuantizedMultiplierSmallerThanOneExp((off1 + a) << left_shift, m1, shift1) is
 * computed once for each of the 256 values of a (the same expression as add_one, hence the same
 * numbers), likewise s2. Per element: two loads from the tables, the sum, and the output rescale, in
 * the fast form of tm2_requant.h when the output multiplier allows it (m > 2^30, right shift 2..31). */
static void tm2_add_s8_tables(const tm2_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  int32_t t1[256], t2[256];
  const int32_t off1 = p->input1_offset, off2 = p->input2_offset, ls = p->left_shift;
  const int32_t m1 = p->input1_multiplier, sh1 = p->input1_shift, m2 = p->input2_multiplier, sh2 = p->input2_shift;
  const int32_t *s1 = t1 + 128, *s2 = t2 + 128;
  const int32_t m = p->output_multiplier, e = -p->output_shift, zp = p->output_offset;
  const int fast = m > (1 << 30) && e >= 2 && e <= 31 && p->act_min == -128 && p->act_max == 127;
  const int32_t khi = fast ? (int32_t)1 << (e - 2) : 0; /* high word of K = 2^30 + 2^(30 + e) */
  /* TM2_RQ_HIGHMUL (tm2_requant.h) on the doubled sum when its conditions hold for every reachable sum:
   * m > 2^30, 1 <= e <= 30, |2 (s1 + s2)| < 2^31 and |v| + |hz| + 1 < 2^31 (hz = 2^(e-1) + zp 2^e). */
  int64_t smax = 0;
  const int mono = m1 >= 0 && m2 >= 0;
  if (mono) {
    /* both tables are monotonic (non-decreasing in v): their largest magnitudes are at the ends */
    const int32_t ends[4] = {tm2_mbqm_small((off1 - 128) * (1 << ls), m1, sh1), tm2_mbqm_small((off1 + 127) * (1 << ls), m1, sh1),
                             tm2_mbqm_small((off2 - 128) * (1 << ls), m2, sh2), tm2_mbqm_small((off2 + 127) * (1 << ls), m2, sh2)};
    for (int32_t v = 0; v < 4; ++v) {
      const int64_t a = ends[v] < 0 ? -(int64_t)ends[v] : ends[v];
      smax = a > smax ? a : smax;
    }
  } else {
    tm2_add_table(t1, off1, ls, m1, sh1, 0);
    tm2_add_table(t2, off2, ls, m2, sh2, 0);
    for (int32_t v = 0; v < 256; ++v) {
      const int64_t a = t1[v] < 0 ? -(int64_t)t1[v] : t1[v], b = t2[v] < 0 ? -(int64_t)t2[v] : t2[v];
      smax = a > smax ? a : smax;
      smax = b > smax ? b : smax;
    }
  }
  const int64_t hz64 = e >= 1 && e <= 30 ? ((int64_t)1 << (e - 1)) + (int64_t)zp * ((int64_t)1 << e) : 0;
  const int64_t vmax = ((4 * smax * m + ((int64_t)1 << 31)) >> 32) + 1;
  const int hm = m > (1 << 30) && e >= 1 && e <= 30 && p->act_min == -128 && p->act_max == 127 &&
                 4 * smax < ((int64_t)1 << 31) && vmax + (hz64 < 0 ? -hz64 : hz64) + 1 < ((int64_t)1 << 31);
  const int32_t hz = (int32_t)hz64;
  /* with HIGHMUL the tables hold the doubled values: the sum is the doubled sum the form takes */
  if (mono) {
    tm2_add_table(t1, off1, ls, m1, sh1, hm);
    tm2_add_table(t2, off2, ls, m2, sh2, hm);
  } else if (hm) {
    for (int32_t v = 0; v < 256; ++v) t1[v] *= 2, t2[v] *= 2;
  }
  const tm2_bcast4 *g = &p->bcast;
  const int32_t total = g->out_shape[0] * g->out_shape[1] * g->out_shape[2] * g->out_shape[3];
  if (hm && tm2_bcast_contiguous(g)) { /* no broadcasting: one flat loop, four elements a step */
    const int8_t *a = in1, *b = in2;
    const int8_t *const end = out + (total & ~3);
    if (out != end) {
      /* In assembly, elements 1, 2 then 3, 0 (the last pair's loads and store move the pointers): per pair
       * four byte loads and four table loads in one run, the two sums, their rescale (TM2_RQ_HIGHMUL, the
       * sign correction left out for an output offset of -128), two byte stores. Each element is read before
       * any output byte at or after it is written, so the output may be one of the inputs. */
      int32_t t0, t1, t2, t3, t4;
#define TM2_ADD_LOADS(K, ADDR_A, ADDR_B)                 \
  "ldrsb %[t0], [%[a], #" K "]\n\t"                    \
  "ldrsb %[t1], [%[b], #" K "]\n\t"                    \
  "ldrsb %[t2], " ADDR_A "\n\t"                        \
  "ldrsb %[t3], " ADDR_B "\n\t"                        \
  "ldr %[t0], [%[s1], %[t0], lsl #2]\n\t"              \
  "ldr %[t1], [%[s2], %[t1], lsl #2]\n\t"              \
  "ldr %[t2], [%[s1], %[t2], lsl #2]\n\t"              \
  "ldr %[t3], [%[s2], %[t3], lsl #2]\n\t"              \
  "add %[t0], %[t0], %[t1]\n\t"                        \
  "add %[t2], %[t2], %[t3]\n\t"
#define TM2_ADD_RQ_LOW                                   \
  "smmlar %[t0], %[t0], %[m], %[hz]\n\t"               \
  "smmlar %[t2], %[t2], %[m], %[hz]\n\t"               \
  "asr %[t0], %[t0], %[e]\n\t"                         \
  "asr %[t2], %[t2], %[e]\n\t"                         \
  "ssat %[t0], #8, %[t0]\n\t"                          \
  "ssat %[t2], #8, %[t2]\n\t"
#define TM2_ADD_RQ_SIGNED                                \
  "smmlar %[t4], %[t0], %[m], %[hz]\n\t"               \
  "add %[t0], %[t4], %[t0], asr #31\n\t"               \
  "smmlar %[t4], %[t2], %[m], %[hz]\n\t"               \
  "add %[t2], %[t4], %[t2], asr #31\n\t"               \
  "asr %[t0], %[t0], %[e]\n\t"                         \
  "asr %[t2], %[t2], %[e]\n\t"                         \
  "ssat %[t0], #8, %[t0]\n\t"                          \
  "ssat %[t2], #8, %[t2]\n\t"
#define TM2_ADD_LOOP(RQ)                                                                                 \
  __asm__ volatile("1:\n\t" TM2_ADD_LOADS("1", "[%[a], #2]", "[%[b], #2]") RQ                                  \
                   "strb %[t0], [%[o], #1]\n\t"                                                          \
                   "strb %[t2], [%[o], #2]\n\t" TM2_ADD_LOADS("3", "[%[a]], #4", "[%[b]], #4") RQ          \
                   "strb %[t0], [%[o], #3]\n\t"                                                          \
                   "strb %[t2], [%[o]], #4\n\t"                                                          \
                   "cmp %[o], %[end]\n\t"                                                                \
                   "bne 1b\n\t"                                                                          \
                   : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),       \
                     [a] "+r"(a), [b] "+r"(b), [o] "+r"(out)                                               \
                   : [end] "r"(end), [s1] "r"(s1), [s2] "r"(s2), [m] "r"(m), [hz] "r"(hz), [e] "r"(e)      \
                   : "cc", "memory")
      if (zp == -128) {
        TM2_ADD_LOOP(TM2_ADD_RQ_LOW);
      } else {
        TM2_ADD_LOOP(TM2_ADD_RQ_SIGNED);
      }
#undef TM2_ADD_LOOP
#undef TM2_ADD_RQ_SIGNED
#undef TM2_ADD_RQ_LOW
#undef TM2_ADD_LOADS
      (void)t4;
    }
    for (int32_t i = total & ~3; i < total; ++i, ++a, ++b) *out++ = (int8_t)tm2_rq_highmul2_s8(s1[*a] + s2[*b], m, hz, e);
    return;
  }
  for (int32_t i0 = 0; i0 < g->out_shape[0]; ++i0) {
    for (int32_t i1 = 0; i1 < g->out_shape[1]; ++i1) {
      for (int32_t i2 = 0; i2 < g->out_shape[2]; ++i2) {
        const int8_t *a = in1 + i0 * g->in1_strides[0] + i1 * g->in1_strides[1] + i2 * g->in1_strides[2];
        const int8_t *b = in2 + i0 * g->in2_strides[0] + i1 * g->in2_strides[1] + i2 * g->in2_strides[2];
        const int32_t n = g->out_shape[3], sa = g->in1_strides[3], sb = g->in2_strides[3];
        if (hm && zp == -128) {
          for (int32_t i3 = 0; i3 < n; ++i3, a += sa, b += sb) {
            *out++ = (int8_t)tm2_rq_highmul2_low_s8(s1[*a] + s2[*b], m, hz, e);
          }
        } else if (hm) {
          for (int32_t i3 = 0; i3 < n; ++i3, a += sa, b += sb) {
            *out++ = (int8_t)tm2_rq_highmul2_s8(s1[*a] + s2[*b], m, hz, e);
          }
        } else if (fast) {
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
