/* The model object: configuration, building for a batch size (tensor table,
 * arena plan, one allocation per kind), accessors and the training step
 * (see maxdrop/model.h). The architectures are in resnet.c and
 * wide_resnet.c, the layer calls in model_layers.c, checkpoints in
 * model_io.c. */
#include "maxdrop/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/errbuf.h"
#include "maxdrop/loss.h"
#include "models/model_internal.h"

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

md_model_config md_model_default_config(md_arch arch) {
  md_model_config c;
  memset(&c, 0, sizeof c);
  c.arch = arch;
  c.num_classes = 10;
  c.width = 64;
  c.depth = 28;
  c.widen = 10;
  c.reg = MD_REG_NONE;
  c.maxdrop = md_maxdrop_default_config();
  c.dropout_p = 0.3f;
  c.reg_stages = 0xFu;
  c.maxdrop_in_eval = 0;
  c.bn_momentum = 0.1f;
  c.bn_eps = 1e-5f;
  return c;
}

md_status md_model_config_check(const md_model_config *cfg, md_errbuf *eb) {
  if (!cfg) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no model configuration given");
  if (cfg->arch != MD_ARCH_RESNET18 && cfg->arch != MD_ARCH_WRN)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown architecture %d", (int)cfg->arch);
  if (cfg->num_classes < 1 || cfg->num_classes > 1000000)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "the number of classes must be in [1, 1000000], not %d", cfg->num_classes);
  if (cfg->arch == MD_ARCH_RESNET18) {
    if (cfg->width < 1 || cfg->width > 4096)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "the ResNet-18 width must be in [1, 4096], not %d", cfg->width);
    if (cfg->reg_stages > 0xFu)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "reg_stages 0x%x names a stage beyond the fourth", cfg->reg_stages);
  } else {
    if (cfg->depth < 10 || cfg->depth > 1000 || (cfg->depth - 4) % 6 != 0)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "the Wide-ResNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28...), "
                     "not %d", cfg->depth);
    if (cfg->widen < 1 || cfg->widen > 256)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                     "the Wide-ResNet widening factor must be in [1, 256], not %d",
                     cfg->widen);
  }
  switch (cfg->reg) {
    case MD_REG_NONE:
      break;
    case MD_REG_MAXDROPOUT:
      if (md_maxdrop_config_check(&cfg->maxdrop) != MD_OK)
        return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                       "bad MaxDropout configuration (rate %g must be in [0, 1], "
                       "options in range)", (double)cfg->maxdrop.rate);
      break;
    case MD_REG_DROPOUT:
      if (!(cfg->dropout_p >= 0.0 && cfg->dropout_p <= 1.0))
        return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                       "the Dropout probability must be in [0, 1], not %g",
                       (double)cfg->dropout_p);
      break;
    default:
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown regularizer %d", (int)cfg->reg);
  }
  if (cfg->maxdrop_in_eval != 0 && cfg->maxdrop_in_eval != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "maxdrop_in_eval must be 0 or 1");
  if (!(cfg->bn_momentum >= 0.0f && cfg->bn_momentum <= 1.0f))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "the BatchNorm momentum must be in [0, 1], not %g", (double)cfg->bn_momentum);
  if (!(cfg->bn_eps >= 0.0f && isfinite(cfg->bn_eps)))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "the BatchNorm eps must be finite and >= 0, not %g", (double)cfg->bn_eps);
  return MD_OK;
}

static const char *reg_name(md_reg_kind r) {
  switch (r) {
    case MD_REG_MAXDROPOUT: return "maxdropout";
    case MD_REG_DROPOUT: return "dropout";
    default: return "none";
  }
}

int md_model_config_json(const md_model_config *cfg, char *buf, size_t cap) {
  static const char *norms[] = {"minmax", "l2"};
  static const char *stats[] = {"batch", "sample", "channel", "sample_channel"};
  char arch[96], reg[256] = "";
  if (cfg->arch == MD_ARCH_RESNET18)
    snprintf(arch, sizeof arch, "\"arch\":\"resnet18\",\"width\":%d", cfg->width);
  else
    snprintf(arch, sizeof arch, "\"arch\":\"wrn\",\"depth\":%d,\"widen_factor\":%d",
             cfg->depth, cfg->widen);
  if (cfg->reg == MD_REG_MAXDROPOUT) {
    const md_maxdrop_config *c = &cfg->maxdrop;
    snprintf(reg, sizeof reg,
             ",\"rate\":%.9g,\"random_rate\":%d,\"norm\":\"%s\",\"stats\":\"%s\",\"v2\":%d,"
             "\"maxdrop_in_eval\":%d",
             (double)c->rate, c->random_rate, norms[c->norm == MD_MAXDROP_NORM_L2],
             stats[(unsigned)c->stats < 4 ? (unsigned)c->stats : 0], c->v2,
             cfg->maxdrop_in_eval);
  } else if (cfg->reg == MD_REG_DROPOUT) {
    snprintf(reg, sizeof reg, ",\"rate\":%.9g", (double)cfg->dropout_p);
  }
  char stages[32] = "";
  if (cfg->arch == MD_ARCH_RESNET18 && cfg->reg != MD_REG_NONE)
    snprintf(stages, sizeof stages, ",\"reg_stages\":%u", cfg->reg_stages);
  return snprintf(buf, cap, "{%s,\"num_classes\":%d,\"reg\":\"%s\"%s%s}", arch,
                  cfg->num_classes, reg_name(cfg->reg), reg, stages);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */
/* ------------------------------------------------------------------------ */

static void build_fail(md_model *m, md_status st) {
  if (m->build_status == MD_OK) m->build_status = st;
}

int64_t md_m_tensor(md_model *m, md_model_tensor_kind kind, int ndim, const int64_t *shape,
                    md_init_rule init, double init_a, const char *fmt, ...) {
  if (m->build_status != MD_OK) return -1;
  if (m->n_tensors == m->cap_tensors) {
    const size_t cap = m->cap_tensors ? 2 * m->cap_tensors : 64;
    md_tensor_entry *t = realloc(m->tensors, cap * sizeof *t);
    if (!t) {
      build_fail(m, MD_ERR_OUT_OF_MEMORY);
      return -1;
    }
    m->tensors = t;
    m->cap_tensors = cap;
  }
  md_tensor_entry *e = &m->tensors[m->n_tensors];
  memset(e, 0, sizeof *e);
  va_list ap;
  va_start(ap, fmt);
  const int len = vsnprintf(e->name, sizeof e->name, fmt, ap);
  va_end(ap);
  if (len < 0 || (size_t)len >= sizeof e->name || ndim < 0 || ndim > 4) {
    build_fail(m, MD_ERR_INVALID_ARGUMENT);
    return -1;
  }
  int64_t numel = 1;
  for (int i = 0; i < ndim; ++i) {
    e->t.shape[i] = shape[i];
    numel *= shape[i];
  }
  e->t.kind = kind;
  e->t.ndim = ndim;
  e->t.numel = numel;
  e->init = init;
  e->init_a = init_a;
  int64_t *next = kind == MD_MT_PARAM    ? &m->n_params
                  : kind == MD_MT_BUFFER ? &m->n_buffers
                                         : &m->n_counters;
  e->t.offset = *next;
  *next += numel;
  if (kind == MD_MT_PARAM)
    snprintf(e->mom_name, sizeof e->mom_name, "%s%s", MD_CKPT_MOMENTUM_PREFIX, e->name);
  ++m->n_tensors;
  return e->t.offset;
}

size_t md_m_arena(md_model *m, size_t floats) {
  const size_t off = m->arena_floats;
  m->arena_floats += (floats + 15) & ~(size_t)15;
  return off;
}

md_conv_l md_m_conv(md_model *m, const char *prefix, md_shape in, int out_c, int k,
                    int stride, int pad, int bias) {
  md_conv_l c;
  memset(&c, 0, sizeof c);
  c.d.in_c = (int)in.c;
  c.d.out_c = out_c;
  c.d.k_h = c.d.k_w = k;
  c.d.stride = stride;
  c.d.pad = pad;
  c.d.has_bias = bias;
  c.in = md_shape4(1, in.c, in.h, in.w);
  c.b = -1;
  if (m->build_status != MD_OK) return c;
  md_status st = md_conv2d_output_shape(&c.d, c.in, &c.out);
  if (st != MD_OK) {
    build_fail(m, st);
    return c;
  }
  const double fan_in = (double)in.c * k * k;
  const int64_t wshape[4] = {out_c, in.c, k, k};
  if (m->conv_init_normal)
    c.w = md_m_tensor(m, MD_MT_PARAM, 4, wshape, MD_INIT_NORMAL,
                      sqrt(2.0 / ((double)k * k * out_c)), "%s.weight", prefix);
  else
    c.w = md_m_tensor(m, MD_MT_PARAM, 4, wshape, MD_INIT_UNIFORM, 1.0 / sqrt(fan_in),
                      "%s.weight", prefix);
  if (bias) {
    const int64_t bshape[1] = {out_c};
    c.b = md_m_tensor(m, MD_MT_PARAM, 1, bshape, MD_INIT_UNIFORM, 1.0 / sqrt(fan_in),
                      "%s.bias", prefix);
  }
  size_t ws = 0;
  st = md_conv2d_workspace_floats(&c.d, md_batched(c.in, m->max_batch), m->ws_threads, &ws);
  if (st != MD_OK) {
    build_fail(m, st);
    return c;
  }
  if (ws > m->ws_floats) m->ws_floats = ws;
  return c;
}

md_bn_l md_m_bn(md_model *m, const char *prefix, int c) {
  md_bn_l b;
  memset(&b, 0, sizeof b);
  b.c = c;
  const int64_t shape[1] = {c};
  b.w = md_m_tensor(m, MD_MT_PARAM, 1, shape, MD_INIT_CONST, 1.0, "%s.weight", prefix);
  b.b = md_m_tensor(m, MD_MT_PARAM, 1, shape, MD_INIT_CONST, 0.0, "%s.bias", prefix);
  b.rm = md_m_tensor(m, MD_MT_BUFFER, 1, shape, MD_INIT_CONST, 0.0, "%s.running_mean", prefix);
  b.rv = md_m_tensor(m, MD_MT_BUFFER, 1, shape, MD_INIT_CONST, 1.0, "%s.running_var", prefix);
  b.nbt = md_m_tensor(m, MD_MT_COUNTER, 0, NULL, MD_INIT_CONST, 0.0,
                      "%s.num_batches_tracked", prefix);
  b.save_mean = md_m_arena(m, (size_t)c);
  b.terms = md_m_arena(m, 3 * (size_t)c);
  return b;
}

md_fc_l md_m_fc(md_model *m, const char *prefix, int in_f, int out_f) {
  md_fc_l f;
  memset(&f, 0, sizeof f);
  f.d.in_f = in_f;
  f.d.out_f = out_f;
  f.d.has_bias = 1;
  const double bound = 1.0 / sqrt((double)in_f);
  const int64_t wshape[2] = {out_f, in_f}, bshape[1] = {out_f};
  f.w = md_m_tensor(m, MD_MT_PARAM, 2, wshape, MD_INIT_UNIFORM, bound, "%s.weight", prefix);
  f.b = md_m_tensor(m, MD_MT_PARAM, 1, bshape, m->fc_bias_zero ? MD_INIT_CONST : MD_INIT_UNIFORM,
                    m->fc_bias_zero ? 0.0 : bound, "%s.bias", prefix);
  return f;
}

void md_m_gbufs(md_model *m, int count, size_t per_sample_floats) {
  if (count < 1 || count > MD_MAX_GBUF) {
    build_fail(m, MD_ERR_INVALID_ARGUMENT);
    return;
  }
  m->n_gbuf = count;
  m->gbuf_floats = per_sample_floats * (size_t)m->max_batch;
  for (int i = 0; i < count; ++i) m->gbuf[i] = md_m_arena(m, m->gbuf_floats);
}

int md_m_reg(md_model *m, md_shape per_sample) {
  if (m->build_status != MD_OK) return -1;
  md_shape *s = realloc(m->reg_shape, (size_t)(m->n_reg + 1) * sizeof *s);
  if (!s) {
    build_fail(m, MD_ERR_OUT_OF_MEMORY);
    return -1;
  }
  m->reg_shape = s;
  s[m->n_reg] = md_shape4(1, per_sample.c, per_sample.h, per_sample.w);
  return m->n_reg++;
}

static void *alloc_floats(size_t n) {
  /* 64-byte aligned; the size rounded up as aligned_alloc wants */
  size_t bytes = (n ? n : 1) * sizeof(float);
  bytes = (bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, bytes);
}

void md_model_free(md_model *m) {
  if (!m) return;
  if (m->ops && m->ops->free_net) m->ops->free_net(m->net);
  for (int i = 0; m->maxdrop && i < m->n_reg; ++i) md_maxdrop_free(&m->maxdrop[i]);
  for (int i = 0; m->dropout && i < m->n_reg; ++i) md_dropout_free(&m->dropout[i]);
  free(m->maxdrop);
  free(m->dropout);
  free(m->reg_shape);
  free(m->reg_ran);
  free(m->rng_words);
  free(m->rng_names);
  free(m->tensors);
  free(m->params);
  free(m->grads);
  free(m->momentum);
  free(m->buffers);
  free(m->counters);
  free(m->arena);
  free(m->ws);
  free(m);
}

static md_status create_regs(md_model *m, uint64_t seed) {
  if (m->cfg.reg == MD_REG_NONE || m->n_reg == 0) {
    m->n_reg = 0;
    return MD_OK;
  }
  const size_t n = (size_t)m->n_reg;
  m->reg_ran = calloc(n, sizeof *m->reg_ran);
  m->rng_words = calloc(n * MD_CKPT_RNG_WORDS, sizeof *m->rng_words);
  m->rng_names = calloc(n, sizeof *m->rng_names);
  if (!m->reg_ran || !m->rng_words || !m->rng_names) return MD_ERR_OUT_OF_MEMORY;
  if (m->cfg.reg == MD_REG_MAXDROPOUT) {
    m->maxdrop = calloc(n, sizeof *m->maxdrop);
    if (!m->maxdrop) return MD_ERR_OUT_OF_MEMORY;
  } else {
    m->dropout = calloc(n, sizeof *m->dropout);
    if (!m->dropout) return MD_ERR_OUT_OF_MEMORY;
  }
  for (int i = 0; i < m->n_reg; ++i) {
    snprintf(m->rng_names[i], sizeof m->rng_names[i], "%slayer%d", MD_CKPT_RNG_PREFIX, i);
    const int64_t numel = md_per_sample(m->reg_shape[i]) * m->max_batch;
    const uint64_t stream = (uint64_t)MD_STREAM_LAYER + (uint64_t)i;
    md_status st;
    if (m->maxdrop) {
      st = md_maxdrop_init(&m->maxdrop[i], &m->cfg.maxdrop, seed, stream);
      if (st == MD_OK) st = md_maxdrop_reserve(&m->maxdrop[i], numel);
    } else {
      st = md_dropout_init(&m->dropout[i], m->cfg.dropout_p, seed, stream);
      if (st == MD_OK) st = md_dropout_reserve(&m->dropout[i], numel);
    }
    if (st != MD_OK) return st;
  }
  return MD_OK;
}

md_status md_model_create(const md_model_config *cfg, int max_batch, uint64_t seed,
                          md_model **out, md_errbuf *eb) {
  if (!out) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no output pointer given");
  *out = NULL;
  md_status st = md_model_config_check(cfg, eb);
  if (st != MD_OK) return st;
  if (max_batch < 1 || max_batch > 1000000)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "the batch size must be in [1, 1000000], not %d",
                   max_batch);
  md_model *m = calloc(1, sizeof *m);
  if (!m) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory building the model");
  m->cfg = *cfg;
  m->max_batch = max_batch;
  m->ws_threads = omp_get_max_threads();
  const size_t B = (size_t)max_batch;
  m->input = md_m_arena(m, B * MD_MODEL_IN_C * MD_MODEL_IN_H * MD_MODEL_IN_W);
  m->logits = md_m_arena(m, B * (size_t)cfg->num_classes);
  m->dlogits = md_m_arena(m, B * (size_t)cfg->num_classes);

  st = cfg->arch == MD_ARCH_RESNET18 ? md_resnet18_build(m, eb) : md_wrn_build(m, eb);
  if (st == MD_OK) st = m->build_status;
  if (st != MD_OK) {
    md_model_free(m);
    if (st == MD_ERR_OUT_OF_MEMORY)
      return md_fail(eb, st, "out of memory building the model");
    return md_fail(eb, st, "cannot build the model: %s", md_strerror(st));
  }
  for (size_t i = 0; i < m->n_tensors; ++i) m->tensors[i].t.name = m->tensors[i].name;

  const size_t np = (size_t)m->n_params;
  m->params = alloc_floats(np);
  m->grads = alloc_floats(np);
  m->momentum = alloc_floats(np);
  m->buffers = alloc_floats((size_t)m->n_buffers);
  m->counters = calloc((size_t)(m->n_counters ? m->n_counters : 1), sizeof *m->counters);
  m->arena = alloc_floats(m->arena_floats);
  m->ws = alloc_floats(m->ws_floats);
  st = (m->params && m->grads && m->momentum && m->buffers && m->counters && m->arena && m->ws)
           ? MD_OK
           : MD_ERR_OUT_OF_MEMORY;
  if (st == MD_OK) st = create_regs(m, seed);
  if (st != MD_OK) {
    md_model_free(m);
    return md_fail(eb, st, "cannot allocate the model for batch %d: %s", max_batch,
                   md_strerror(st));
  }
  md_model_init(m, seed);
  *out = m;
  return MD_OK;
}

void md_model_init(md_model *m, uint64_t seed) {
  if (!m) return;
  md_init_tensors(m, seed);
  memset(m->grads, 0, (size_t)m->n_params * sizeof *m->grads);
  memset(m->momentum, 0, (size_t)m->n_params * sizeof *m->momentum);
  for (int i = 0; i < m->n_reg; ++i) {
    const uint64_t stream = (uint64_t)MD_STREAM_LAYER + (uint64_t)i;
    if (m->maxdrop) md_rng_init(&m->maxdrop[i].rng, seed, stream);
    if (m->dropout) md_rng_init(&m->dropout[i].rng, seed, stream);
    m->reg_ran[i] = 0;
  }
  m->n = 0;
  m->state = MD_STATE_NONE;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

const md_model_config *md_model_config_of(const md_model *m) { return m ? &m->cfg : NULL; }
int md_model_max_batch(const md_model *m) { return m ? m->max_batch : 0; }
size_t md_model_tensor_count(const md_model *m) { return m ? m->n_tensors : 0; }

const md_model_tensor *md_model_tensor_at(const md_model *m, size_t i) {
  return m && i < m->n_tensors ? &m->tensors[i].t : NULL;
}

long md_model_find_tensor(const md_model *m, const char *name) {
  if (!m || !name) return -1;
  for (size_t i = 0; i < m->n_tensors; ++i)
    if (!strcmp(m->tensors[i].name, name)) return (long)i;
  return -1;
}

int64_t md_model_param_count(const md_model *m) { return m ? m->n_params : 0; }
float *md_model_params(md_model *m) { return m ? m->params : NULL; }
float *md_model_grads(md_model *m) { return m ? m->grads : NULL; }
float *md_model_momentum(md_model *m) { return m ? m->momentum : NULL; }
int64_t md_model_buffer_count(const md_model *m) { return m ? m->n_buffers : 0; }
float *md_model_buffers(md_model *m) { return m ? m->buffers : NULL; }
int64_t md_model_counter_count(const md_model *m) { return m ? m->n_counters : 0; }
int64_t *md_model_counters(md_model *m) { return m ? m->counters : NULL; }
size_t md_model_arena_bytes(const md_model *m) { return m ? m->arena_floats * sizeof(float) : 0; }

size_t md_model_total_bytes(const md_model *m) {
  if (!m) return 0;
  size_t b = (m->arena_floats + m->ws_floats + 3 * (size_t)m->n_params + (size_t)m->n_buffers) *
                 sizeof(float) +
             (size_t)m->n_counters * sizeof(int64_t);
  for (int i = 0; i < m->n_reg; ++i)
    b += (m->maxdrop ? m->maxdrop[i].mask_words : m->dropout[i].mask_words) * sizeof(uint64_t);
  return b;
}

const float *md_model_logits(const md_model *m) {
  return m && m->n > 0 ? m->arena + m->logits : NULL;
}

int md_model_batch(const md_model *m) { return m ? m->n : 0; }

/* ------------------------------------------------------------------------ */
/* Steps                                                                     */
/* ------------------------------------------------------------------------ */

md_status md_model_forward(md_model *m, int n, const float *x, int training) {
  if (!m || !x) return MD_ERR_INVALID_ARGUMENT;
  if (n < 1 || n > m->max_batch) return MD_ERR_SHAPE;
  const int64_t in = (int64_t)n * MD_MODEL_IN_C * MD_MODEL_IN_H * MD_MODEL_IN_W;
  md_l_copy(m->arena + m->input, x, in);
  m->state = MD_STATE_NONE;
  m->n = 0;
  m->trace_index = 0;
  const md_status st = m->ops->forward(m, n, training ? 1 : 0);
  if (st != MD_OK) return st;
  m->n = n;
  m->last_training = training ? 1 : 0;
  m->state = MD_STATE_FORWARD;
  return MD_OK;
}

md_status md_model_loss(md_model *m, const int32_t *labels, double *loss, int64_t *n_correct) {
  if (!m || !labels) return MD_ERR_INVALID_ARGUMENT;
  if (m->n < 1) return MD_ERR_STATE;
  const int64_t K = m->cfg.num_classes;
  const int keep_grad =
      m->last_training && (m->state == MD_STATE_FORWARD || m->state == MD_STATE_LOSS);
  float *dl = keep_grad ? m->arena + m->dlogits : NULL;
  /* labels are checked before anything is written: a bad label leaves dlogits
   * as it was, and the state says no gradient is ready */
  for (int i = 0; i < m->n; ++i)
    if (labels[i] < 0 || labels[i] >= K) return MD_ERR_RANGE;
  if (dl) memset(dl, 0, (size_t)m->n * (size_t)K * sizeof *dl);
  const md_status st =
      md_softmax_xent(m->n, K, m->arena + m->logits, labels, loss, dl, NULL, n_correct);
  if (st != MD_OK) return st;
  if (keep_grad) m->state = MD_STATE_LOSS;
  return MD_OK;
}

md_status md_model_backward(md_model *m) {
  if (!m) return MD_ERR_INVALID_ARGUMENT;
  if (m->state != MD_STATE_LOSS || !m->last_training) return MD_ERR_STATE;
  /* the backward consumes the saved activations (some buffers are reused) */
  m->state = MD_STATE_NONE;
  return m->ops->backward(m, m->n);
}

void md_model_zero_grad(md_model *m) {
  if (m) md_l_zero(m->grads, m->n_params);
}

md_status md_model_sgd_step(md_model *m, md_sgd *opt, double lr) {
  if (!m || !opt) return MD_ERR_INVALID_ARGUMENT;
  if (opt->n != m->n_params) return MD_ERR_SHAPE;
  return md_sgd_step(opt, lr, m->params, m->grads, m->momentum);
}

md_status md_model_train_step(md_model *m, md_sgd *opt, double lr, int n, const float *x,
                              const int32_t *labels, double *loss, int64_t *n_correct) {
  if (!m || !opt || !x || !labels) return MD_ERR_INVALID_ARGUMENT;
  if (opt->n != m->n_params) return MD_ERR_SHAPE;
  md_model_zero_grad(m);
  md_status st = md_model_forward(m, n, x, 1);
  if (st == MD_OK) st = md_model_loss(m, labels, loss, n_correct);
  if (st == MD_OK) st = md_model_backward(m);
  if (st == MD_OK) st = md_model_sgd_step(m, opt, lr);
  return st;
}

md_status md_model_eval_batch(md_model *m, int n, const float *x, const int32_t *labels,
                              double *loss, int64_t *n_correct) {
  md_status st = md_model_forward(m, n, x, 0);
  if (st == MD_OK && labels) st = md_model_loss(m, labels, loss, n_correct);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Regularizer masks                                                         */
/* ------------------------------------------------------------------------ */

int md_model_reg_count(const md_model *m) { return m ? m->n_reg : 0; }

md_status md_model_reg_mask(const md_model *m, int i, md_shape *shape, uint8_t *keep) {
  if (!m || !shape) return MD_ERR_INVALID_ARGUMENT;
  if (i < 0 || i >= m->n_reg) return MD_ERR_RANGE;
  const int64_t per = md_per_sample(m->reg_shape[i]);
  const int64_t numel = m->maxdrop ? m->maxdrop[i].numel : m->dropout[i].numel;
  if (!m->reg_ran[i] || numel < 0) {
    *shape = md_batched(m->reg_shape[i], 0);
    return MD_OK;
  }
  *shape = md_batched(m->reg_shape[i], (int)(numel / per));
  if (keep) {
    for (int64_t j = 0; j < numel; ++j)
      keep[j] = (uint8_t)(m->maxdrop ? md_maxdrop_kept(&m->maxdrop[i], j)
                                     : md_dropout_kept(&m->dropout[i], j));
  }
  return MD_OK;
}
