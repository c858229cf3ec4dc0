/* maxdrop/figure.h - the MaxDropout paper's Figure 1 as one RGB image.
 *
 * Layout: three columns "original", "Dropout", "MaxDropout" under a row of
 * titles; row 1 shows the image in grayscale, row 2 in colour. Pixel
 * intensities scaled to [0, 1] are treated as activations:
 *   grayscale: luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) as a
 *              1 x 1 x H x W tensor;
 *   colour:    R, G, B planes as a 1 x 3 x H x W tensor, so MaxDropout's
 *              min-max statistics span all three channels together, as the
 *              reference code's whole-batch statistics do.
 * Both go through the library's own kernels in training mode, at the same
 * rate: md_dropout (drop probability = rate) and md_maxdrop (reference
 * configuration: fixed rate, min-max normalisation, batch statistics).
 *
 * What is shown: MaxDropout's output as it is (MaxDropout does not rescale),
 * and Dropout's output WITHOUT its 1 / (1 - p) training rescale, i.e. the
 * kept pixels at their original intensity and dropped ones black. Both
 * panels then differ from the original only where elements were zeroed, as
 * in the paper's figure; the rescaled output would saturate every kept pixel
 * above 1 - p to white. In colour, elements are dropped per channel, so
 * Dropout's noise is coloured.
 *
 * Each panel is the image upscaled by an integer factor (nearest neighbour);
 * panels are separated and framed by white gutters. */
#ifndef MAXDROP_FIGURE_H
#define MAXDROP_FIGURE_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MD_FIGURE1_MAX_SIDE = 16384 /* largest figure side, in pixels */ };

typedef struct md_figure1_config {
  double rate;    /* Dropout probability and MaxDropout rate, in [0, 1]; default 0.5 */
  uint64_t seed;  /* seeds Dropout's streams (MaxDropout at a fixed rate draws
                     nothing); default 0 */
  int scale;      /* upscale factor >= 1; 0 = automatic: 256 / max(W, H), at
                     least 1 (8 for a 32 x 32 CIFAR image); default 0 */
  int gutter;     /* white pixels between and around the panels, >= 0; default 8 */
  int titles;     /* 1: draw column titles above the panels (omitted when the
                     panels are too narrow for them); default 1 */
} md_figure1_config;

/* Fractions of elements each panel set to zero (0 for the originals). */
typedef struct md_figure1_stats {
  int scale;                    /* upscale factor used */
  double dropout_gray, maxdrop_gray;   /* row 1 */
  double dropout_color, maxdrop_color; /* row 2 */
} md_figure1_stats;

MD_API md_figure1_config md_figure1_default_config(void);

/* Size of the figure for a width x height source image.
 * MD_ERR_INVALID_ARGUMENT (with a message) for a bad configuration or image
 * size, or a figure larger than MD_FIGURE1_MAX_SIDE on a side. */
MD_API md_status md_figure1_size(const md_figure1_config *cfg, int width, int height,
                                 int *out_width, int *out_height, md_errbuf *eb);

/* Renders the figure into `out`, out_height x out_width x 3 bytes (RGB,
 * row-major, as md_figure1_size gives). `pixels` is the source image,
 * height x width x channels bytes, channels 1 (grayscale: the colour row then
 * shows gray too) or 3 (RGB). stats may be NULL. Deterministic for a given
 * configuration and image, whatever the thread count. */
MD_API md_status md_figure1_render(const md_figure1_config *cfg, const uint8_t *pixels,
                                   int width, int height, int channels, uint8_t *out,
                                   md_figure1_stats *stats, md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
