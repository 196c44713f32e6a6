/* tinym2net int8 convolution kernels: see tm2_conv.h for the arithmetic. Hand-written, C99, no heap. */
#include "tm2_conv.h"

#include <stddef.h>

#include "tm2_fixedpoint.h"

/* Requantise one accumulator to int8: scale, add the output zero point, clamp. */
static inline int8_t tm2_conv_requant(int32_t acc, int32_t mult, int32_t shift, int32_t output_offset,
                                      int32_t act_min, int32_t act_max) {
  int32_t v = tm2_mbqm(acc, mult, shift) + output_offset;
  return (int8_t)tm2_clamp_i32(v, act_min, act_max);
}

void tm2_conv2d_s8(const tm2_conv_params *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *mult, const int32_t *shift, int8_t *output) {
  const int32_t groups = p->in_c / p->filter_in_c;
  const int32_t filters_per_group = p->out_c / groups;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (int32_t oc = 0; oc < p->out_c; ++oc) {
          const int32_t in_c0 = (oc / filters_per_group) * p->filter_in_c;
          const int8_t *f_oc = filter + (size_t)oc * p->filter_h * p->filter_w * p->filter_in_c;
          int32_t acc = 0;
          for (int32_t fy = 0; fy < p->filter_h; ++fy) {
            const int32_t iy = iy0 + fy * p->dilation_h;
            if (iy < 0 || iy >= p->in_h) continue;
            for (int32_t fx = 0; fx < p->filter_w; ++fx) {
              const int32_t ix = ix0 + fx * p->dilation_w;
              if (ix < 0 || ix >= p->in_w) continue;
              const int8_t *x = in_b + ((size_t)iy * p->in_w + ix) * p->in_c + in_c0;
              const int8_t *w = f_oc + ((size_t)fy * p->filter_w + fx) * p->filter_in_c;
              for (int32_t ic = 0; ic < p->filter_in_c; ++ic) {
                acc += (int32_t)w[ic] * ((int32_t)x[ic] + p->input_offset);
              }
            }
          }
          if (bias != NULL) acc += bias[oc];
          out[oc] = tm2_conv_requant(acc, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
}

void tm2_depthwise_conv2d_s8(const tm2_dwconv_params *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
  const int32_t dm = p->depth_multiplier;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
        for (int32_t ic = 0; ic < p->in_c; ++ic) {
          for (int32_t m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            int32_t acc = 0;
            for (int32_t fy = 0; fy < p->filter_h; ++fy) {
              const int32_t iy = iy0 + fy * p->dilation_h;
              if (iy < 0 || iy >= p->in_h) continue;
              for (int32_t fx = 0; fx < p->filter_w; ++fx) {
                const int32_t ix = ix0 + fx * p->dilation_w;
                if (ix < 0 || ix >= p->in_w) continue;
                const int32_t x = in_b[((size_t)iy * p->in_w + ix) * p->in_c + ic];
                const int32_t w = filter[((size_t)fy * p->filter_w + fx) * p->out_c + oc];
                acc += w * (x + p->input_offset);
              }
            }
            if (bias != NULL) acc += bias[oc];
            out[oc] = tm2_conv_requant(acc, mult[oc], shift[oc], p->output_offset, p->act_min, p->act_max);
          }
        }
      }
    }
  }
}
