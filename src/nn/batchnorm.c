/* BatchNorm2d forward and backward, training and evaluation (see
 * maxdrop/batchnorm.h). One channel is one unit of work: its sums run over
 * the N planes of H*W values in a fixed order, in double; the normalisation
 * itself runs in float. */
#include "maxdrop/batchnorm.h"

#include <math.h>
#include <stddef.h>

#include "nn/batchnorm_fused.h"

/* Lanes of the double accumulators: the sums are split into LANES running
 * totals (element i goes to lane i % LANES) and combined in a fixed order, so
 * the compiler may vectorise them and the result stays reproducible. */
enum { LANES = 8 };

static double combine(const double *a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Sum of x[0..n). */
static double sum_plane(const float *x, int64_t n) {
  double a[LANES] = {0};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; ++j) a[j] += (double)x[i + j];
  for (int j = 0; i < n; ++i, ++j) a[j] += (double)x[i];
  return combine(a);
}

/* Sum of (x - mean)^2 over x[0..n). */
static double sum_sq_dev(const float *x, int64_t n, double mean) {
  double a[LANES] = {0};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; ++j) {
      const double d = (double)x[i + j] - mean;
      a[j] += d * d;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const double d = (double)x[i] - mean;
    a[j] += d * d;
  }
  return combine(a);
}

/* Sums of the backward over [0..n), around the shift m. */
typedef struct bwd_sums {
  double x;   /* sum(x - m) */
  double xx;  /* sum((x - m)^2) */
  double dy;  /* sum(dy) */
  double dyx; /* sum(dy * (x - m)) */
} bwd_sums;

static void sum_backward(const float *x, const float *dy, int64_t n, double m,
                         bwd_sums *out) {
  double a[LANES] = {0}, aa[LANES] = {0}, b[LANES] = {0}, d[LANES] = {0};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; ++j) {
      const double g = (double)dy[i + j], v = (double)x[i + j] - m;
      a[j] += v;
      aa[j] += v * v;
      b[j] += g;
      d[j] += g * v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const double g = (double)dy[i], v = (double)x[i] - m;
    a[j] += v;
    aa[j] += v * v;
    b[j] += g;
    d[j] += g * v;
  }
  out->x += combine(a);
  out->xx += combine(aa);
  out->dy += combine(b);
  out->dyx += combine(d);
}

/* y[i] = ep((x[i] - mean) * scale + shift) over one plane, in float, where
 * ep adds add[i], then applies ReLU, as the separate residual-add and ReLU
 * layers would (so fused and separate calls give the same bits). mean is a
 * float close to the channel's values, so x - mean loses nothing where it
 * matters (Sterbenz); the rest of the exact mean is folded into shift (see
 * affine_terms). */
static void normalize_plane(const float *x, float *y, int64_t hw, float mean, float scale,
                            float shift, const float *add, int relu) {
  if (!add && !relu) {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) y[i] = (x[i] - mean) * scale + shift;
  } else if (!add) {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) {
      const float v = (x[i] - mean) * scale + shift;
      y[i] = v < 0.0f ? 0.0f : v;
    }
  } else if (!relu) {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) y[i] = ((x[i] - mean) * scale + shift) + add[i];
  } else {
#pragma omp simd
    for (int64_t i = 0; i < hw; ++i) {
      const float v = ((x[i] - mean) * scale + shift) + add[i];
      y[i] = v < 0.0f ? 0.0f : v;
    }
  }
}

/* The float terms of y = (x - mean) * scale + bias for a double mean and
 * scale: mean rounded to float, and the rounding's share moved to the shift. */
typedef struct affine_terms {
  float mean, scale, shift;
} affine_terms;

static affine_terms make_affine(double mean, double scale, double bias) {
  affine_terms t;
  t.mean = (float)mean;
  t.scale = (float)scale;
  t.shift = (float)(bias - (mean - (double)t.mean) * scale);
  return t;
}

/* Channel c's terms in evaluation: the running statistics. */
static affine_terms eval_terms(const float *weight, const float *bias, const float *running_mean,
                               const float *running_var, float eps, int64_t c) {
  return make_affine((double)running_mean[c],
                     (double)weight[c] / sqrt((double)running_var[c] + (double)eps),
                     (double)bias[c]);
}

/* Channels per chunk of the forwards: their affine terms live on the stack
 * while the chunk's planes are normalised in memory order (image by image),
 * which streams through memory instead of striding over the batch. */
enum { CHUNK_C = 256 };

/* Normalises the planes of channels [c0, c1) of every image with t[c - c0]. */
static void normalize_chunk(md_shape s, const float *x, float *y, const float *add, int relu,
                            const affine_terms *t, int64_t c0, int64_t c1) {
  const int64_t C = s.c, HW = s.h * s.w, cc = c1 - c0, planes = s.n * cc;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t n = p / cc, c = c0 + p % cc, off = (n * C + c) * HW;
    const affine_terms *tc = &t[c - c0];
    normalize_plane(x + off, y + off, HW, tc->mean, tc->scale, tc->shift, add ? add + off : NULL,
                    relu);
  }
}

/* MD_OK, or the status for a shape that cannot be normalised at all. */
static md_status check_shape(md_shape s) {
  const int64_t numel = md_shape_numel(s);
  if (numel < 0) return MD_ERR_SHAPE;
  if (numel == 0) return MD_ERR_EMPTY;
  return MD_OK;
}

static int eps_ok(float eps) { return eps >= 0.0f && isfinite(eps); }

md_status md_batchnorm_forward_train_ep(md_shape s, const float *x, const float *weight,
                                        const float *bias, float momentum, float eps,
                                        float *running_mean, float *running_var,
                                        int64_t *num_batches_tracked, float *save_mean,
                                        float *save_invstd, const md_bn_epilogue *ep,
                                        float *y) {
  const md_status st = check_shape(s);
  if (st != MD_OK) return st;
  if (!x || !weight || !bias || !save_mean || !y)
    return MD_ERR_INVALID_ARGUMENT;
  if ((running_mean == NULL) != (running_var == NULL)) return MD_ERR_INVALID_ARGUMENT;
  if (!eps_ok(eps) || !(momentum >= 0.0f && momentum <= 1.0f))
    return MD_ERR_INVALID_ARGUMENT;
  const int64_t C = s.c, HW = s.h * s.w, M = s.n * HW;
  if (M == 1) return MD_ERR_SHAPE; /* one value per channel: no variance */

  const float *add = ep ? ep->add : NULL;
  const int relu = ep ? ep->relu : 0;
  const double inv_m = 1.0 / (double)M;
  const double unbias = (double)M / (double)(M - 1);
  const double mom = (double)momentum;
  affine_terms t[CHUNK_C];
  for (int64_t c0 = 0; c0 < C; c0 += CHUNK_C) {
    const int64_t c1 = c0 + CHUNK_C < C ? c0 + CHUNK_C : C;
#pragma omp parallel for schedule(static)
    for (int64_t c = c0; c < c1; ++c) {
      double acc = 0.0;
      for (int64_t n = 0; n < s.n; ++n) acc += sum_plane(x + (n * C + c) * HW, HW);
      const double mean = acc * inv_m;
      double ss = 0.0;
      for (int64_t n = 0; n < s.n; ++n) ss += sum_sq_dev(x + (n * C + c) * HW, HW, mean);
      const double var = ss * inv_m;
      const double invstd = 1.0 / sqrt(var + (double)eps);
      t[c - c0] = make_affine(mean, invstd * (double)weight[c], (double)bias[c]);
      save_mean[c] = (float)mean;
      if (save_invstd) save_invstd[c] = (float)invstd;
      if (running_mean) {
        running_mean[c] = (float)((1.0 - mom) * (double)running_mean[c] + mom * mean);
        running_var[c] = (float)((1.0 - mom) * (double)running_var[c] + mom * var * unbias);
      }
    }
    normalize_chunk(s, x, y, add, relu, t, c0, c1);
  }
  if (num_batches_tracked) ++*num_batches_tracked;
  return MD_OK;
}

md_status md_batchnorm_forward_train(md_shape s, const float *x, const float *weight,
                                     const float *bias, float momentum, float eps,
                                     float *running_mean, float *running_var,
                                     int64_t *num_batches_tracked, float *save_mean,
                                     float *save_invstd, float *y) {
  return md_batchnorm_forward_train_ep(s, x, weight, bias, momentum, eps, running_mean,
                                       running_var, num_batches_tracked, save_mean, save_invstd,
                                       NULL, y);
}

md_status md_batchnorm_forward_eval_ep(md_shape s, const float *x, const float *weight,
                                       const float *bias, const float *running_mean,
                                       const float *running_var, float eps,
                                       const md_bn_epilogue *ep, float *y) {
  const md_status st = check_shape(s);
  if (st != MD_OK) return st;
  if (!x || !weight || !bias || !running_mean || !running_var || !y)
    return MD_ERR_INVALID_ARGUMENT;
  if (!eps_ok(eps)) return MD_ERR_INVALID_ARGUMENT;
  const int64_t C = s.c;
  const float *add = ep ? ep->add : NULL;
  const int relu = ep ? ep->relu : 0;
  affine_terms t[CHUNK_C];
  for (int64_t c0 = 0; c0 < C; c0 += CHUNK_C) {
    const int64_t c1 = c0 + CHUNK_C < C ? c0 + CHUNK_C : C;
    for (int64_t c = c0; c < c1; ++c)
      t[c - c0] = eval_terms(weight, bias, running_mean, running_var, eps, c);
    normalize_chunk(s, x, y, add, relu, t, c0, c1);
  }
  return MD_OK;
}

md_status md_batchnorm_eval_terms(int64_t C, const float *weight, const float *bias,
                                  const float *running_mean, const float *running_var,
                                  float eps, float *mean, float *scale, float *shift) {
  if (C < 1) return MD_ERR_SHAPE;
  if (!weight || !bias || !running_mean || !running_var || !mean || !scale || !shift)
    return MD_ERR_INVALID_ARGUMENT;
  if (!eps_ok(eps)) return MD_ERR_INVALID_ARGUMENT;
  for (int64_t c = 0; c < C; ++c) {
    const affine_terms t = eval_terms(weight, bias, running_mean, running_var, eps, c);
    mean[c] = t.mean;
    scale[c] = t.scale;
    shift[c] = t.shift;
  }
  return MD_OK;
}

md_status md_batchnorm_forward_eval(md_shape s, const float *x, const float *weight,
                                    const float *bias, const float *running_mean,
                                    const float *running_var, float eps, float *y) {
  return md_batchnorm_forward_eval_ep(s, x, weight, bias, running_mean, running_var, eps, NULL,
                                      y);
}

/* Shared backward. Training: stat_a is the saved (float) batch mean; the
 * sums are taken around it and the double statistics recovered from them,
 *   mean = save_mean + sum(x - save_mean) / M
 *   var  = sum((x - save_mean)^2) / M - (mean - save_mean)^2
 * so that neither a channel whose mean is large next to its spread nor a
 * tiny batch (M == 2, where dx is proportional to eps / var) loses accuracy
 * to the rounding of a saved float statistic. The terms through the batch
 * statistics are included. Evaluation: stat_a / stat_b are the running mean
 * and variance, held constant. */
static void backward_channels(md_shape s, const float *x, const float *dy,
                              const float *weight, const float *stat_a,
                              const float *stat_b, float eps, int training, float *dx,
                              float *dweight, float *dbias) {
  const int64_t C = s.c, HW = s.h * s.w, M = s.n * HW;
  const double inv_m = 1.0 / (double)M;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double shift = (double)stat_a[c];
    bwd_sums sum = {0.0, 0.0, 0.0, 0.0};
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t off = (n * C + c) * HW;
      sum_backward(x + off, dy + off, HW, shift, &sum);
    }
    double delta = 0.0, invstd;
    if (training) {
      delta = sum.x * inv_m;
      const double var = sum.xx * inv_m - delta * delta;
      invstd = 1.0 / sqrt((var > 0.0 ? var : 0.0) + (double)eps);
    } else {
      invstd = 1.0 / sqrt((double)stat_b[c] + (double)eps);
    }
    const double mean = shift + delta;
    const double sdyxm = sum.dyx - delta * sum.dy; /* sum(dy * (x - mean)) */
    if (dweight) dweight[c] += (float)(sdyxm * invstd);
    if (dbias) dbias[c] += (float)sum.dy;
    if (!dx) continue;
    const double k = (double)weight[c] * invstd;
    const double c1 = training ? sum.dy * inv_m : 0.0;
    const double c2 = training ? sdyxm * invstd * invstd * inv_m : 0.0;
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t off = (n * C + c) * HW;
      const float *xp = x + off, *gp = dy + off;
      float *dp = dx + off;
      for (int64_t i = 0; i < HW; ++i)
        dp[i] += (float)(k * ((double)gp[i] - c1 - ((double)xp[i] - mean) * c2));
    }
  }
}

md_status md_batchnorm_backward_train(md_shape s, const float *x, const float *dy,
                                      const float *weight, const float *save_mean,
                                      float eps, float *dx, float *dweight, float *dbias) {
  const md_status st = check_shape(s);
  if (st != MD_OK) return st;
  if (!x || !dy || !weight || !save_mean) return MD_ERR_INVALID_ARGUMENT;
  if (!eps_ok(eps)) return MD_ERR_INVALID_ARGUMENT;
  if (s.n * s.h * s.w == 1) return MD_ERR_SHAPE;
  backward_channels(s, x, dy, weight, save_mean, NULL, eps, 1, dx, dweight, dbias);
  return MD_OK;
}

md_status md_batchnorm_backward_eval(md_shape s, const float *x, const float *dy,
                                     const float *weight, const float *running_mean,
                                     const float *running_var, float eps, float *dx,
                                     float *dweight, float *dbias) {
  const md_status st = check_shape(s);
  if (st != MD_OK) return st;
  if (!x || !dy || !weight || !running_mean || !running_var) return MD_ERR_INVALID_ARGUMENT;
  if (!eps_ok(eps)) return MD_ERR_INVALID_ARGUMENT;
  backward_channels(s, x, dy, weight, running_mean, running_var, eps, 0, dx, dweight, dbias);
  return MD_OK;
}
