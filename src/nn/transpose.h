/* Channel-first <-> channel-last copies of one image, for the channels-last
 * Winograd kernels (src/nn/conv2d_winograd_nhwc_*.c). */
#ifndef MD_NN_TRANSPOSE_H
#define MD_NN_TRANSPOSE_H

/* xt[pos * (c1 - c0) + (c - c0)] = x[c * hw + pos] for c in [c0, c1), pos in [0, hw). */
void md_to_channels_last(const float *x, int hw, int c0, int c1, float *xt);

/* y[c * hw + pos] = yt[pos * cn + c] (add = 0) or += (add = 1), c in [0, cn). */
void md_from_channels_last(const float *yt, int cn, int hw, float *y, int add);

/* As md_from_channels_last (add = 0), with the convolution's output step
 * applied to every value (nn/conv2d_epilogue.h); add_img is ep->add at this
 * image (NULL when ep->add is NULL). */
struct md_conv_epilogue;
void md_from_channels_last_ep(const float *yt, int cn, int hw, float *y,
                              const struct md_conv_epilogue *ep, const float *add_img);

#endif
