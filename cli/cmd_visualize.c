/* maxdrop visualize: the paper's Figure 1 (an image through Dropout and
 * MaxDropout, in grayscale and colour) written as a PNG. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "maxdrop/cifar.h"
#include "maxdrop/figure.h"
#include "maxdrop/image.h"

#define CMD "visualize"

/* CIFAR-10 test image shown by default: number 13, a white horse on a dark
 * background. MaxDropout removes the horse (the brightest region) as a whole
 * while Dropout speckles the whole picture: the contrast of Figure 1. */
enum { DEFAULT_INDEX = 13 };
enum { SYNTH_SIDE = 64 };

static const char usage_text[] =
    "usage: maxdrop visualize [--image FILE | --data DIR [--index I]] [--rate R]\n"
    "                         [--seed S] [--scale K] [--out FILE.png]\n"
    "\n"
    "Reproduces the paper's Figure 1: an image in grayscale (row 1) and colour\n"
    "(row 2), as it is, through Dropout and through MaxDropout, pixel intensities\n"
    "in [0, 1] taken as activations. Dropout is shown without its 1/(1-p)\n"
    "rescale (kept pixels unchanged, dropped ones black); MaxDropout zeroes the\n"
    "brightest elements (min-max normalised value > 1 - rate).\n"
    "\n"
    "options:\n"
    "  --image FILE   source image (PNG, JPEG, BMP, GIF, TGA, PNM...)\n"
    "  --data DIR     CIFAR data folder (holding cifar-10-batches-bin/ or\n"
    "                 cifar-100-binary/); default: the first of $MAXDROP_DATA,\n"
    "                 ./data, ../shared/data that has one; a built-in synthetic\n"
    "                 image when none has\n"
    "  --index I      test-set image to show (default 13: in CIFAR-10, a white\n"
    "                 horse on a dark background)\n"
    "  --rate R       drop rate of both, in [0, 1] (default 0.5)\n"
    "  --seed S       seed of Dropout's random stream (default 0)\n"
    "  --scale K      upscale factor, 1..64 (default: 256 / image side, at least 1)\n"
    "  --out FILE     output PNG (default figure1.png)\n"
    "  -h, --help     show this help\n";

/* The built-in image: a colour gradient with a bright disc and a dark bar,
 * so that the brightest region is easy to see. */
static void synthetic_image(uint8_t *rgb, int side) {
  const double c = side * 0.68, r = side * 0.2;
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      const double u = (double)x / (side - 1), v = (double)y / (side - 1);
      double px[3] = {30 + 120 * u, 40 + 100 * (1 - v), 160 - 120 * u};
      const double dx = x - c, dy = y - side * 0.32;
      if (dx * dx + dy * dy <= r * r) px[0] = px[1] = px[2] = 250; /* bright disc */
      if (y >= side * 0.7 && y < side * 0.8 && x > side * 0.1 && x < side * 0.6)
        px[0] = px[1] = px[2] = 15; /* dark bar */
      for (int k = 0; k < 3; ++k) rgb[((size_t)y * side + x) * 3 + k] = (uint8_t)(px[k] + 0.5);
    }
  }
}

int md_cmd_visualize(int argc, char **argv) {
  const char *image_path = NULL, *data_dir = NULL, *out_path = "figure1.png";
  long index = DEFAULT_INDEX;
  int index_given = 0;
  md_figure1_config cfg = md_figure1_default_config();

  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    int missing = 0;
    const char *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if ((v = md_cli_flag_value(argc, argv, &i, "--image", &missing))) {
      image_path = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--data", &missing))) {
      data_dir = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--out", &missing))) {
      out_path = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--index", &missing))) {
      if (md_cli_parse_long(v, &index) != 0 || index < 0)
        return md_cli_usage_error(CMD, "--index needs a whole number >= 0, not '%s'", v);
      index_given = 1;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--rate", &missing))) {
      double r;
      if (md_cli_parse_double(v, &r) != 0 || !(r >= 0.0 && r <= 1.0))
        return md_cli_usage_error(CMD, "--rate needs a number in [0, 1], not '%s'", v);
      cfg.rate = r;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--seed", &missing))) {
      unsigned long long s;
      if (md_cli_parse_u64(v, &s) != 0)
        return md_cli_usage_error(CMD, "--seed needs a whole number >= 0, not '%s'", v);
      cfg.seed = s;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--scale", &missing))) {
      long k;
      if (md_cli_parse_long(v, &k) != 0 || k < 1 || k > 64)
        return md_cli_usage_error(CMD, "--scale needs a whole number in 1..64, not '%s'", v);
      cfg.scale = (int)k;
    } else if (missing) {
      return md_cli_usage_error(CMD, "%s needs a value", a);
    } else if (a[0] == '-') {
      return md_cli_usage_error(CMD, "unknown option '%s'", a);
    } else {
      return md_cli_usage_error(CMD, "unexpected argument '%s'", a);
    }
    if (missing) return md_cli_usage_error(CMD, "%s needs a value", a);
  }
  if (image_path && (data_dir || index_given))
    return md_cli_usage_error(CMD, "--image cannot be combined with --data or --index");
  if (!*out_path) return md_cli_usage_error(CMD, "--out needs a file name");
  const char *out_base = strrchr(out_path, '/');
  out_base = out_base ? out_base + 1 : out_path;
  const size_t out_len = strlen(out_base);
  if (out_len < 5 || strcasecmp(out_base + out_len - 4, ".png") != 0)
    return md_cli_usage_error(CMD, "--out names a PNG file (FILE.png), not '%s'", out_path);
  const int out_rc = md_cli_check_output(CMD, "--out", out_path);
  if (out_rc) return out_rc;
  if (image_path && md_cli_same_file(image_path, out_path))
    return md_cli_usage_error(CMD, "--out %s is the source image; choose another file", out_path);

  /* The source image, height x width x channels. */
  md_errbuf eb;
  md_errbuf_clear(&eb);
  md_image src = {0};
  char what[9000];
  md_status st;
  if (image_path) {
    st = md_image_load(image_path, 0, &src, &eb);
    if (st != MD_OK) return md_cli_status_error(CMD, "cannot use --image", st, &eb);
    snprintf(what, sizeof what, "%s (%d x %d, %s)", image_path, src.width, src.height,
             src.channels == 1 ? "grayscale" : "colour");
  } else {
    md_cifar_location loc;
    st = md_cifar_find_data(data_dir, &loc, &eb);
    if (st != MD_OK && data_dir) return md_cli_status_error(CMD, "--data", st, &eb);
    if (st != MD_OK && index_given)
      return md_cli_status_error(CMD, "--index needs the CIFAR test set", st, &eb);
    if (st != MD_OK) {
      fprintf(stderr, "maxdrop %s: %s; using a built-in synthetic image instead\n", CMD,
              eb.msg);
      st = md_image_alloc(&src, SYNTH_SIDE, SYNTH_SIDE, 3);
      if (st != MD_OK) return md_cli_status_error(CMD, "synthetic image", st, NULL);
      synthetic_image(src.data, SYNTH_SIDE);
      snprintf(what, sizeof what, "the built-in synthetic image (%d x %d)", SYNTH_SIDE,
               SYNTH_SIDE);
    } else {
      char path[4400];
      if (loc.cifar10[0])
        snprintf(path, sizeof path, "%s/test_batch.bin", loc.cifar10);
      else
        snprintf(path, sizeof path, "%s/test.bin", loc.cifar100);
      md_cifar_record *rec = malloc(sizeof *rec);
      if (!rec) return md_cli_error(CMD, "out of memory");
      st = md_cifar_read_record(path, loc.cifar10[0] ? MD_CIFAR_10 : MD_CIFAR_100, index,
                                rec, &eb);
      if (st == MD_OK) st = md_image_alloc(&src, MD_CIFAR_SIDE, MD_CIFAR_SIDE, 3);
      if (st != MD_OK) {
        free(rec);
        return md_cli_status_error(CMD, "cannot read the CIFAR test image", st, &eb);
      }
      const int hw = MD_CIFAR_SIDE * MD_CIFAR_SIDE;
      for (int p = 0; p < hw; ++p)
        for (int k = 0; k < 3; ++k) src.data[p * 3 + k] = rec->image[k * hw + p];
      snprintf(what, sizeof what, "%s test image %ld of %s (class %d%s%s)",
               md_cifar_kind_name(rec->kind), index, path, rec->label,
               rec->class_name[0] ? ", " : "", rec->class_name);
      free(rec);
    }
  }

  int ow = 0, oh = 0;
  st = md_figure1_size(&cfg, src.width, src.height, &ow, &oh, &eb);
  if (st != MD_OK) {
    md_image_free(&src);
    return md_cli_status_error(CMD, "cannot lay out the figure", st, &eb);
  }
  md_image fig = {0};
  st = md_image_alloc(&fig, ow, oh, 3);
  if (st != MD_OK) {
    md_image_free(&src);
    return md_cli_status_error(CMD, "figure", st, NULL);
  }
  md_figure1_stats stats;
  st = md_figure1_render(&cfg, src.data, src.width, src.height, src.channels, fig.data,
                         &stats, &eb);
  md_image_free(&src);
  if (st == MD_OK) st = md_image_write_png(out_path, &fig, &eb);
  md_image_free(&fig);
  if (st != MD_OK) return md_cli_status_error(CMD, "cannot make the figure", st, &eb);

  printf("wrote %s (%d x %d pixels): %s\n", out_path, ow, oh, what);
  printf("rate %g, seed %llu, scale %d; elements zeroed: grayscale Dropout %.1f%%, "
         "MaxDropout %.1f%%; colour Dropout %.1f%%, MaxDropout %.1f%%\n",
         (double)cfg.rate, (unsigned long long)cfg.seed, stats.scale,
         100.0 * stats.dropout_gray, 100.0 * stats.maxdrop_gray, 100.0 * stats.dropout_color,
         100.0 * stats.maxdrop_color);
  return 0;
}
