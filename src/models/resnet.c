/* CIFAR ResNet-18 (REFERENCE.md section 2): stem conv3x3-BN-ReLU, four
 * stages of two BasicBlocks (widths w, 2w, 4w, 8w; the first block of stages
 * 2-4 with stride 2), a regularizer after the selected stages, 4x4 average
 * pool, linear. Tensor names follow the reference's state_dict: conv1, bn1,
 * layer<s>.<b>.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1}, linear.
 *
 * What the forward keeps for the backward (arena slots, each for max_batch):
 *   stem:  t0 = conv1(x) (bn1's input), y0 = relu(bn1(t0)) (stage 1's input)
 *   block: t1 = conv1(x), t2 = conv2(r) (the BatchNorms' inputs),
 *          ts = shortcut conv(x) (projection blocks only),
 *          y = relu(bn2(t2) + shortcut) (the next block's input; the
 *              stage's regularizer works on it in place)
 * r = relu(bn1(t1)) lives only in scratch: the backward recomputes it, bit
 * for bit, into t2's slot once bn2's backward no longer needs t2. The
 * activation gradients rotate through three buffers (G, A, D) of the largest
 * activation's size, which the forward borrows as scratch.
 *
 * ReLU backward against a regularized output: y holds reg(relu(s)); where the
 * regularizer dropped an element the incoming gradient is already 0 (the
 * regularizer's backward ran first), and elsewhere y > 0 exactly when
 * relu(s) > 0, so y gives the ReLU's mask. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/activation.h"
#include "maxdrop/pool.h"
#include "maxdrop/residual.h"
#include "models/model_internal.h"

typedef struct rn_block {
  md_conv_l conv1, conv2, sc_conv;
  md_bn_l bn1, bn2, sc_bn;
  int proj;
  md_shape in, out; /* per sample */
  size_t t1, t2, ts, y;
} rn_block;

typedef struct rn_net {
  md_conv_l conv1;
  md_bn_l bn1;
  size_t t0, y0;
  rn_block blk[8];
  int reg[4]; /* regularizer layer after stage s, or -1 */
  md_fc_l fc;
  size_t pooled, dpooled;
} rn_net;

#define TRY(call)                      \
  do {                                 \
    const md_status st_ = (call);      \
    if (st_ != MD_OK) return st_;      \
  } while (0)

/* Evaluation: every conv-BN(-add)(-ReLU) in the convolution's output pass
 * (md_l_conv_bn_eval); nothing is kept for a backward. */
static md_status forward_eval(md_model *m, int n) {
  rn_net *net = m->net;
  float *S = md_m_ptr(m, m->gbuf[0]); /* scratch */
  float *y0 = md_m_ptr(m, net->y0);
  TRY(md_l_conv_bn_eval(m, &net->conv1, &net->bn1, n, md_m_ptr(m, m->input), NULL, 1, y0));
  const float *x = y0;
  for (int i = 0; i < 8; ++i) {
    const rn_block *b = &net->blk[i];
    float *y = md_m_ptr(m, b->y);
    TRY(md_l_conv_bn_eval(m, &b->conv1, &b->bn1, n, x, NULL, 1, S));
    const float *shortcut = x;
    if (b->proj) { /* y = relu(bn2(conv2(r)) + sc_bn(sc_conv(x))) */
      float *ts = md_m_ptr(m, b->ts);
      TRY(md_l_conv_bn_eval(m, &b->sc_conv, &b->sc_bn, n, x, NULL, 0, ts));
      shortcut = ts;
    }
    TRY(md_l_conv_bn_eval(m, &b->conv2, &b->bn2, n, S, shortcut, 1, y));
    if (i % 2 == 1) TRY(md_l_reg_fwd(m, net->reg[i / 2], md_batched(b->out, n), y, 0));
    x = y;
  }
  const md_shape s4 = md_batched(net->blk[7].out, n);
  float *pooled = md_m_ptr(m, net->pooled);
  TRY(md_avgpool2d_forward(s4, 4, x, pooled));
  return md_l_fc_fwd(m, &net->fc, n, pooled, md_m_ptr(m, m->logits));
}

static md_status forward(md_model *m, int n, int training) {
  if (!training) return forward_eval(m, n);
  rn_net *net = m->net;
  const int mode = MD_BN_TRAIN;
  float *S = md_m_ptr(m, m->gbuf[0]); /* scratch */
  const md_shape s0 = md_batched(net->conv1.out, n);
  float *t0 = md_m_ptr(m, net->t0), *y0 = md_m_ptr(m, net->y0);
  TRY(md_l_conv_fwd(m, &net->conv1, n, md_m_ptr(m, m->input), t0));
  TRY(md_l_bn_fwd(m, &net->bn1, s0, t0, y0, mode, NULL, 1));
  const float *x = y0;
  for (int i = 0; i < 8; ++i) {
    const rn_block *b = &net->blk[i];
    const md_shape so = md_batched(b->out, n);
    float *t1 = md_m_ptr(m, b->t1), *t2 = md_m_ptr(m, b->t2), *y = md_m_ptr(m, b->y);
    TRY(md_l_conv_fwd(m, &b->conv1, n, x, t1));
    TRY(md_l_bn_fwd(m, &b->bn1, so, t1, S, mode, NULL, 1));
    TRY(md_l_conv_fwd(m, &b->conv2, n, S, t2));
    if (b->proj) { /* y = relu(sc_bn(ts) + bn2(t2)) */
      float *ts = md_m_ptr(m, b->ts);
      TRY(md_l_bn_fwd(m, &b->bn2, so, t2, y, mode, NULL, 0));
      TRY(md_l_conv_fwd(m, &b->sc_conv, n, x, ts));
      TRY(md_l_bn_fwd(m, &b->sc_bn, so, ts, y, mode, y, 1));
    } else { /* y = relu(bn2(t2) + x) */
      TRY(md_l_bn_fwd(m, &b->bn2, so, t2, y, mode, x, 1));
    }
    if (i % 2 == 1) TRY(md_l_reg_fwd(m, net->reg[i / 2], so, y, training));
    x = y;
  }
  const md_shape s4 = md_batched(net->blk[7].out, n);
  float *pooled = md_m_ptr(m, net->pooled);
  TRY(md_avgpool2d_forward(s4, 4, x, pooled));
  return md_l_fc_fwd(m, &net->fc, n, pooled, md_m_ptr(m, m->logits));
}

/* Backward of block b. G holds the gradient wrt the block's output y on
 * entry; D receives the gradient wrt its input x; A is scratch. G and A are
 * clobbered. */
static md_status block_backward(md_model *m, const rn_block *b, int n, const float *x,
                                float *G, float *A, float *D) {
  const md_shape so = md_batched(b->out, n), si = md_batched(b->in, n);
  const int64_t no = md_shape_numel(so), ni = md_shape_numel(si);
  float *t1 = md_m_ptr(m, b->t1), *t2 = md_m_ptr(m, b->t2), *y = md_m_ptr(m, b->y);
  TRY(md_relu_backward_inplace(no, y, G)); /* G = d(bn2 + shortcut) */
  if (b->proj) {
    md_l_zero(A, no);
    TRY(md_l_bn_bwd(m, &b->sc_bn, so, md_m_ptr(m, b->ts), G, A));
    md_l_zero(D, ni);
    TRY(md_l_conv_bwd(m, &b->sc_conv, n, x, A, D));
  } else {
    md_l_copy(D, G, ni);
  }
  md_l_zero(A, no);
  TRY(md_l_bn_bwd(m, &b->bn2, so, t2, G, A)); /* A = d t2 */
  float *r = t2; /* t2 is no longer needed: rebuild r = relu(bn1(t1)) there */
  TRY(md_l_bn_fwd(m, &b->bn1, so, t1, r, MD_BN_RECOMPUTE, NULL, 1));
  md_l_zero(G, no);
  TRY(md_l_conv_bwd(m, &b->conv2, n, r, A, G)); /* G = d r */
  TRY(md_relu_backward_inplace(no, r, G));
  md_l_zero(A, no);
  TRY(md_l_bn_bwd(m, &b->bn1, so, t1, G, A)); /* A = d t1 */
  return md_l_conv_bwd(m, &b->conv1, n, x, A, D);
}

static md_status backward(md_model *m, int n) {
  rn_net *net = m->net;
  float *buf[3] = {md_m_ptr(m, m->gbuf[0]), md_m_ptr(m, m->gbuf[1]), md_m_ptr(m, m->gbuf[2])};
  int g = 0, a = 1, d = 2; /* indices of G, A, D */
  const md_shape s4 = md_batched(net->blk[7].out, n);
  float *dpooled = md_m_ptr(m, net->dpooled);
  md_l_zero(dpooled, (int64_t)n * net->fc.d.in_f);
  TRY(md_l_fc_bwd(m, &net->fc, n, md_m_ptr(m, net->pooled), md_m_ptr(m, m->dlogits), dpooled));
  md_l_zero(buf[g], md_shape_numel(s4));
  TRY(md_avgpool2d_backward(s4, 4, dpooled, buf[g]));
  for (int i = 7; i >= 0; --i) {
    const rn_block *b = &net->blk[i];
    if (i % 2 == 1) TRY(md_l_reg_bwd(m, net->reg[i / 2], buf[g]));
    const float *x = i == 0 ? md_m_ptr(m, net->y0) : md_m_ptr(m, net->blk[i - 1].y);
    TRY(block_backward(m, b, n, x, buf[g], buf[a], buf[d]));
    const int t = g;
    g = d;
    d = t;
  }
  const md_shape s0 = md_batched(net->conv1.out, n);
  const int64_t n0 = md_shape_numel(s0);
  TRY(md_relu_backward_inplace(n0, md_m_ptr(m, net->y0), buf[g]));
  md_l_zero(buf[a], n0);
  TRY(md_l_bn_bwd(m, &net->bn1, s0, md_m_ptr(m, net->t0), buf[g], buf[a]));
  return md_l_conv_bwd(m, &net->conv1, n, md_m_ptr(m, m->input), buf[a], NULL);
}

static void free_net(void *net) { free(net); }

static const md_arch_ops resnet18_ops = {forward, backward, free_net};

md_status md_resnet18_build(md_model *m, md_errbuf *eb) {
  (void)eb;
  rn_net *net = calloc(1, sizeof *net);
  if (!net) return MD_ERR_OUT_OF_MEMORY;
  m->net = net;
  m->ops = &resnet18_ops;
  m->conv_init_normal = 0;
  m->fc_bias_zero = 0;
  const size_t B = (size_t)m->max_batch;
  const int w = m->cfg.width;
  const md_shape in = md_shape4(1, MD_MODEL_IN_C, MD_MODEL_IN_H, MD_MODEL_IN_W);

  net->conv1 = md_m_conv(m, "conv1", in, w, 3, 1, 1, 0);
  net->bn1 = md_m_bn(m, "bn1", w);
  const size_t n0 = (size_t)md_per_sample(net->conv1.out) * B;
  net->t0 = md_m_arena(m, n0);
  net->y0 = md_m_arena(m, n0);
  md_shape cur = net->conv1.out;
  size_t largest = (size_t)md_per_sample(cur);
  for (int s = 0; s < 4; ++s) {
    const int width = w << s;
    for (int j = 0; j < 2; ++j) {
      rn_block *b = &net->blk[2 * s + j];
      const int stride = (s > 0 && j == 0) ? 2 : 1;
      char p[64];
      b->in = cur;
      snprintf(p, sizeof p, "layer%d.%d.conv1", s + 1, j);
      b->conv1 = md_m_conv(m, p, cur, width, 3, stride, 1, 0);
      b->out = b->conv1.out;
      snprintf(p, sizeof p, "layer%d.%d.bn1", s + 1, j);
      b->bn1 = md_m_bn(m, p, width);
      snprintf(p, sizeof p, "layer%d.%d.conv2", s + 1, j);
      b->conv2 = md_m_conv(m, p, b->out, width, 3, 1, 1, 0);
      snprintf(p, sizeof p, "layer%d.%d.bn2", s + 1, j);
      b->bn2 = md_m_bn(m, p, width);
      b->proj = stride != 1 || cur.c != width;
      if (b->proj) {
        snprintf(p, sizeof p, "layer%d.%d.shortcut.0", s + 1, j);
        b->sc_conv = md_m_conv(m, p, cur, width, 1, stride, 0, 0);
        snprintf(p, sizeof p, "layer%d.%d.shortcut.1", s + 1, j);
        b->sc_bn = md_m_bn(m, p, width);
      }
      const size_t no = (size_t)md_per_sample(b->out) * B;
      b->t1 = md_m_arena(m, no);
      b->t2 = md_m_arena(m, no);
      b->ts = b->proj ? md_m_arena(m, no) : 0;
      b->y = md_m_arena(m, no);
      if ((size_t)md_per_sample(b->out) > largest) largest = (size_t)md_per_sample(b->out);
      cur = b->out;
    }
    /* one stream per layer whether or not the stage is selected, so that a
     * layer's stream does not depend on the other stages' selection */
    net->reg[s] = -1;
    if (m->cfg.reg != MD_REG_NONE) {
      const int idx = md_m_reg(m, cur);
      if ((m->cfg.reg_stages >> s) & 1u) net->reg[s] = idx;
    }
  }
  net->fc = md_m_fc(m, "linear", (int)cur.c, m->cfg.num_classes);
  net->pooled = md_m_arena(m, B * (size_t)cur.c);
  net->dpooled = md_m_arena(m, B * (size_t)cur.c);
  md_m_gbufs(m, 3, largest);
  return m->build_status;
}
