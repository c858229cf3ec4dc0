/* maxdrop/model.h - the paper's networks, built for a batch size, and their
 * training step.
 *
 * Two architectures (REFERENCE.md section 2), both for 3 x 32 x 32 inputs:
 *
 *   CIFAR ResNet-18 (MD_ARCH_RESNET18): conv3x3 3->w, BN, ReLU; four stages of
 *   two BasicBlocks of widths w, 2w, 4w, 8w (w = 64 in the paper), the first
 *   block of stages 2-4 with stride 2; 4x4 average pool; Linear(8w, classes).
 *   The regularizer, when there is one, follows each stage selected by
 *   reg_stages (all four by default, as the reference).
 *
 *   Wide-ResNet-depth-k (MD_ARCH_WRN): conv3x3 3->16; three groups of
 *   (depth-4)/6 pre-activation blocks of widths 16k, 32k, 64k (strides 1, 2,
 *   2); final BN-ReLU, 8x8 average pool, Linear(64k, classes). The
 *   regularizer sits inside every block, between the second BN-ReLU and the
 *   second convolution.
 *
 * Regularizers: none, MaxDropout (any md_maxdrop_config) or Dropout. Layer i
 * (numbered in forward order from 0) draws from its own random stream,
 * MD_STREAM_LAYER + i of the model's seed. In evaluation mode they are the
 * identity, unless maxdrop_in_eval is set: MaxDropout then also runs in
 * evaluation (with batch statistics), as the reference code does because it
 * builds its MaxDropout module inside forward(). BatchNorm always uses its
 * running statistics in evaluation.
 *
 * Initialisation, drawn from stream MD_STREAM_INIT of the seed, parameter by
 * parameter in table order:
 *   ResNet-18 (PyTorch's defaults): conv and linear weights U(-b, b) with
 *     b = 1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), linear bias
 *     U(-b, b) with the linear's fan_in; BN weight 1, bias 0.
 *   WRN (its code's scheme): conv weights N(0, sqrt(2 / (k*k*out_channels))),
 *     linear weight U(-b, b) as above, linear bias 0; BN weight 1, bias 0.
 *   Running means 0, running variances 1, counters 0, momentum 0.
 *
 * Memory. The trainable parameters live in ONE float array, their gradients
 * in a second and the SGD momentum in a third, all with the same layout; the
 * BatchNorm running statistics in a fourth and the num_batches_tracked
 * counters in an int64 array. A table lists every tensor with its PyTorch
 * state_dict name (e.g. "layer2.0.shortcut.0.weight", "bn1.running_var",
 * "block1.layer.0.conv1.weight", "linear.bias", "fc.weight"), shape and
 * offset. Everything a step needs (saved activations, gradients of
 * activations, convolution scratch, regularizer masks) is sized when the model
 * is built for its largest batch and allocated then, once: a training step
 * allocates nothing, and any batch of 1..max_batch samples runs in the same
 * memory. Backward saves only what it needs: ReLUs and regularizers run in
 * place, the ReLU after a block's first BatchNorm is recomputed in the
 * backward from the saved convolution output, and activation gradients share
 * three (ResNet-18) or four (WRN) buffers of the largest activation's size.
 *
 * Threads: the kernels use OpenMP; the convolution scratch is sized for the
 * thread count at build time (omp_get_max_threads()). Results do not depend
 * on the thread count.
 *
 * Errors: MD_ERR_INVALID_ARGUMENT for a bad configuration or argument (with a
 * message in the md_errbuf where there is one), MD_ERR_OUT_OF_MEMORY, MD_ERR_STATE
 * for a call out of order (backward without a training forward and a loss),
 * MD_ERR_RANGE for a label outside [0, classes); file errors as in
 * maxdrop/safetensors.h. */
#ifndef MAXDROP_MODEL_H
#define MAXDROP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/sgd.h"
#include "maxdrop/status.h"
#include "maxdrop/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Input images: 3 x 32 x 32 (CIFAR). */
enum { MD_MODEL_IN_C = 3, MD_MODEL_IN_H = 32, MD_MODEL_IN_W = 32 };

typedef enum md_arch {
  MD_ARCH_RESNET18 = 0, /* CIFAR ResNet-18 */
  MD_ARCH_WRN = 1       /* Wide-ResNet-depth-k */
} md_arch;

typedef enum md_reg_kind {
  MD_REG_NONE = 0,
  MD_REG_MAXDROPOUT = 1,
  MD_REG_DROPOUT = 2
} md_reg_kind;

typedef struct md_model_config {
  md_arch arch;
  int num_classes;         /* >= 1; default 10 */
  int width;               /* ResNet-18: stem width w >= 1 (64 = paper; 16 or 32 for quick runs) */
  int depth;               /* WRN: depth 6n+4, n >= 1 (28 = paper; 16, 10 quick) */
  int widen;               /* WRN: widening factor k >= 1 (10 = paper) */
  md_reg_kind reg;         /* default MD_REG_NONE */
  md_maxdrop_config maxdrop; /* with MD_REG_MAXDROPOUT; default md_maxdrop_default_config() */
  double dropout_p;        /* with MD_REG_DROPOUT: drop probability in [0, 1]; default 0.3 */
  unsigned reg_stages;     /* ResNet-18: bit s = regularizer after stage s+1; default 0xF */
  int maxdrop_in_eval;     /* 1: MaxDropout active in evaluation too (reference code) */
  float bn_momentum;       /* default 0.1 */
  float bn_eps;            /* default 1e-5 */
} md_model_config;

/* Defaults: ResNet-18 width 64 or WRN-28-10, 10 classes, no regularizer,
 * MaxDropout identity in evaluation. */
MD_API md_model_config md_model_default_config(md_arch arch);

/* MD_ERR_INVALID_ARGUMENT with a sentence in eb for any field out of range. */
MD_API md_status md_model_config_check(const md_model_config *cfg, md_errbuf *eb);

/* The configuration as the JSON object stored in checkpoints under the
 * "model" metadata key, e.g. {"arch":"resnet18","width":64,"num_classes":10,
 * "reg":"maxdropout","rate":0.3,...}. Returns the length written (snprintf
 * semantics: truncated when >= cap). */
MD_API int md_model_config_json(const md_model_config *cfg, char *buf, size_t cap);

typedef struct md_model md_model;

/* Builds the network for batches of up to max_batch (>= 1) samples and
 * initialises it from `seed` (see the top of this header). Everything the
 * model will ever use is allocated here. On failure *out is NULL. */
MD_API md_status md_model_create(const md_model_config *cfg, int max_batch, uint64_t seed,
                                 md_model **out, md_errbuf *eb);
MD_API void md_model_free(md_model *m);

/* Re-draws the parameters from `seed`, resets the BatchNorm statistics and
 * counters, zeroes the gradients and momentum, and restarts every
 * regularizer stream from `seed`. */
MD_API void md_model_init(md_model *m, uint64_t seed);

MD_API const md_model_config *md_model_config_of(const md_model *m);
MD_API int md_model_max_batch(const md_model *m);

/* ------------------------------------------------------------------------ */
/* Tensor table                                                              */
/* ------------------------------------------------------------------------ */

typedef enum md_model_tensor_kind {
  MD_MT_PARAM = 0,  /* float32, trainable: params / grads / momentum at offset */
  MD_MT_BUFFER = 1, /* float32 BatchNorm running statistic: buffers at offset */
  MD_MT_COUNTER = 2 /* int64 scalar (num_batches_tracked): counters at offset */
} md_model_tensor_kind;

typedef struct md_model_tensor {
  const char *name;           /* the PyTorch state_dict key */
  md_model_tensor_kind kind;
  int ndim;                   /* 0 (counter) .. 4 */
  int64_t shape[4];
  int64_t numel;
  int64_t offset;             /* into the array of its kind, in elements */
} md_model_tensor;

/* Tensors in the reference state_dict's order. */
MD_API size_t md_model_tensor_count(const md_model *m);
MD_API const md_model_tensor *md_model_tensor_at(const md_model *m, size_t i);
/* Index of the tensor called `name`, or -1. */
MD_API long md_model_find_tensor(const md_model *m, const char *name);

MD_API int64_t md_model_param_count(const md_model *m);   /* elements of params */
MD_API float *md_model_params(md_model *m);                /* (param_count) */
MD_API float *md_model_grads(md_model *m);                 /* (param_count) */
MD_API float *md_model_momentum(md_model *m);              /* (param_count) */
MD_API int64_t md_model_buffer_count(const md_model *m);
MD_API float *md_model_buffers(md_model *m);               /* (buffer_count) */
MD_API int64_t md_model_counter_count(const md_model *m);
MD_API int64_t *md_model_counters(md_model *m);            /* (counter_count) */
/* Bytes of the activation arena and of the whole model (arena, parameters,
 * gradients, momentum, statistics, masks). */
MD_API size_t md_model_arena_bytes(const md_model *m);
MD_API size_t md_model_total_bytes(const md_model *m);

/* ------------------------------------------------------------------------ */
/* Training and evaluation                                                   */
/* ------------------------------------------------------------------------ */

/* Forward pass over n (1..max_batch) images x (n, 3, 32, 32), in training
 * (BatchNorm batch statistics and running-statistic updates, regularizers
 * active) or evaluation mode. x is copied: the caller may reuse it at once.
 * The logits stay readable through md_model_logits until the next forward. */
MD_API md_status md_model_forward(md_model *m, int n, const float *x, int training);

/* Logits of the last forward, (n, num_classes); NULL before any. */
MD_API const float *md_model_logits(const md_model *m);
/* Batch size of the last forward (0 before any). */
MD_API int md_model_batch(const md_model *m);

/* Softmax cross-entropy of the last forward's logits against labels (n, each
 * in [0, classes)): the mean loss and the number of correct argmax
 * predictions (either output may be NULL). After a training forward it also
 * keeps the gradient of the mean loss for md_model_backward. */
MD_API md_status md_model_loss(md_model *m, const int32_t *labels, double *loss,
                               int64_t *n_correct);

/* Backward of the last training forward and loss: ACCUMULATES every
 * parameter's gradient into md_model_grads. MD_ERR_STATE unless the last
 * calls were a training forward and md_model_loss; a second backward of the
 * same forward is also MD_ERR_STATE. */
MD_API md_status md_model_backward(md_model *m);

/* Zeroes the gradient array. */
MD_API void md_model_zero_grad(md_model *m);

/* One SGD update of every parameter with learning rate lr (opt->n must be
 * md_model_param_count). */
MD_API md_status md_model_sgd_step(md_model *m, md_sgd *opt, double lr);

/* zero_grad, training forward, loss, backward, SGD step. */
MD_API md_status md_model_train_step(md_model *m, md_sgd *opt, double lr, int n,
                                     const float *x, const int32_t *labels, double *loss,
                                     int64_t *n_correct);

/* Evaluation forward and, when labels is not NULL, loss and correct count. */
MD_API md_status md_model_eval_batch(md_model *m, int n, const float *x,
                                     const int32_t *labels, double *loss,
                                     int64_t *n_correct);

/* ------------------------------------------------------------------------ */
/* Regularizer layers                                                        */
/* ------------------------------------------------------------------------ */

/* Number of regularizer layers (0 without a regularizer). */
MD_API int md_model_reg_count(const md_model *m);

/* Keep-mask of layer i's last forward: *shape receives the shape it covered
 * (n = 0 before any forward) and, when keep is not NULL, keep[j] = 1 for a
 * kept element and 0 for a dropped one (numel(*shape) bytes). A layer skipped
 * in evaluation reports all elements kept. MD_ERR_RANGE for a bad index. */
MD_API md_status md_model_reg_mask(const md_model *m, int i, md_shape *shape,
                                   uint8_t *keep);

/* ------------------------------------------------------------------------ */
/* Checkpoints (maxdrop/checkpoint.h conventions)                            */
/* ------------------------------------------------------------------------ */

/* A safetensors table of the model's tensors under their state_dict names,
 * data pointing into the model's arrays; with_optimizer adds each parameter's
 * momentum buffer (MD_CKPT_MOMENTUM_PREFIX + name) and each regularizer's
 * random-stream state (MD_CKPT_RNG_PREFIX + "layer<i>", filled from the
 * streams when the table is built and copied back by md_model_load).
 * md_model_st_count says how many entries to provide. */
MD_API size_t md_model_st_count(const md_model *m, int with_optimizer);
MD_API md_status md_model_st_table(md_model *m, int with_optimizer, md_st_tensor *table,
                                   size_t cap, size_t *n);

/* Writes the model (and, with_optimizer, momentum and regularizer streams) to
 * `path`, atomically, with metadata "format" = "maxdrop", "model" = the JSON
 * configuration, then the caller's n_meta entries. */
MD_API md_status md_model_save(md_model *m, const char *path, int with_optimizer,
                               const md_st_meta *meta, size_t n_meta, md_errbuf *eb);

/* Loads parameters and statistics by name from `path` (a maxdrop checkpoint or
 * one written by tools/checkpoint_torch.py). Every model tensor must be there
 * with its shape; other tensors are ignored. with_optimizer also requires the
 * momentum buffers and regularizer streams. On error the model is unchanged
 * unless the file could not be read midway (MD_ERR_IO). */
MD_API md_status md_model_load(md_model *m, const char *path, int with_optimizer,
                               md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_MODEL_H */
