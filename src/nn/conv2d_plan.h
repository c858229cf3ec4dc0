/* How the GEMM convolution splits its work (shared by src/nn/conv2d_*.c).
 *
 * The N images' output positions are cut into tiles: when an image has at
 * least MD_CONV_TILE_COLS output positions, each image is cut into `sub`
 * tiles of consecutive positions; otherwise a tile holds `per_tile` whole
 * images. A tile is one GEMM: (out_c x K) weight times (K x cols) im2col
 * block, K = in_c * k_h * k_w. The tiling depends on the shapes only, never on
 * the thread count, and so do the results.
 *
 * Threads: forward runs the tiles in parallel; backward-data runs "units"
 * (one image, or one tile of whole images) in parallel, so that no two threads
 * add into the same dx image; backward-weight gives each thread whole
 * channel chunks of dweight, each summed over all tiles in order. */
#ifndef MD_NN_CONV2D_PLAN_H
#define MD_NN_CONV2D_PLAN_H

#include <stddef.h>

#include "maxdrop/conv2d.h"
#include "nn/im2col.h"

/* Target number of output positions (GEMM columns) per tile. */
enum { MD_CONV_TILE_COLS = 256 };

typedef struct md_conv_plan {
  md_conv_geom g;   /* one image's geometry */
  int n;            /* batch */
  int oc;           /* output channels */
  int p;            /* output positions per image, oh * ow */
  int k;            /* GEMM inner size, in_c * k_h * k_w */
  int kk;           /* k_h * k_w */
  int direct;       /* 1x1, stride 1, pad 0: the image is its own im2col matrix */
  int per_tile;     /* images per tile (> 1 only when sub == 1) */
  int sub;          /* tiles per image (> 1 only when per_tile == 1) */
  int width;        /* the most columns of any tile */
  int n_tiles;      /* number of tiles */
  int n_units;      /* backward-data units: images (sub >= 1) or image groups */
  int n_chunks;     /* backward-weight channel chunks */
  size_t col_floats;  /* per-thread im2col scratch (0 when not needed) */
  size_t out_floats;  /* per-thread output-tile scratch (0 when not needed) */
} md_conv_plan;

/* One tile: images [img0, img1), and the output positions [p0, p1) of each. */
typedef struct md_conv_tile {
  int img0, img1, p0, p1;
} md_conv_tile;

/* Validates d and `in` (errors as md_conv2d_output_shape) and fills pl. */
md_status md_conv_plan_make(const md_conv2d_desc *d, md_shape in, md_conv_plan *pl);

md_conv_tile md_conv_plan_tile(const md_conv_plan *pl, int t);

/* Workspace floats one thread needs. */
static inline size_t md_conv_plan_thread_floats(const md_conv_plan *pl) {
  return pl->col_floats + pl->out_floats;
}

/* Threads to run with: omp_get_max_threads(), limited by the workspace and by
 * `units` (the number of parallel work items). 0 when the workspace does not
 * hold even one thread's share. */
int md_conv_plan_threads(const md_conv_plan *pl, const float *ws, size_t ws_floats,
                         int units);

#endif
