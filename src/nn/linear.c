/* Linear layer: y = x weight^T + bias and its gradients (see maxdrop/linear.h).
 *
 * Each GEMM is cut into blocks whose sizes depend on the shapes only: rows of
 * the batch (forward, dx) and rows of dweight (weight gradient, summed over
 * the whole batch inside one GEMM); blocks run in parallel. */
#include "maxdrop/linear.h"

#include <cblas.h>
#include <omp.h>

#include "nn/blas_threads.h"

/* Rows per parallel block. */
enum { MD_LINEAR_BLOCK = 64 };

md_status md_linear_check(const md_linear_desc *d) {
  if (!d || d->in_f < 1 || d->out_f < 1 || (d->has_bias != 0 && d->has_bias != 1))
    return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}

int64_t md_linear_weight_numel(const md_linear_desc *d) {
  if (md_linear_check(d) != MD_OK) return 0;
  return (int64_t)d->out_f * d->in_f;
}

static md_status check_batch(const md_linear_desc *d, int n) {
  md_status st = md_linear_check(d);
  if (st != MD_OK) return st;
  if (n < 0) return MD_ERR_SHAPE;
  if (n == 0) return MD_ERR_EMPTY;
  return MD_OK;
}

/* Threads for `blocks` parallel blocks: 1 when there is only one. */
static int threads_for(int blocks) {
  const int t = omp_get_max_threads();
  return blocks < t ? blocks : t;
}

md_status md_linear_forward(const md_linear_desc *d, int n, const float *x,
                            const float *weight, const float *bias, float *y) {
  md_status st = check_batch(d, n);
  if (st != MD_OK) return st;
  if (!x || !weight || !y || (d->has_bias ? !bias : bias != NULL))
    return MD_ERR_INVALID_ARGUMENT;
  md_blas_one_thread();
  const int in = d->in_f, out = d->out_f;
  const int blocks = (n + MD_LINEAR_BLOCK - 1) / MD_LINEAR_BLOCK;
#pragma omp parallel for num_threads(threads_for(blocks)) schedule(static)
  for (int b = 0; b < blocks; ++b) {
    const int r0 = b * MD_LINEAR_BLOCK;
    const int rows = n - r0 < MD_LINEAR_BLOCK ? n - r0 : MD_LINEAR_BLOCK;
    float *yb = y + (size_t)r0 * out;
    float beta = 0.0f;
    if (bias) {
      for (int i = 0; i < rows; ++i)
        for (int o = 0; o < out; ++o) yb[(size_t)i * out + o] = bias[o];
      beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f,
                x + (size_t)r0 * in, in, weight, in, beta, yb, out);
  }
  return MD_OK;
}

md_status md_linear_backward(const md_linear_desc *d, int n, const float *x,
                             const float *weight, const float *dy, float *dx,
                             float *dweight, float *dbias) {
  md_status st = check_batch(d, n);
  if (st != MD_OK) return st;
  if (!dy || (dx && !weight) || (dweight && !x) || (dbias && !d->has_bias))
    return MD_ERR_INVALID_ARGUMENT;
  md_blas_one_thread();
  const int in = d->in_f, out = d->out_f;

  if (dx) { /* dx (n, in) += dy (n, out) weight (out, in), by blocks of rows */
    const int blocks = (n + MD_LINEAR_BLOCK - 1) / MD_LINEAR_BLOCK;
#pragma omp parallel for num_threads(threads_for(blocks)) schedule(static)
    for (int b = 0; b < blocks; ++b) {
      const int r0 = b * MD_LINEAR_BLOCK;
      const int rows = n - r0 < MD_LINEAR_BLOCK ? n - r0 : MD_LINEAR_BLOCK;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f,
                  dy + (size_t)r0 * out, out, weight, in, 1.0f, dx + (size_t)r0 * in, in);
    }
  }

  if (dweight) { /* dweight (out, in) += dy^T (out, n) x (n, in), by blocks of out rows */
    const int blocks = (out + MD_LINEAR_BLOCK - 1) / MD_LINEAR_BLOCK;
#pragma omp parallel for num_threads(threads_for(blocks)) schedule(static)
    for (int b = 0; b < blocks; ++b) {
      const int o0 = b * MD_LINEAR_BLOCK;
      const int rows = out - o0 < MD_LINEAR_BLOCK ? out - o0 : MD_LINEAR_BLOCK;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, in, n, 1.0f, dy + o0, out,
                  x, in, 1.0f, dweight + (size_t)o0 * in, in);
    }
  }

  if (dbias) { /* column sums of dy, in double, rows in order */
#pragma omp parallel for num_threads(threads_for(out)) schedule(static)
    for (int o = 0; o < out; ++o) {
      double s = 0.0;
      for (int i = 0; i < n; ++i) s += dy[(size_t)i * out + o];
      dbias[o] += (float)s;
    }
  }
  return MD_OK;
}
