/* A program using the installed maxdrop library: MaxDropout (rate 0.3,
 * reference configuration) on a 2 x 3 x 4 x 4 tensor holding the values
 * 0, 1/95, 2/95, ..., 1. Min-max normalisation leaves them as they are, so
 * exactly the elements above 0.7 are dropped: 29 of 96, 67 kept.
 *
 *   cc example.c $(pkg-config --cflags --libs maxdrop) -o example */
#include <stdio.h>

#include <maxdrop/maxdrop.h>

int main(void) {
  enum { N = 2, C = 3, H = 4, W = 4, NUMEL = N * C * H * W };
  float x[NUMEL], y[NUMEL];
  for (int i = 0; i < NUMEL; ++i) x[i] = (float)i / (float)(NUMEL - 1);

  md_maxdrop_config cfg = md_maxdrop_default_config(); /* rate 0.3 */
  md_maxdrop layer;
  md_status st = md_maxdrop_init(&layer, &cfg, 42, MD_STREAM_LAYER);
  if (st == MD_OK) st = md_maxdrop_forward(&layer, md_shape4(N, C, H, W), x, y, 1);
  if (st != MD_OK) {
    fprintf(stderr, "example: %s\n", md_strerror(st));
    md_maxdrop_free(&layer);
    return 1;
  }
  int kept = 0;
  for (int i = 0; i < NUMEL; ++i) kept += md_maxdrop_kept(&layer, i);
  printf("maxdrop %s: MaxDropout rate %.1f kept %d of %d elements\n", md_version(),
         (double)cfg.rate, kept, NUMEL);
  md_maxdrop_free(&layer);
  return 0;
}
