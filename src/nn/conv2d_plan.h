/* How a convolution is computed and how its work is split (shared by
 * src/nn/conv2d*.c). Everything here depends on the shapes only, never on the
 * thread count, and so do the results.
 *
 * im2col method: the N images' output positions are cut into tiles. When an
 * image has at least MD_CONV_TILE_COLS output positions, each image is cut
 * into `sub` tiles of consecutive positions; otherwise a tile holds
 * `per_tile` whole images. A tile is one GEMM: (out_c x K) weight times
 * (K x cols) im2col block, K = in_c * k_h * k_w.
 *
 * Winograd method: the m x m output tiles are grouped into blocks: `blk_imgs`
 * whole images, or (blk_imgs == 1) `blk_rows` rows of tiles of one image. A
 * block is one GEMM per transform point (npts of them) with one column per
 * tile. Maps of at most MD_WINO_NHWC_MAX positions (whole-image blocks) use
 * the channels-last kernels (`nhwc`).
 *
 * Threads, both methods: forward runs tiles/blocks in parallel; backward-data
 * runs "units" (one image, or one tile/block of whole images) in parallel, so
 * that no two threads add into the same dx image; backward-weight gives each
 * thread whole chunks of input channels of dweight, each summed over all
 * tiles/blocks in order.
 *
 * Workspace: `shared_floats` used by all threads (the transformed weights of
 * the Winograd method), then one region of `thread_floats` per thread. */
#ifndef MD_NN_CONV2D_PLAN_H
#define MD_NN_CONV2D_PLAN_H

#include <stddef.h>

#include "maxdrop/conv2d.h"
#include "nn/im2col.h"
#include "nn/winograd.h"

/* Target number of output positions (GEMM columns) per im2col tile. */
enum { MD_CONV_TILE_COLS = 256 };

/* Winograd blocks: about MD_WINO_BLOCK_FLOATS transformed floats (V and M)
 * per thread, so that they stay in a core's cache, but at least
 * MD_WINO_MIN_TILES tiles (GEMM columns) and at most MD_WINO_MAX_TILES. */
enum { MD_WINO_BLOCK_FLOATS = 1 << 18, MD_WINO_MIN_TILES = 64, MD_WINO_MAX_TILES = 512 };

/* The channels-last Winograd kernels serve maps of at most this many
 * positions (CIFAR's 32x32); larger ones use the channel-first kernels, which
 * can cut an image into blocks of tile rows. */
enum { MD_WINO_NHWC_MAX = 1024 };


typedef struct md_conv_plan {
  int winograd;     /* 1: Winograd method, 0: im2col method */
  md_conv_geom g;   /* one image's geometry */
  int n;            /* batch */
  int oc;           /* output channels */
  int p;            /* output positions per image, oh * ow */
  int k;            /* in_c * k_h * k_w */
  int kk;           /* k_h * k_w */
  int n_units;      /* backward-data parallel units */
  int n_chunks;     /* backward-weight channel chunks */
  size_t shared_floats;
  size_t thread_floats;

  /* im2col method */
  int direct;       /* 1x1, stride 1, pad 0: the image is its own im2col matrix */
  int per_tile;     /* images per tile (> 1 only when sub == 1) */
  int sub;          /* tiles per image (> 1 only when per_tile == 1) */
  int width;        /* the most columns of any tile */
  int n_tiles;      /* number of tiles */
  size_t col_floats;  /* per-thread im2col scratch (0 when not needed) */
  size_t out_floats;  /* per-thread output-tile scratch (0 when not needed) */
  size_t pad_floats;  /* per-thread scratch of md_im2col / md_col2im_add */

  /* Winograd method */
  md_wino_geom wg;
  int npts;         /* transform points (a*a, a = wg.m + 2): GEMMs per block */
  int blk_imgs;     /* whole images per block (1: see blk_rows) */
  int blk_rows;     /* tile rows per block when blk_imgs == 1 */
  int wsub;         /* blocks per image when blk_imgs == 1 */
  int n_blocks;
  int tiles;        /* the most tiles (GEMM columns) of any block */
  int nhwc;         /* 1: channels-last kernels (whole-image blocks, small maps) */
  size_t wscratch;  /* per-thread floats of transform scratch */
  size_t nhwc_floats; /* per-thread floats of each channels-last image block */
} md_conv_plan;

/* One im2col tile: images [img0, img1), and the output positions [p0, p1) of each. */
typedef struct md_conv_tile {
  int img0, img1, p0, p1;
} md_conv_tile;

/* One Winograd block: images [img0, img1), tile rows [tr0, tr1) of each. */
typedef struct md_wino_block {
  int img0, img1, tr0, tr1;
} md_wino_block;

/* Validates d and `in` (errors as md_conv2d_output_shape) and fills pl. */
md_status md_conv_plan_make(const md_conv2d_desc *d, md_shape in, md_conv_plan *pl);

md_conv_tile md_conv_plan_tile(const md_conv_plan *pl, int t);
md_wino_block md_conv_plan_block(const md_conv_plan *pl, int b);

/* Channel range [*c0, *c1) of backward-weight chunk ch. */
void md_conv_plan_chunk(const md_conv_plan *pl, int ch, int *c0, int *c1);

/* Threads to run with: omp_get_max_threads(), limited by the workspace and by
 * `units` (the number of parallel work items). 0 when the workspace does not
 * hold even one thread's share. */
int md_conv_plan_threads(const md_conv_plan *pl, const float *ws, size_t ws_floats,
                         int units);

/* This thread's workspace region (NULL when the plan needs none). */
static inline float *md_conv_plan_thread_ws(const md_conv_plan *pl, float *ws, int thread) {
  if (pl->thread_floats == 0) return NULL;
  return ws + pl->shared_floats + (size_t)thread * pl->thread_floats;
}

/* The methods (src/nn/conv2d_im2col_*.c, src/nn/conv2d_winograd_*.c). The
 * arguments are checked by md_conv2d_forward / md_conv2d_backward, which also
 * compute the bias gradient; dx or dweight may be NULL. */
struct md_conv_epilogue; /* nn/conv2d_epilogue.h; NULL: none */
void md_conv_im2col_forward(const md_conv_plan *pl, const float *x, const float *weight,
                            const float *bias, const struct md_conv_epilogue *ep, float *y,
                            float *ws, size_t ws_floats);
void md_conv_im2col_backward(const md_conv_plan *pl, const float *x, const float *weight,
                             const float *dy, float *dx, float *dweight, float *ws,
                             size_t ws_floats);
void md_conv_winograd_forward(const md_conv_plan *pl, const float *x, const float *weight,
                              const float *bias, const struct md_conv_epilogue *ep, float *y,
                              float *ws, size_t ws_floats);
void md_conv_winograd_backward(const md_conv_plan *pl, const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight, float *ws,
                               size_t ws_floats);

#endif
