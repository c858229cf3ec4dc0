/* MaxDropout throughput against the machine's own memory-copy bandwidth.
 *
 * Bytes are counted as the minimum traffic of the algorithm:
 *   forward  = read x (statistics pass) + read x, write y, write mask bits
 *            = 12 n + n / 8 bytes for n float elements;
 *   backward = read dy, read mask bits, write dx = 8 n + n / 8 bytes;
 *   copy     = read + write = 2 * buffer bytes.
 * Two copy figures: 256 MiB (main memory), and for each shape the copies
 * x -> y and dy -> dx over the benchmark's own four tensors (the bandwidth a
 * working set of that size gets, partly from cache).
 * All figures are medians over the repetitions, after one warm-up run.
 * Tensors are 64-byte aligned (as an arena hands them out) unless the caller
 * asks for an offset; "align" in the output says which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "bench.h"
#include "cli.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/rng.h"

/* Fills x with reproducible post-ReLU-like data: ~half zeros, the rest
 * uniform in (0, 4). Parallel, counter-based, so first-touch spreads pages. */
static void fill(float *x, int64_t n, uint64_t stream) {
  md_rng r;
  md_rng_init(&r, 2026, stream);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < (n + 3) / 4; ++b) {
    uint64_t w[4];
    md_rng_block(&r, (uint64_t)b, w);
    for (int64_t k = 0; k < 4 && 4 * b + k < n; ++k) {
      const float u = md_u64_to_unit_float(w[k]);
      x[4 * b + k] = u < 0.5f ? 0.0f : (u - 0.5f) * 8.0f;
    }
  }
}

static void parallel_copy(char *dst, const char *src, size_t bytes) {
#pragma omp parallel
  {
    const size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
    const size_t chunk = (bytes / nt + 4095) & ~(size_t)4095;
    const size_t lo = t * chunk < bytes ? t * chunk : bytes;
    const size_t hi = lo + chunk < bytes ? lo + chunk : bytes;
    memcpy(dst + lo, src + lo, hi - lo);
  }
}

/* n floats starting `offset` floats past a 64-byte boundary; *base is the
 * pointer to free. */
static float *bench_alloc(int64_t n, int offset, void **base) {
  const size_t bytes = ((size_t)(n + offset) * sizeof(float) + 63) & ~(size_t)63;
  *base = aligned_alloc(64, bytes);
  return *base ? (float *)*base + offset : NULL;
}

static void print_line(FILE *out, const char *name, const int64_t *shape, int ndim,
                       int threads, int reps, int align, double med, double bytes, double copy_gbs,
                       double same_size_copy_gbs) {
  const double gbs = bytes / med * 1e-9;
  fprintf(out, "{\"name\":\"%s\",\"shape\":[", name);
  for (int i = 0; i < ndim; ++i) fprintf(out, "%s%lld", i ? "," : "", (long long)shape[i]);
  fprintf(out, "],\"threads\":%d,\"reps\":%d,\"align\":%d,\"median_s\":%.6e,\"gb_s\":%.4g,"
          "\"bytes\":%.0f", threads, reps, align, med, gbs, bytes);
  if (copy_gbs > 0.0) fprintf(out, ",\"fraction_of_copy_bw\":%.4g", gbs / copy_gbs);
  if (same_size_copy_gbs > 0.0)
    fprintf(out, ",\"fraction_of_same_size_copy_bw\":%.4g", gbs / same_size_copy_gbs);
  fputs("}\n", out);
  fflush(out);
}

int md_bench_maxdropout(const md_bench_opts *o, FILE *out) {
  const int threads = omp_get_max_threads();
  const int reps = o->reps;
  /* alignment of the tensors: 64 bytes, or 16 with an offset of 4 floats */
  const int align = o->offset % 16 == 0 ? 64 : (o->offset % 4 == 0 ? 16 : 4);
  double *t = malloc((size_t)reps * sizeof *t);
  double *tf = malloc((size_t)reps * sizeof *tf);
  double *tb = malloc((size_t)reps * sizeof *tb);
  if (!t || !tf || !tb) {
    free(t);
    free(tf);
    free(tb);
    return md_cli_error("bench", "out of memory");
  }

  /* 1. Copy bandwidth: 256 MiB, same thread count. */
  const size_t copy_bytes = (size_t)256 << 20;
  char *src = malloc(copy_bytes), *dst = malloc(copy_bytes);
  if (!src || !dst) {
    free(src);
    free(dst);
    free(t);
    free(tf);
    free(tb);
    return md_cli_error("bench", "cannot allocate the 2 x 256 MiB copy buffers");
  }
  fill((float *)src, (int64_t)(copy_bytes / 4), 1);
  parallel_copy(dst, src, copy_bytes); /* warm-up, touches dst */
  for (int r = 0; r < reps; ++r) {
    const double t0 = md_bench_now_s();
    parallel_copy(dst, src, copy_bytes);
    t[r] = md_bench_now_s() - t0;
  }
  free(src);
  free(dst);
  const double copy_med = md_bench_median(t, reps);
  const double copy_gbs = 2.0 * (double)copy_bytes / copy_med * 1e-9;
  const int64_t copy_shape[1] = {(int64_t)copy_bytes};
  print_line(out, "memcpy", copy_shape, 1, threads, reps, 64, copy_med, 2.0 * (double)copy_bytes,
             0.0, 0.0);

  /* 2. MaxDropout on the ResNet-18 stage outputs. */
  const int64_t stages[4][3] = {{64, 32, 32}, {128, 16, 16}, {256, 8, 8}, {512, 4, 4}};
  int rc = 0;
  for (int s = 0; s < 4 && rc == 0; ++s) {
    const md_shape sh = md_shape4(o->batch, stages[s][0], stages[s][1], stages[s][2]);
    const int64_t shape[4] = {sh.n, sh.c, sh.h, sh.w};
    const int64_t n = md_shape_numel(sh);
    void *bx, *by, *bdy, *bdx;
    float *x = bench_alloc(n, o->offset, &bx), *y = bench_alloc(n, o->offset, &by);
    float *dy = bench_alloc(n, o->offset, &bdy), *dx = bench_alloc(n, o->offset, &bdx);
    double same_med = 0.0;
    md_maxdrop m;
    const md_maxdrop_config cfg = md_maxdrop_default_config();
    md_status st = md_maxdrop_init(&m, &cfg, 2026, MD_STREAM_LAYER);
    if (st == MD_OK) st = md_maxdrop_reserve(&m, n);
    if (!x || !y || !dy || !dx || st != MD_OK) {
      rc = md_cli_error("bench", "cannot allocate the %lld-element tensors", (long long)n);
    } else {
      fill(x, n, 2);
      fill(dy, n, 3);
      memset(y, 0, (size_t)n * sizeof *y);
      memset(dx, 0, (size_t)n * sizeof *dx);
      /* copies x -> y and dy -> dx: the bandwidth available to a working
       * set of the same four tensors, which may sit partly in cache */
      for (int r = -1; r < reps; ++r) {
        const double t0 = md_bench_now_s();
        parallel_copy((char *)y, (const char *)x, (size_t)n * sizeof *x);
        parallel_copy((char *)dx, (const char *)dy, (size_t)n * sizeof *x);
        if (r >= 0) t[r] = md_bench_now_s() - t0;
      }
      same_med = md_bench_median(t, reps);
      print_line(out, "memcpy_same_size", shape, 4, threads, reps, align, same_med,
                 16.0 * (double)n, copy_gbs, 0.0);
      for (int r = -1; r < reps && rc == 0; ++r) {
        const double t0 = md_bench_now_s();
        st = md_maxdrop_forward(&m, sh, x, y, 1);
        const double t1 = md_bench_now_s();
        if (st == MD_OK) st = md_maxdrop_backward(&m, dy, dx);
        const double t2 = md_bench_now_s();
        if (st != MD_OK) rc = md_cli_status_error("bench", "maxdropout", st, NULL);
        if (r >= 0) {
          tf[r] = t1 - t0;
          tb[r] = t2 - t1;
          t[r] = t2 - t0;
        }
      }
    }
    if (rc == 0) {
      const double nd = (double)n, bits = nd / 8.0;
      const double fwd_bytes = 12.0 * nd + bits, bwd_bytes = 8.0 * nd + bits;
      const double same_gbs = 16.0 * nd / same_med * 1e-9;
      print_line(out, "maxdropout_fwd_bwd", shape, 4, threads, reps, align,
                 md_bench_median(t, reps), fwd_bytes + bwd_bytes, copy_gbs, same_gbs);
      print_line(out, "maxdropout_fwd", shape, 4, threads, reps, align,
                 md_bench_median(tf, reps), fwd_bytes, copy_gbs, same_gbs);
      print_line(out, "maxdropout_bwd", shape, 4, threads, reps, align,
                 md_bench_median(tb, reps), bwd_bytes, copy_gbs, same_gbs);
    }
    md_maxdrop_free(&m);
    free(bx);
    free(by);
    free(bdy);
    free(bdx);
  }
  free(t);
  free(tf);
  free(tb);
  return rc;
}
