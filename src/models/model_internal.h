/* Internals shared by src/models/: the model object, the parameter table
 * builder, the arena plan and the layer helpers that the architectures
 * (resnet.c, wide_resnet.c) are written with. */
#ifndef MD_MODELS_MODEL_INTERNAL_H
#define MD_MODELS_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/checkpoint.h"
#include "maxdrop/conv2d.h"
#include "maxdrop/dropout.h"
#include "maxdrop/linear.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/model.h"
#include "maxdrop/rng.h"

enum { MD_NAME_CAP = 96, MD_MOM_NAME_CAP = 128, MD_MAX_GBUF = 4 };

/* One entry of the tensor table, with its name's storage. */
/* How a parameter is initialised by md_model_init. */
typedef enum md_init_rule {
  MD_INIT_CONST = 0,   /* every element = a */
  MD_INIT_UNIFORM = 1, /* U(-a, a) */
  MD_INIT_NORMAL = 2   /* N(0, a) */
} md_init_rule;

typedef struct md_tensor_entry {
  md_model_tensor t;            /* t.name points to name */
  md_init_rule init;            /* parameters and buffers: initial values */
  double init_a;
  char name[MD_NAME_CAP];
  char mom_name[MD_MOM_NAME_CAP]; /* "optimizer.momentum_buffer.<name>" for params */
} md_tensor_entry;

/* A convolution: descriptor, weight (and bias) offsets in the parameter
 * array, and the per-sample input and output shapes (n = 1). */
typedef struct md_conv_l {
  md_conv2d_desc d;
  int64_t w, b; /* parameter offsets; b = -1 without bias */
  md_shape in, out;
} md_conv_l;

/* A BatchNorm2d: parameter, statistic and counter offsets and its saved
 * per-channel batch mean (in the arena). */
typedef struct md_bn_l {
  int c;
  int64_t w, b;    /* parameters */
  int64_t rm, rv;  /* buffers */
  int64_t nbt;     /* counter */
  size_t save_mean; /* arena offset of C floats */
  size_t terms;     /* arena offset of 3 C floats: evaluation mean, scale, shift */
} md_bn_l;

typedef struct md_fc_l {
  md_linear_desc d;
  int64_t w, b;
} md_fc_l;

/* What an architecture provides. forward/backward work on m->arena; the
 * input is at m->input, the logits go to m->logits, the backward starts from
 * m->dlogits. */
typedef struct md_arch_ops {
  md_status (*forward)(md_model *m, int n, int training);
  md_status (*backward)(md_model *m, int n);
  void (*free_net)(void *net);
} md_arch_ops;

/* Test hook (drivers and unit tests only; not public API): when set, called
 * after every ReLU of a training or evaluation forward, in forward order
 * (index 0, 1, ... restarting with each forward), with the ReLU's output
 * before any regularizer runs on it. */
typedef void (*md_model_trace_fn)(void *ctx, int index, md_shape s, const float *y);

struct md_model {
  md_model_config cfg;
  int max_batch;

  /* tensor table */
  md_tensor_entry *tensors;
  size_t n_tensors, cap_tensors;
  int64_t n_params, n_buffers, n_counters;
  float *params, *grads, *momentum;
  float *buffers;
  int64_t *counters;

  /* activations: one arena; offsets in floats */
  float *arena;
  size_t arena_floats;
  size_t input, logits, dlogits; /* arena offsets */
  size_t gbuf[MD_MAX_GBUF];      /* activation-gradient buffers (also forward scratch) */
  int n_gbuf;
  size_t gbuf_floats;            /* per buffer, for max_batch */
  float *ws;                     /* convolution workspace */
  size_t ws_floats;
  int ws_threads;

  /* regularizer layers */
  int n_reg;
  md_maxdrop *maxdrop; /* n_reg of them with MD_REG_MAXDROPOUT */
  md_dropout *dropout; /* n_reg of them with MD_REG_DROPOUT */
  md_shape *reg_shape; /* per-sample shape of each layer (n = 1) */
  int *reg_ran;        /* whether layer i has seen a forward since md_model_init */
  uint64_t *rng_words; /* n_reg * MD_CKPT_RNG_WORDS, staging for checkpoints */
  char (*rng_names)[32];

  /* step state */
  int n;          /* batch of the last forward */
  int state;      /* MD_STATE_* */
  int last_training;

  int conv_init_normal; /* WRN scheme for conv weights */
  int fc_bias_zero;      /* WRN scheme for the linear bias */

  md_model_trace_fn trace;
  void *trace_ctx;
  int trace_index;

  const md_arch_ops *ops;
  void *net;
  md_status build_status; /* first error while building */
};

enum { MD_STATE_NONE = 0, MD_STATE_FORWARD = 1, MD_STATE_LOSS = 2 };

/* ---- building (model.c) ------------------------------------------------ */

/* Registers a tensor; returns its offset in the array of its kind, or -1
 * (and records MD_ERR_OUT_OF_MEMORY / MD_ERR_INVALID_ARGUMENT in
 * m->build_status) on failure. The name is printf-formatted. */
int64_t md_m_tensor(md_model *m, md_model_tensor_kind kind, int ndim, const int64_t *shape,
                    md_init_rule init, double init_a, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Reserves an arena region of `floats` floats (rounded up to a cache line);
 * returns its offset. */
size_t md_m_arena(md_model *m, size_t floats);

/* Registers conv "<prefix>.weight" (and ".bias") for per-sample input `in`,
 * and grows the convolution workspace to fit it. The weight is initialised
 * by m->conv_init: U(+-1/sqrt(fan_in)) (PyTorch) or N(0, sqrt(2/(k*k*out)))
 * (WRN); a bias U(+-1/sqrt(fan_in)). */
md_conv_l md_m_conv(md_model *m, const char *prefix, md_shape in, int out_c, int k,
                    int stride, int pad, int bias);
/* Registers BatchNorm "<prefix>.weight/.bias/.running_mean/.running_var/
 * .num_batches_tracked" and its saved mean. */
md_bn_l md_m_bn(md_model *m, const char *prefix, int c);
/* Linear "<prefix>.weight/.bias": weight U(+-1/sqrt(in_f)); bias by
 * m->fc_bias_zero: 0 (WRN) or U(+-1/sqrt(in_f)) (PyTorch). */
md_fc_l md_m_fc(md_model *m, const char *prefix, int in_f, int out_f);

/* Reserves the activation-gradient buffers (count of them, each `floats`
 * per sample) and the regularizer layers (per-sample shapes). */
void md_m_gbufs(md_model *m, int count, size_t per_sample_floats);
int md_m_reg(md_model *m, md_shape per_sample);

/* ---- running (model_layers.c) ------------------------------------------ */

static inline float *md_m_ptr(md_model *m, size_t off) { return m->arena + off; }
static inline md_shape md_batched(md_shape s, int n) { return md_shape4(n, s.c, s.h, s.w); }
static inline int64_t md_per_sample(md_shape s) { return s.c * s.h * s.w; }

md_status md_l_conv_fwd(md_model *m, const md_conv_l *c, int n, const float *x, float *y);
/* dx += (may be NULL); the weight (and bias) gradients accumulate into m->grads. */
md_status md_l_conv_bwd(md_model *m, const md_conv_l *c, int n, const float *x,
                        const float *dy, float *dx);
/* mode: MD_BN_TRAIN (batch statistics, running statistics updated),
 * MD_BN_RECOMPUTE (batch statistics, nothing updated: rebuilds the forward's
 * output bit for bit), MD_BN_EVAL (running statistics).
 * y = relu?(bn(x) + add?) in one pass (add may be NULL, and may be y); a ReLU
 * outside MD_BN_RECOMPUTE reports y to the trace hook. */
enum { MD_BN_TRAIN = 0, MD_BN_RECOMPUTE = 1, MD_BN_EVAL = 2 };
md_status md_l_bn_fwd(md_model *m, const md_bn_l *b, md_shape s, const float *x, float *y,
                      int mode, const float *add, int relu);
/* Evaluation: y = relu?(bn(conv(x)) + add?) with the BatchNorm's running
 * statistics, in the convolution's own output pass (the bits of the separate
 * layers; add may not be y). A ReLU reports y to the trace hook. */
md_status md_l_conv_bn_eval(md_model *m, const md_conv_l *c, const md_bn_l *b, int n,
                            const float *x, const float *add, int relu, float *y);
/* dx += ; weight and bias gradients into m->grads. */
md_status md_l_bn_bwd(md_model *m, const md_bn_l *b, md_shape s, const float *x,
                      const float *dy, float *dx);
md_status md_l_fc_fwd(md_model *m, const md_fc_l *f, int n, const float *x, float *y);
md_status md_l_fc_bwd(md_model *m, const md_fc_l *f, int n, const float *x, const float *dy,
                      float *dx);

/* Regularizer layer i on x (shape s), in place. */
md_status md_l_reg_fwd(md_model *m, int i, md_shape s, float *x, int training);
/* d = regularizer backward of d, in place. */
md_status md_l_reg_bwd(md_model *m, int i, float *d);
/* x = the last forward's output rebuilt from its input (the mask applied
 * again), in place. */
md_status md_l_reg_reapply(md_model *m, int i, float *x);


/* x[0..n) = 0 and dst = src, in parallel. */
void md_l_zero(float *x, int64_t n);
void md_l_copy(float *dst, const float *src, int64_t n);

/* ---- initialisation (model_init.c) -------------------------------------- */

/* Fills every parameter by its rule, drawing from stream MD_STREAM_INIT of
 * seed in table order; statistics and counters by their rules. */
void md_init_tensors(md_model *m, uint64_t seed);

/* ---- the architectures -------------------------------------------------- */

md_status md_resnet18_build(md_model *m, md_errbuf *eb);
md_status md_wrn_build(md_model *m, md_errbuf *eb);

#endif
