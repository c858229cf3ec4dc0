/* Wide-ResNet-depth-k (REFERENCE.md section 2): conv3x3 3->16, three groups
 * of n = (depth-4)/6 pre-activation blocks of widths 16k, 32k, 64k (strides
 * 1, 2, 2), final BN-ReLU, 8x8 average pool, linear. Block:
 *   a = relu(bn1(x)); r = reg(relu(bn2(conv1(a)))); y = shortcut + conv2(r)
 * with shortcut = x when the channel count stays, else convShortcut(a).
 * Tensor names follow the reference's state_dict: conv1,
 * block<g>.layer.<i>.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc.
 *
 * Saved for the backward (arena slots, each for max_batch): x0 = conv1(x),
 * per block t1 = conv1(a) and y, and f = relu(bn1(y_last)). The backward
 * recomputes a from x and r from t1 (BatchNorm with the same batch
 * statistics, ReLU, the regularizer's recorded mask), bit for bit. The
 * activation gradients rotate through four buffers of the largest
 * activation's size, which the forward borrows as scratch.
 *
 * ReLU backward against the regularized r: where the regularizer dropped an
 * element the gradient is already 0; elsewhere r > 0 exactly when the ReLU's
 * output was > 0 (Dropout's scale is positive). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/activation.h"
#include "maxdrop/pool.h"
#include "maxdrop/residual.h"
#include "models/model_internal.h"

typedef struct wrn_block {
  md_bn_l bn1, bn2;
  md_conv_l conv1, conv2, sc;
  int proj;
  int reg; /* regularizer layer, or -1 */
  md_shape in, out; /* per sample */
  size_t t1, y;
} wrn_block;

typedef struct wrn_net {
  md_conv_l conv1;
  size_t x0;
  int n_blk;
  wrn_block *blk;
  md_bn_l bn;
  size_t f;
  md_fc_l fc;
  size_t pooled, dpooled;
} wrn_net;

#define TRY(call)                      \
  do {                                 \
    const md_status st_ = (call);      \
    if (st_ != MD_OK) return st_;      \
  } while (0)

static md_status forward(md_model *m, int n, int training) {
  wrn_net *net = m->net;
  const int mode = training ? MD_BN_TRAIN : MD_BN_EVAL;
  float *S0 = md_m_ptr(m, m->gbuf[0]), *S1 = md_m_ptr(m, m->gbuf[1]);
  float *x0 = md_m_ptr(m, net->x0);
  TRY(md_l_conv_fwd(m, &net->conv1, n, md_m_ptr(m, m->input), x0));
  const float *x = x0;
  for (int i = 0; i < net->n_blk; ++i) {
    const wrn_block *b = &net->blk[i];
    const md_shape si = md_batched(b->in, n), so = md_batched(b->out, n);
    const int64_t no = md_shape_numel(so);
    float *t1 = md_m_ptr(m, b->t1), *y = md_m_ptr(m, b->y);
    TRY(md_l_bn_fwd(m, &b->bn1, si, x, S0, mode, NULL, 1)); /* a */
    if (b->proj) TRY(md_l_conv_fwd(m, &b->sc, n, S0, y));
    if (training) {
      TRY(md_l_conv_fwd(m, &b->conv1, n, S0, t1));
      TRY(md_l_bn_fwd(m, &b->bn2, so, t1, S1, mode, NULL, 1));
    } else { /* in the convolution's output pass; t1 is kept for a backward only */
      TRY(md_l_conv_bn_eval(m, &b->conv1, &b->bn2, n, S0, NULL, 1, S1));
    }
    TRY(md_l_reg_fwd(m, b->reg, so, S1, training)); /* r */
    TRY(md_l_conv_fwd(m, &b->conv2, n, S1, S0));
    TRY(md_residual_add_forward(no, b->proj ? y : x, S0, y));
    x = y;
  }
  const md_shape sl = md_batched(net->blk[net->n_blk - 1].out, n);
  float *f = md_m_ptr(m, net->f), *pooled = md_m_ptr(m, net->pooled);
  TRY(md_l_bn_fwd(m, &net->bn, sl, x, f, mode, NULL, 1));
  TRY(md_avgpool2d_forward(sl, 8, f, pooled));
  return md_l_fc_fwd(m, &net->fc, n, pooled, md_m_ptr(m, m->logits));
}

/* Backward of block b: buf[*g] holds the gradient wrt the block's output on
 * entry; on return *g names the buffer holding the gradient wrt its input x.
 * The other buffers are scratch. */
static md_status block_backward(md_model *m, const wrn_block *b, int n, const float *x,
                                float *const buf[4], int *g) {
  float *G = buf[*g], *A = buf[(*g + 1) % 4], *B = buf[(*g + 2) % 4], *D = buf[(*g + 3) % 4];
  const md_shape si = md_batched(b->in, n), so = md_batched(b->out, n);
  const int64_t ni = md_shape_numel(si), no = md_shape_numel(so);
  const float *t1 = md_m_ptr(m, b->t1);
  /* r, rebuilt */
  TRY(md_l_bn_fwd(m, &b->bn2, so, t1, A, MD_BN_RECOMPUTE, NULL, 1));
  TRY(md_l_reg_reapply(m, b->reg, A));
  md_l_zero(B, no);
  TRY(md_l_conv_bwd(m, &b->conv2, n, A, G, B)); /* B = d r */
  TRY(md_l_reg_bwd(m, b->reg, B));
  TRY(md_relu_backward_inplace(no, A, B));
  md_l_zero(A, no);
  TRY(md_l_bn_bwd(m, &b->bn2, so, t1, B, A)); /* A = d t1 */
  /* a, rebuilt */
  TRY(md_l_bn_fwd(m, &b->bn1, si, x, B, MD_BN_RECOMPUTE, NULL, 1));
  md_l_zero(D, ni);
  TRY(md_l_conv_bwd(m, &b->conv1, n, B, A, D)); /* D = d a */
  if (b->proj) TRY(md_l_conv_bwd(m, &b->sc, n, B, G, D));
  TRY(md_relu_backward_inplace(ni, B, D));
  md_l_zero(A, ni);
  TRY(md_l_bn_bwd(m, &b->bn1, si, x, D, A)); /* A = d x through the branch */
  if (!b->proj) TRY(md_residual_add_backward(ni, G, A, NULL));
  *g = (*g + 1) % 4;
  return MD_OK;
}

static md_status backward(md_model *m, int n) {
  wrn_net *net = m->net;
  float *const buf[4] = {md_m_ptr(m, m->gbuf[0]), md_m_ptr(m, m->gbuf[1]),
                         md_m_ptr(m, m->gbuf[2]), md_m_ptr(m, m->gbuf[3])};
  int g = 0;
  const md_shape sl = md_batched(net->blk[net->n_blk - 1].out, n);
  const int64_t nl = md_shape_numel(sl);
  float *dpooled = md_m_ptr(m, net->dpooled);
  md_l_zero(dpooled, (int64_t)n * net->fc.d.in_f);
  TRY(md_l_fc_bwd(m, &net->fc, n, md_m_ptr(m, net->pooled), md_m_ptr(m, m->dlogits), dpooled));
  md_l_zero(buf[0], nl);
  TRY(md_avgpool2d_backward(sl, 8, dpooled, buf[0]));
  TRY(md_relu_backward_inplace(nl, md_m_ptr(m, net->f), buf[0]));
  md_l_zero(buf[1], nl);
  TRY(md_l_bn_bwd(m, &net->bn, sl, md_m_ptr(m, net->blk[net->n_blk - 1].y), buf[0], buf[1]));
  g = 1;
  for (int i = net->n_blk - 1; i >= 0; --i) {
    const float *x = i == 0 ? md_m_ptr(m, net->x0) : md_m_ptr(m, net->blk[i - 1].y);
    TRY(block_backward(m, &net->blk[i], n, x, buf, &g));
  }
  return md_l_conv_bwd(m, &net->conv1, n, md_m_ptr(m, m->input), buf[g], NULL);
}

static void free_net(void *p) {
  wrn_net *net = p;
  if (!net) return;
  free(net->blk);
  free(net);
}

static const md_arch_ops wrn_ops = {forward, backward, free_net};

md_status md_wrn_build(md_model *m, md_errbuf *eb) {
  (void)eb;
  wrn_net *net = calloc(1, sizeof *net);
  if (!net) return MD_ERR_OUT_OF_MEMORY;
  m->net = net;
  m->ops = &wrn_ops;
  m->conv_init_normal = 1;
  m->fc_bias_zero = 1;
  const int per_group = (m->cfg.depth - 4) / 6, k = m->cfg.widen;
  net->n_blk = 3 * per_group;
  net->blk = calloc((size_t)net->n_blk, sizeof *net->blk);
  if (!net->blk) return MD_ERR_OUT_OF_MEMORY;
  const size_t B = (size_t)m->max_batch;
  const md_shape in = md_shape4(1, MD_MODEL_IN_C, MD_MODEL_IN_H, MD_MODEL_IN_W);

  net->conv1 = md_m_conv(m, "conv1", in, 16, 3, 1, 1, 0);
  net->x0 = md_m_arena(m, (size_t)md_per_sample(net->conv1.out) * B);
  md_shape cur = net->conv1.out;
  size_t largest = (size_t)md_per_sample(cur);
  const int widths[3] = {16 * k, 32 * k, 64 * k}, strides[3] = {1, 2, 2};
  for (int gi = 0; gi < 3; ++gi) {
    for (int j = 0; j < per_group; ++j) {
      wrn_block *b = &net->blk[gi * per_group + j];
      const int stride = j == 0 ? strides[gi] : 1, width = widths[gi];
      char p[64];
      b->in = cur;
      snprintf(p, sizeof p, "block%d.layer.%d.bn1", gi + 1, j);
      b->bn1 = md_m_bn(m, p, (int)cur.c);
      snprintf(p, sizeof p, "block%d.layer.%d.conv1", gi + 1, j);
      b->conv1 = md_m_conv(m, p, cur, width, 3, stride, 1, 0);
      b->out = b->conv1.out;
      snprintf(p, sizeof p, "block%d.layer.%d.bn2", gi + 1, j);
      b->bn2 = md_m_bn(m, p, width);
      snprintf(p, sizeof p, "block%d.layer.%d.conv2", gi + 1, j);
      b->conv2 = md_m_conv(m, p, b->out, width, 3, 1, 1, 0);
      b->proj = cur.c != width;
      if (b->proj) {
        snprintf(p, sizeof p, "block%d.layer.%d.convShortcut", gi + 1, j);
        b->sc = md_m_conv(m, p, cur, width, 1, stride, 0, 0);
      }
      b->reg = m->cfg.reg != MD_REG_NONE ? md_m_reg(m, b->out) : -1;
      const size_t no = (size_t)md_per_sample(b->out) * B;
      b->t1 = md_m_arena(m, no);
      b->y = md_m_arena(m, no);
      if ((size_t)md_per_sample(b->out) > largest) largest = (size_t)md_per_sample(b->out);
      if ((size_t)md_per_sample(b->in) > largest) largest = (size_t)md_per_sample(b->in);
      cur = b->out;
    }
  }
  net->bn = md_m_bn(m, "bn1", (int)cur.c);
  net->f = md_m_arena(m, (size_t)md_per_sample(cur) * B);
  net->fc = md_m_fc(m, "fc", (int)cur.c, m->cfg.num_classes);
  net->pooled = md_m_arena(m, B * (size_t)cur.c);
  net->dpooled = md_m_arena(m, B * (size_t)cur.c);
  md_m_gbufs(m, 4, largest);
  return m->build_status;
}
