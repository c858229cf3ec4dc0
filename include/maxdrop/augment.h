/* maxdrop/augment.h - per-image training augmentation and normalisation.
 *
 * The reference pipeline (torchvision, as in the Cutout/MaxDropout code):
 *   RandomCrop(32, padding=4) -> RandomHorizontalFlip() -> ToTensor() -> Normalize(mean, std)
 * on 8-bit RGB images. Here, per image:
 *   1. zero-pad `pad` pixels on every side (in pixel space: the padding is the
 *      pixel value 0, which normalises to -mean/std, as in torchvision);
 *   2. crop H x W at offsets (dy, dx), each uniform over 0 .. 2*pad inclusive,
 *      drawn independently; (pad, pad) is the original image;
 *   3. mirror left-right with probability 0.5;
 *   4. normalise: x = pixel / 255.0f, y = (x - mean[c]) / std[c], all float32
 *      with mean and std rounded to float32 first, exactly as ToTensor's
 *      div(255) and Normalize's sub_/div_ compute it.
 * Evaluation: step 4 only.
 *
 * Images are uint8 C x H x W (channel planes, row-major), the layout of the
 * CIFAR binary files; outputs are float32 C x H x W. */
#ifndef MAXDROP_AUGMENT_H
#define MAXDROP_AUGMENT_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MD_AUGMENT_MAX_CHANNELS = 16 };

typedef struct md_augment_config {
  int channels, height, width; /* image shape; CIFAR: 3, 32, 32 */
  int pad;                     /* zero padding for the random crop; 0 = no crop */
  int flip;                    /* 1: horizontal flip with probability 0.5 */
  float mean[MD_AUGMENT_MAX_CHANNELS]; /* per channel, on the [0, 1] scale */
  float std[MD_AUGMENT_MAX_CHANNELS];  /* per channel, > 0 */
} md_augment_config;

/* The reference values for CIFAR-10 and CIFAR-100: 3 x 32 x 32, pad 4, flip on,
 * mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255 (each quotient
 * computed in double, then rounded to float32). */
MD_API md_augment_config md_augment_cifar_config(void);

/* MD_ERR_INVALID_ARGUMENT: channels outside 1..MD_AUGMENT_MAX_CHANNELS, height or
 * width < 1, pad < 0 or > 4096, flip not 0/1, a std that is not finite and > 0,
 * a mean that is not finite. */
MD_API md_status md_augment_config_check(const md_augment_config *cfg, md_errbuf *eb);

/* A prepared augmenter: the configuration and one lookup table per channel,
 * lut[c][v] = (v / 255.0f - mean[c]) / std[c]. Plain data, read-only once made. */
typedef struct md_augment {
  md_augment_config cfg;
  float lut[MD_AUGMENT_MAX_CHANNELS][256];
} md_augment;

MD_API md_status md_augment_init(md_augment *a, const md_augment_config *cfg,
                                 md_errbuf *eb);

/* The random choices for one image. */
typedef struct md_crop_flip {
  int dy, dx; /* crop offset in the padded image, 0 .. 2*pad; (pad, pad) = no shift */
  int flip;   /* 1 = mirrored left-right */
} md_crop_flip;

/* The identity choice: (pad, pad), no flip. */
MD_API md_crop_flip md_crop_flip_identity(const md_augment *a);

/* Draws one image's choices from r, in this order: dy = md_rng_below(r, 2*pad+1),
 * dx = md_rng_below(r, 2*pad+1) (neither consumes a word when pad = 0), then,
 * when flip is enabled, flip = md_rng_uniform(r) < 0.5f. */
MD_API md_crop_flip md_augment_draw(const md_augment *a, md_rng *r);

/* dst (C, H, W) = normalise(flip(crop(pad(src)))) for the given choices, which
 * must lie in range (0 .. 2*pad). src (C, H, W) uint8. */
MD_API void md_augment_image(const md_augment *a, const uint8_t *src, md_crop_flip p,
                             float *dst);

/* dst (C, H, W) = normalise(src): the evaluation transform. */
MD_API void md_normalize_image(const md_augment *a, const uint8_t *src, float *dst);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_AUGMENT_H */
