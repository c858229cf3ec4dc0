/* Conv2d: descriptor validation, output shape, choice of algorithm and work
 * split (the "plan"), workspace size, and the public forward / backward,
 * which check their arguments and run the planned method:
 *   im2col + SGEMM  src/nn/conv2d_im2col_forward.c, conv2d_im2col_backward.c
 *                   (im2col / col2im in src/nn/im2col.c)
 *   Winograd        src/nn/conv2d_winograd_forward.c, conv2d_winograd_backward.c,
 *                   conv2d_winograd_nhwc.c (maps up to 32x32)
 *                   (transforms in src/nn/winograd.c, winograd_nhwc.c) */
#include "maxdrop/conv2d.h"

#include <limits.h>
#include <omp.h>

#include "nn/blas_threads.h"
#include "nn/conv2d_epilogue.h"
#include "nn/conv2d_plan.h"

static int winograd_applies(const md_conv2d_desc *d) {
  return d->k_h == 3 && d->k_w == 3 && d->stride == 1;
}

/* F(4x4, 3x3) unless its tiles waste so much of the output that F(2x2, 3x3)
 * needs as few multiplications: per output, 36/16 times the padded area
 * against 16/4 times it. */
static int winograd_tile(int oh, int ow) {
  const double a4 = (double)((oh + 3) / 4 * 4) * ((ow + 3) / 4 * 4);
  const double a2 = (double)((oh + 1) / 2 * 2) * ((ow + 1) / 2 * 2);
  return 36.0 / 16.0 * a4 < 16.0 / 4.0 * a2 ? 4 : 2;
}

md_status md_conv2d_check(const md_conv2d_desc *d) {
  if (!d) return MD_ERR_INVALID_ARGUMENT;
  if (d->in_c < 1 || d->out_c < 1 || d->k_h < 1 || d->k_w < 1 || d->stride < 1 ||
      d->pad < 0 || (d->has_bias != 0 && d->has_bias != 1))
    return MD_ERR_INVALID_ARGUMENT;
  if (d->algo != MD_CONV2D_AUTO && d->algo != MD_CONV2D_IM2COL &&
      d->algo != MD_CONV2D_WINOGRAD_2X2 && d->algo != MD_CONV2D_WINOGRAD_4X4)
    return MD_ERR_INVALID_ARGUMENT;
  if ((d->algo == MD_CONV2D_WINOGRAD_2X2 || d->algo == MD_CONV2D_WINOGRAD_4X4) &&
      !winograd_applies(d))
    return MD_ERR_INVALID_ARGUMENT;
  /* K = in_c*k_h*k_w is a GEMM dimension (int) */
  const int64_t kk = (int64_t)d->k_h * d->k_w;
  if (kk > INT_MAX || (int64_t)d->in_c * kk > INT_MAX) return MD_ERR_INVALID_ARGUMENT;
  /* the Winograd weights: 36 * out_c * in_c floats */
  if ((int64_t)d->out_c * d->in_c > INT_MAX) return MD_ERR_INVALID_ARGUMENT;
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
  if (hp < d->k_h || wp < d->k_w || hp > INT_MAX || wp > INT_MAX) return MD_ERR_SHAPE;
  const int64_t oh = (hp - d->k_h) / d->stride + 1, ow = (wp - d->k_w) / d->stride + 1;
  if (oh * ow > INT_MAX || in.h * in.w > INT_MAX) return MD_ERR_SHAPE;
  const md_shape o = {in.n, d->out_c, oh, ow};
  /* every tensor must be addressable */
  if (md_shape_numel(in) < 0 || md_shape_numel(o) < 0 ||
      md_shape_numel(in) > INT64_MAX / 8 || md_shape_numel(o) > INT64_MAX / 8)
    return MD_ERR_SHAPE;
  *out = o;
  return MD_OK;
}

/* Backward-weight chunks: about 256 GEMM rows each, between 2 and 8 of them
 * (fewer when there are fewer channels). */
static int weight_chunks(int in_c, int k) {
  int chunks = k / 256;
  if (chunks < 2) chunks = 2;
  if (chunks > 8) chunks = 8;
  return chunks > in_c ? in_c : chunks;
}

static void plan_im2col(md_conv_plan *p, const md_conv2d_desc *d) {
  p->direct = d->k_h == 1 && d->k_w == 1 && d->stride == 1 && d->pad == 0;
  if (p->p >= MD_CONV_TILE_COLS) {
    p->per_tile = 1;
    p->sub = (p->p + MD_CONV_TILE_COLS - 1) / MD_CONV_TILE_COLS;
    p->width = (p->p + p->sub - 1) / p->sub;
    p->n_tiles = p->n * p->sub;
    p->n_units = p->n;
  } else {
    p->per_tile = MD_CONV_TILE_COLS / p->p;
    if (p->per_tile > p->n) p->per_tile = p->n;
    p->sub = 1;
    p->width = p->per_tile * p->p;
    p->n_tiles = (p->n + p->per_tile - 1) / p->per_tile;
    p->n_units = p->n_tiles;
  }
  p->n_chunks = weight_chunks(d->in_c, p->k);
  /* a tile inside one image of a 1x1 stride-1 convolution reads x directly */
  const int im2col = !(p->direct && p->per_tile == 1);
  p->col_floats = im2col ? (size_t)p->k * (size_t)p->width : 0;
  p->out_floats = p->per_tile > 1 ? (size_t)p->oc * (size_t)p->width : 0;
  int rows = p->per_tile > 1 ? p->g.oh : (p->width + p->g.ow - 1) / p->g.ow + 1;
  if (rows > p->g.oh) rows = p->g.oh;
  p->pad_floats = im2col ? md_im2col_scratch_floats(&p->g, rows) : 0;
  p->shared_floats = 0;
  p->thread_floats = p->col_floats + p->out_floats + p->pad_floats;
}

static void plan_winograd(md_conv_plan *p, const md_conv2d_desc *d, int m) {
  md_wino_geom *wg = &p->wg;
  wg->m = m;
  wg->h = p->g.h;
  wg->w = p->g.w;
  wg->pad = d->pad;
  wg->oh = p->g.oh;
  wg->ow = p->g.ow;
  md_wino_geom_tiles(wg);
  p->npts = (wg->m + 2) * (wg->m + 2);
  const int c = d->in_c, oc = d->out_c;
  int target = MD_WINO_BLOCK_FLOATS / (p->npts * (c + oc));
  if (target > MD_WINO_MAX_TILES) target = MD_WINO_MAX_TILES;
  if (target < MD_WINO_MIN_TILES) target = MD_WINO_MIN_TILES;
  const int per_img = wg->th * wg->tw;
  if (per_img >= target) {
    p->blk_imgs = 1;
    p->blk_rows = target / wg->tw > 0 ? target / wg->tw : 1;
    p->wsub = (wg->th + p->blk_rows - 1) / p->blk_rows;
    p->tiles = p->blk_rows * wg->tw;
    p->n_blocks = p->n * p->wsub;
    p->n_units = p->n;
  } else {
    p->blk_imgs = target / per_img < p->n ? target / per_img : p->n;
    p->blk_rows = wg->th;
    p->wsub = 1;
    p->tiles = p->blk_imgs * per_img;
    p->n_blocks = (p->n + p->blk_imgs - 1) / p->blk_imgs;
    p->n_units = p->n_blocks;
  }
  /* backward-weight: two chunks of input channels; each transforms dy for
   * every output channel, so more chunks would repeat that work */
  p->n_chunks = c < 2 ? c : 2;
  const size_t t = (size_t)p->tiles;
  p->shared_floats = (size_t)p->npts * oc * c; /* U or dU */
  /* channels-last kernels: maps of at most MD_WINO_NHWC_MAX positions, cut
   * into blocks of whole images only */
  p->nhwc = p->wsub == 1 && wg->h * wg->w <= MD_WINO_NHWC_MAX &&
            wg->oh * wg->ow <= MD_WINO_NHWC_MAX;
  if (p->nhwc) {
    const size_t in_sz = (size_t)wg->h * wg->w * c, out_sz = (size_t)wg->oh * wg->ow * oc;
    p->nhwc_floats = (size_t)p->blk_imgs * (in_sz > out_sz ? in_sz : out_sz);
    p->wscratch = md_wino_nhwc_scratch_floats(wg);
  } else {
    p->nhwc_floats = 0;
    p->wscratch = md_wino_scratch_floats(wg, p->blk_rows);
  }
  /* forward: V (npts x c x t) + M (npts x oc x t); backward-data: dV + Z,
   * the same; backward-weight: V of a chunk + Z */
  p->thread_floats = (size_t)p->npts * t * (size_t)(c + oc) + p->wscratch + 2 * p->nhwc_floats;
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
  int m = 0; /* Winograd output tile size, 0: im2col */
  if (d->algo == MD_CONV2D_WINOGRAD_2X2) m = 2;
  else if (d->algo == MD_CONV2D_WINOGRAD_4X4) m = 4;
  else if (d->algo == MD_CONV2D_AUTO && winograd_applies(d) && d->in_c >= 16 &&
           d->out_c >= 16 && p.g.oh >= 4 && p.g.ow >= 4)
    m = winograd_tile(p.g.oh, p.g.ow);
  p.winograd = m > 0;
  if (p.winograd) plan_winograd(&p, d, m);
  else plan_im2col(&p, d);
  *pl = p;
  return MD_OK;
}

md_conv_tile md_conv_plan_tile(const md_conv_plan *pl, int t) {
  md_conv_tile tl;
  if (pl->per_tile == 1) {
    const int s = t % pl->sub;
    tl.img0 = t / pl->sub;
    tl.img1 = tl.img0 + 1;
    /* balanced split of the positions */
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

md_wino_block md_conv_plan_block(const md_conv_plan *pl, int b) {
  md_wino_block bl;
  if (pl->wsub > 1 || pl->blk_imgs == 1) {
    const int s = b % pl->wsub;
    bl.img0 = b / pl->wsub;
    bl.img1 = bl.img0 + 1;
    bl.tr0 = s * pl->blk_rows;
    bl.tr1 = bl.tr0 + pl->blk_rows < pl->wg.th ? bl.tr0 + pl->blk_rows : pl->wg.th;
  } else {
    bl.img0 = b * pl->blk_imgs;
    bl.img1 = bl.img0 + pl->blk_imgs < pl->n ? bl.img0 + pl->blk_imgs : pl->n;
    bl.tr0 = 0;
    bl.tr1 = pl->wg.th;
  }
  return bl;
}

void md_conv_plan_chunk(const md_conv_plan *pl, int ch, int *c0, int *c1) {
  *c0 = (int)((int64_t)ch * pl->g.c / pl->n_chunks);
  *c1 = (int)((int64_t)(ch + 1) * pl->g.c / pl->n_chunks);
}

int md_conv_plan_threads(const md_conv_plan *pl, const float *ws, size_t ws_floats,
                         int units) {
  int t = omp_get_max_threads();
  const size_t need = pl->shared_floats + pl->thread_floats;
  if (need > 0) {
    if (!ws || ws_floats < need) return 0;
    if (pl->thread_floats > 0) {
      const size_t fit = (ws_floats - pl->shared_floats) / pl->thread_floats;
      if (fit < (size_t)t) t = (int)fit;
    }
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
  *floats = pl.shared_floats + pl.thread_floats * (size_t)t;
  return MD_OK;
}

md_status md_conv2d_forward_ep(const md_conv2d_desc *d, md_shape in, const float *x,
                               const float *weight, const float *bias,
                               const md_conv_epilogue *ep, float *y, float *ws,
                               size_t ws_floats) {
  md_conv_plan pl;
  md_status st = md_conv_plan_make(d, in, &pl);
  if (st != MD_OK) return st;
  if (!x || !weight || !y || (d->has_bias ? !bias : bias != NULL))
    return MD_ERR_INVALID_ARGUMENT;
  if (ep && (ep->add == y || !ep->mean != !ep->scale || !ep->mean != !ep->shift))
    return MD_ERR_INVALID_ARGUMENT;
  if (md_conv_plan_threads(&pl, ws, ws_floats, 1) == 0) return MD_ERR_INVALID_ARGUMENT;
  md_blas_one_thread();
  if (pl.winograd) md_conv_winograd_forward(&pl, x, weight, bias, ep, y, ws, ws_floats);
  else md_conv_im2col_forward(&pl, x, weight, bias, ep, y, ws, ws_floats);
  return MD_OK;
}

md_status md_conv2d_forward(const md_conv2d_desc *d, md_shape in, const float *x,
                            const float *weight, const float *bias, float *y, float *ws,
                            size_t ws_floats) {
  return md_conv2d_forward_ep(d, in, x, weight, bias, NULL, y, ws, ws_floats);
}

md_status md_conv2d_backward(const md_conv2d_desc *d, md_shape in, const float *x,
                             const float *weight, const float *dy, float *dx, float *dweight,
                             float *dbias, float *ws, size_t ws_floats) {
  md_conv_plan pl;
  md_status st = md_conv_plan_make(d, in, &pl);
  if (st != MD_OK) return st;
  if (!dy || (dx && !weight) || (dweight && !x) || (dbias && !d->has_bias))
    return MD_ERR_INVALID_ARGUMENT;
  if (md_conv_plan_threads(&pl, ws, ws_floats, 1) == 0) return MD_ERR_INVALID_ARGUMENT;
  md_blas_one_thread();
  if (dbias) { /* sum of dy per channel, in double, images and positions in order */
    const int nt = md_conv_plan_threads(&pl, ws, ws_floats, pl.oc);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int o = 0; o < pl.oc; ++o) {
      double s = 0.0;
      for (int i = 0; i < pl.n; ++i) {
        const float *r = dy + ((size_t)i * pl.oc + o) * pl.p;
        for (int j = 0; j < pl.p; ++j) s += r[j];
      }
      dbias[o] += (float)s;
    }
  }
  if (!dx && !dweight) return MD_OK;
  if (pl.winograd) md_conv_winograd_backward(&pl, x, weight, dy, dx, dweight, ws, ws_floats);
  else md_conv_im2col_backward(&pl, x, weight, dy, dx, dweight, ws, ws_floats);
  return MD_OK;
}
