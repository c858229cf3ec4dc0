/* Conv2d descriptors: validation, output shape, work split and workspace size
 * (the kernels are in conv2d_forward.c and conv2d_backward.c). */
#include "maxdrop/conv2d.h"

#include <limits.h>
#include <omp.h>

#include "nn/conv2d_plan.h"

md_status md_conv2d_check(const md_conv2d_desc *d) {
  if (!d) return MD_ERR_INVALID_ARGUMENT;
  if (d->in_c < 1 || d->out_c < 1 || d->k_h < 1 || d->k_w < 1 || d->stride < 1 ||
      d->pad < 0 || (d->has_bias != 0 && d->has_bias != 1))
    return MD_ERR_INVALID_ARGUMENT;
  /* K = in_c*k_h*k_w is a GEMM dimension (int) */
  const int64_t kk = (int64_t)d->k_h * d->k_w;
  if (kk > INT_MAX || (int64_t)d->in_c * kk > INT_MAX) return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}

int64_t md_conv2d_weight_numel(const md_conv2d_desc *d) {
  if (md_conv2d_check(d) != MD_OK) return 0;
  return (int64_t)d->out_c * d->in_c * d->k_h * d->k_w;
}

md_status md_conv2d_output_shape(const md_conv2d_desc *d, md_shape in, md_shape *out) {
  md_status st = md_conv2d_check(d);
  if (st != MD_OK) return st;
  if (!out) return MD_ERR_INVALID_ARGUMENT;
  if (in.n < 0 || in.h < 0 || in.w < 0 || in.n > INT_MAX || in.h > INT_MAX ||
      in.w > INT_MAX || in.c != d->in_c)
    return MD_ERR_SHAPE;
  if (in.n == 0 || in.h == 0 || in.w == 0) return MD_ERR_EMPTY;
  const int64_t hp = in.h + 2 * (int64_t)d->pad, wp = in.w + 2 * (int64_t)d->pad;
  if (hp < d->k_h || wp < d->k_w) return MD_ERR_SHAPE;
  const int64_t oh = (hp - d->k_h) / d->stride + 1, ow = (wp - d->k_w) / d->stride + 1;
  if (oh * ow > INT_MAX) return MD_ERR_SHAPE;
  const md_shape o = {in.n, d->out_c, oh, ow};
  /* every tensor must be addressable */
  if (md_shape_numel(in) < 0 || md_shape_numel(o) < 0 ||
      md_shape_numel(in) > INT64_MAX / 8 || md_shape_numel(o) > INT64_MAX / 8)
    return MD_ERR_SHAPE;
  *out = o;
  return MD_OK;
}

md_status md_conv_plan_make(const md_conv2d_desc *d, md_shape in, md_conv_plan *pl) {
  md_shape o;
  md_status st = md_conv2d_output_shape(d, in, &o);
  if (st != MD_OK) return st;
  md_conv_plan p = {0};
  p.g.c = d->in_c;
  p.g.h = (int)in.h;
  p.g.w = (int)in.w;
  p.g.kh = d->k_h;
  p.g.kw = d->k_w;
  p.g.stride = d->stride;
  p.g.pad = d->pad;
  p.g.oh = (int)o.h;
  p.g.ow = (int)o.w;
  p.n = (int)in.n;
  p.oc = d->out_c;
  p.p = p.g.oh * p.g.ow;
  p.kk = d->k_h * d->k_w;
  p.k = d->in_c * p.kk;
  p.direct = d->k_h == 1 && d->k_w == 1 && d->stride == 1 && d->pad == 0;
  if (p.p >= MD_CONV_TILE_COLS) {
    p.per_tile = 1;
    p.sub = (p.p + MD_CONV_TILE_COLS - 1) / MD_CONV_TILE_COLS;
    p.width = (p.p + p.sub - 1) / p.sub;
    p.n_tiles = p.n * p.sub;
    p.n_units = p.n;
  } else {
    p.per_tile = MD_CONV_TILE_COLS / p.p;
    if (p.per_tile > p.n) p.per_tile = p.n;
    p.sub = 1;
    p.width = p.per_tile * p.p;
    p.n_tiles = (p.n + p.per_tile - 1) / p.per_tile;
    p.n_units = p.n_tiles;
  }
  /* Weight-gradient chunks: about 256 GEMM columns each, between 2 and 8 of
   * them (fewer when there are fewer channels). Fixed by the shape alone. */
  int chunks = p.k / 256;
  if (chunks < 2) chunks = 2;
  if (chunks > 8) chunks = 8;
  if (chunks > d->in_c) chunks = d->in_c;
  p.n_chunks = chunks;
  /* A tile inside one image of a 1x1 stride-1 convolution reads x directly. */
  p.col_floats = p.direct && p.per_tile == 1 ? 0 : (size_t)p.k * (size_t)p.width;
  p.out_floats = p.per_tile > 1 ? (size_t)p.oc * (size_t)p.width : 0;
  *pl = p;
  return MD_OK;
}

md_conv_tile md_conv_plan_tile(const md_conv_plan *pl, int t) {
  md_conv_tile tl;
  if (pl->per_tile == 1) {
    const int s = t % pl->sub;
    tl.img0 = t / pl->sub;
    tl.img1 = tl.img0 + 1;
    /* balanced split of the positions: the first tiles get the extra ones */
    tl.p0 = (int)((int64_t)s * pl->p / pl->sub);
    tl.p1 = (int)((int64_t)(s + 1) * pl->p / pl->sub);
  } else {
    tl.img0 = t * pl->per_tile;
    tl.img1 = tl.img0 + pl->per_tile < pl->n ? tl.img0 + pl->per_tile : pl->n;
    tl.p0 = 0;
    tl.p1 = pl->p;
  }
  return tl;
}

int md_conv_plan_threads(const md_conv_plan *pl, const float *ws, size_t ws_floats,
                         int units) {
  const size_t need = md_conv_plan_thread_floats(pl);
  int t = omp_get_max_threads();
  if (need > 0) {
    if (!ws || ws_floats < need) return 0;
    const size_t fit = ws_floats / need;
    if (fit < (size_t)t) t = (int)fit;
  }
  if (units < t) t = units;
  return t < 1 ? 1 : t;
}

md_status md_conv2d_workspace_floats(const md_conv2d_desc *d, md_shape in, int max_threads,
                                     size_t *floats) {
  md_conv_plan pl;
  md_status st = md_conv_plan_make(d, in, &pl);
  if (st != MD_OK) return st;
  if (!floats) return MD_ERR_INVALID_ARGUMENT;
  const int t = max_threads > 0 ? max_threads : omp_get_max_threads();
  *floats = md_conv_plan_thread_floats(&pl) * (size_t)t;
  return MD_OK;
}
