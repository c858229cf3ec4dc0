/* SGD with momentum, Nesterov and weight decay (see maxdrop/sgd.h). */
#include "maxdrop/sgd.h"

#include <math.h>

#include "core/errbuf.h"

/* Below this many elements a step runs on one thread: the loop is memory bound
 * and thread start-up would cost more than it saves. */
enum { PARALLEL_MIN = 1 << 15 };

static int finite_nonneg(double v) { return isfinite(v) && v >= 0.0; }

md_status md_sgd_init(md_sgd *opt, const md_sgd_config *cfg, int64_t n, md_errbuf *eb) {
  if (!opt || !cfg) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "SGD: NULL argument");
  if (n < 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "SGD: negative parameter count %lld",
                   (long long)n);
  if (!finite_nonneg(cfg->momentum))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "SGD: momentum %g must be finite and >= 0",
                   cfg->momentum);
  if (!finite_nonneg(cfg->dampening))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "SGD: dampening %g must be finite and >= 0",
                   cfg->dampening);
  if (!finite_nonneg(cfg->weight_decay))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "SGD: weight decay %g must be finite and >= 0", cfg->weight_decay);
  if (cfg->nesterov && (cfg->momentum <= 0.0 || cfg->dampening != 0.0))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "SGD: Nesterov momentum needs momentum > 0 and dampening 0 "
                   "(momentum %g, dampening %g)", cfg->momentum, cfg->dampening);
  opt->cfg = *cfg;
  opt->n = n;
  opt->steps = 0;
  return MD_OK;
}

/* Plain SGD: p -= lr * (g + wd * p). */
static void step_plain(int64_t n, float neg_lr, int use_wd, float wd, float *p,
                       const float *g) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (use_wd) d = fmaf(p[i], wd, d);
    p[i] = fmaf(d, neg_lr, p[i]);
  }
}

/* First step with momentum: the buffer starts as the (decayed) gradient. */
static void step_momentum_first(int64_t n, float neg_lr, int use_wd, float wd, float mom,
                                int nesterov, float *p, const float *g, float *buf) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (use_wd) d = fmaf(p[i], wd, d);
    buf[i] = d;
    if (nesterov) d = fmaf(d, mom, d);
    p[i] = fmaf(d, neg_lr, p[i]);
  }
}

/* Later steps: buf = momentum * buf + (1 - dampening) * d. */
static void step_momentum(int64_t n, float neg_lr, int use_wd, float wd, float mom,
                          float one_minus_damp, int nesterov, float *p, const float *g,
                          float *buf) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (use_wd) d = fmaf(p[i], wd, d);
    const float b = fmaf(d, one_minus_damp, buf[i] * mom);
    buf[i] = b;
    d = nesterov ? fmaf(b, mom, d) : b;
    p[i] = fmaf(d, neg_lr, p[i]);
  }
}

md_status md_sgd_step(md_sgd *opt, double lr, float *params, const float *grads,
                      float *momentum) {
  if (!opt || !finite_nonneg(lr)) return MD_ERR_INVALID_ARGUMENT;
  const md_sgd_config *c = &opt->cfg;
  const int64_t n = opt->n;
  const int use_momentum = c->momentum != 0.0;
  if (n > 0 && (!params || !grads || (use_momentum && !momentum)))
    return MD_ERR_INVALID_ARGUMENT;
  /* PyTorch turns each Python scalar into the tensor's dtype before use. */
  const float neg_lr = (float)(-lr);
  const int use_wd = c->weight_decay != 0.0;
  const float wd = (float)c->weight_decay;
  if (!use_momentum) {
    step_plain(n, neg_lr, use_wd, wd, params, grads);
  } else if (opt->steps == 0) {
    step_momentum_first(n, neg_lr, use_wd, wd, (float)c->momentum, c->nesterov != 0,
                        params, grads, momentum);
  } else {
    step_momentum(n, neg_lr, use_wd, wd, (float)c->momentum, (float)(1.0 - c->dampening),
                  c->nesterov != 0, params, grads, momentum);
  }
  opt->steps++;
  return MD_OK;
}
