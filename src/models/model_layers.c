/* The layer calls the architectures are written with: each wraps one kernel
 * of src/nn/ or src/reg/ with the model's parameter, gradient, statistic and
 * scratch pointers (see models/model_internal.h). */
#include <string.h>

#include "maxdrop/batchnorm.h"
#include "nn/batchnorm_fused.h"
#include "nn/conv2d_epilogue.h"
#include "models/model_internal.h"

/* Elements per unit of parallel work in md_l_zero / md_l_copy. */
enum { CHUNK = 1 << 15 };

void md_l_zero(float *x, int64_t n) {
  const int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
    memset(x + lo, 0, (size_t)len * sizeof *x);
  }
}

void md_l_copy(float *dst, const float *src, int64_t n) {
  const int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
    memcpy(dst + lo, src + lo, (size_t)len * sizeof *dst);
  }
}

md_status md_l_conv_fwd(md_model *m, const md_conv_l *c, int n, const float *x, float *y) {
  return md_conv2d_forward(&c->d, md_batched(c->in, n), x, m->params + c->w,
                           c->b >= 0 ? m->params + c->b : NULL, y, m->ws, m->ws_floats);
}

md_status md_l_conv_bwd(md_model *m, const md_conv_l *c, int n, const float *x,
                        const float *dy, float *dx) {
  return md_conv2d_backward(&c->d, md_batched(c->in, n), x, m->params + c->w, dy, dx,
                            m->grads + c->w, c->b >= 0 ? m->grads + c->b : NULL, m->ws,
                            m->ws_floats);
}

md_status md_l_bn_fwd(md_model *m, const md_bn_l *b, md_shape s, const float *x, float *y,
                      int mode, const float *add, int relu) {
  const float *w = m->params + b->w, *bias = m->params + b->b;
  float *rm = m->buffers + b->rm, *rv = m->buffers + b->rv;
  const md_bn_epilogue ep = {add, relu};
  md_status st;
  if (mode == MD_BN_EVAL) {
    st = md_batchnorm_forward_eval_ep(s, x, w, bias, rm, rv, m->cfg.bn_eps, &ep, y);
  } else {
    const int train = mode == MD_BN_TRAIN;
    st = md_batchnorm_forward_train_ep(s, x, w, bias, m->cfg.bn_momentum, m->cfg.bn_eps,
                                       train ? rm : NULL, train ? rv : NULL,
                                       train ? m->counters + b->nbt : NULL,
                                       m->arena + b->save_mean, NULL, &ep, y);
  }
  if (st == MD_OK && relu && mode != MD_BN_RECOMPUTE && m->trace)
    m->trace(m->trace_ctx, m->trace_index++, s, y);
  return st;
}

md_status md_l_conv_bn_eval(md_model *m, const md_conv_l *c, const md_bn_l *b, int n,
                            const float *x, const float *add, int relu, float *y) {
  float *mean = md_m_ptr(m, b->terms), *scale = mean + b->c, *shift = scale + b->c;
  md_status st = md_batchnorm_eval_terms(b->c, m->params + b->w, m->params + b->b,
                                         m->buffers + b->rm, m->buffers + b->rv,
                                         m->cfg.bn_eps, mean, scale, shift);
  if (st != MD_OK) return st;
  const md_conv_epilogue ep = {mean, scale, shift, add, relu};
  st = md_conv2d_forward_ep(&c->d, md_batched(c->in, n), x, m->params + c->w,
                            c->b >= 0 ? m->params + c->b : NULL, &ep, y, m->ws, m->ws_floats);
  if (st == MD_OK && relu && m->trace)
    m->trace(m->trace_ctx, m->trace_index++, md_batched(c->out, n), y);
  return st;
}

md_status md_l_bn_bwd(md_model *m, const md_bn_l *b, md_shape s, const float *x,
                      const float *dy, float *dx) {
  return md_batchnorm_backward_train(s, x, dy, m->params + b->w, m->arena + b->save_mean,
                                     m->cfg.bn_eps, dx, m->grads + b->w, m->grads + b->b);
}

md_status md_l_fc_fwd(md_model *m, const md_fc_l *f, int n, const float *x, float *y) {
  return md_linear_forward(&f->d, n, x, m->params + f->w, m->params + f->b, y);
}

md_status md_l_fc_bwd(md_model *m, const md_fc_l *f, int n, const float *x, const float *dy,
                      float *dx) {
  return md_linear_backward(&f->d, n, x, m->params + f->w, dy, dx, m->grads + f->w,
                            m->grads + f->b);
}

md_status md_l_reg_fwd(md_model *m, int i, md_shape s, float *x, int training) {
  if (i < 0) return MD_OK;
  md_status st;
  if (m->maxdrop) {
    const int active = training || m->cfg.maxdrop_in_eval;
    st = md_maxdrop_forward(&m->maxdrop[i], s, x, x, active);
  } else {
    st = md_dropout_forward(&m->dropout[i], md_shape_numel(s), x, x, training);
  }
  if (st == MD_OK) m->reg_ran[i] = 1;
  return st;
}

md_status md_l_reg_bwd(md_model *m, int i, float *d) {
  if (i < 0) return MD_OK;
  return m->maxdrop ? md_maxdrop_backward(&m->maxdrop[i], d, d)
                    : md_dropout_backward(&m->dropout[i], d, d);
}

md_status md_l_reg_reapply(md_model *m, int i, float *x) {
  /* The forward wrote mask ? x : 0 (MaxDropout) or mask ? x * scale : 0
   * (Dropout); the backward's mask application computes the same products. */
  return md_l_reg_bwd(m, i, x);
}
