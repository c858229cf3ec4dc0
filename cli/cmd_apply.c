/* maxdrop apply: one regularizer (MaxDropout, Dropout, Cutout, RandomErasing)
 * applied to a tensor read from a .npy file, forward and optionally backward,
 * the results written as .npy files. The front end of the parity tests. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "maxdrop/cutout.h"
#include "maxdrop/dropout.h"
#include "maxdrop/maxdropout.h"
#include "maxdrop/npy.h"
#include "maxdrop/random_erasing.h"
#include "maxdrop/rng.h"

static const char *const CMD = "apply";

/* Caps that keep a typo from becoming an endless loop over one image. */
enum { MAX_HOLES = 1024, MAX_ATTEMPTS = 100000 };

enum op_kind { OP_MAXDROP = 1, OP_DROPOUT = 2, OP_CUTOUT = 4, OP_ERASING = 8, OP_ALL = 15 };

static const struct {
  const char *name;
  int kind;
} ops[] = {{"maxdropout", OP_MAXDROP},
           {"dropout", OP_DROPOUT},
           {"cutout", OP_CUTOUT},
           {"random-erasing", OP_ERASING}};

/* Every flag: whether it takes a value and which operations accept it. */
typedef struct flag {
  const char *name;
  int has_value;
  int ops;
} flag;

static const flag flags[] = {
    {"--in", 1, OP_ALL},          {"--out", 1, OP_ALL},
    {"--grad-in", 1, OP_ALL},     {"--grad-out", 1, OP_ALL},
    {"--mask-out", 1, OP_ALL},    {"--eval", 0, OP_ALL},
    {"--seed", 1, OP_ALL},        {"--threads", 1, OP_ALL},
    {"--rate", 1, OP_MAXDROP | OP_DROPOUT},
    {"--random-rate", 0, OP_MAXDROP},
    {"--norm", 1, OP_MAXDROP},    {"--stats", 1, OP_MAXDROP},
    {"--v2", 0, OP_MAXDROP},      {"--n-holes", 1, OP_CUTOUT},
    {"--length", 1, OP_CUTOUT},   {"--probability", 1, OP_ERASING},
    {"--scale", 1, OP_ERASING},   {"--ratio", 1, OP_ERASING},
    {"--attempts", 1, OP_ERASING}, {"--fill", 1, OP_ERASING},
    {"--value", 1, OP_ERASING},
};
enum { n_flags = sizeof flags / sizeof flags[0] };

static void usage(FILE *f) {
  fputs(
      "usage: maxdrop apply <op> --in X.npy --out Y.npy [--grad-in DY.npy --grad-out DX.npy]\n"
      "                     [--mask-out M.npy] [--eval] [--seed S] [op options] [--threads N]\n"
      "\n"
      "Applies one regularizer to the float32 tensor in X.npy and writes the result to\n"
      "Y.npy (same shape). Shapes: 4-D N,C,H,W; 3-D C,H,W (one image); 2-D N,F (as\n"
      "N,F,1,1); 1-D L (as 1,1,1,L); 0-D (one element).\n"
      "\n"
      "  --in X.npy          input tensor (float32, little-endian, C order)\n"
      "  --out Y.npy         output tensor (every output a new file, none of them an\n"
      "                      input)\n"
      "  --grad-in DY.npy    gradient of the output (the input's shape) ...\n"
      "  --grad-out DX.npy   ... and where to write the gradient of the input\n"
      "  --mask-out M.npy    keep-mask as uint8 with the input's shape (1 = kept)\n"
      "  --eval              evaluation mode: the identity\n"
      "  --seed S            seed of the random streams (default 0); the streams are\n"
      "                      MD_STREAM_LAYER (maxdropout, dropout), MD_STREAM_CUTOUT,\n"
      "                      MD_STREAM_ERASING\n"
      "  --threads N         OpenMP threads, 1 to 4096 (default: OMP_NUM_THREADS or all\n"
      "                      cores)\n"
      "\n"
      "ops and their options:\n"
      "  maxdropout          MaxDropout (Santos et al. 2020); training drops the\n"
      "                      elements whose normalised value exceeds 1 - rate\n"
      "    --rate R          in [0, 1], default 0.3\n"
      "    --random-rate     draw the rate U(0, R) per call (paper) instead of fixed\n"
      "    --norm minmax|l2  normalisation: min-max (code, default) or L2 (paper)\n"
      "    --stats batch|sample|channel|sample-channel\n"
      "                      statistics over the whole tensor (default), per sample,\n"
      "                      per channel or per feature map\n"
      "    --v2              MaxDropoutV2: channel sum, per-sample min-max, whole\n"
      "                      positions dropped (needs 3-D or 4-D input)\n"
      "  dropout             inverted Dropout\n"
      "    --rate P          drop probability in [0, 1], default 0.5\n"
      "  cutout              square holes, zero in every channel (3-D or 4-D input)\n"
      "    --n-holes K       holes per image, default 1 (at most 1024)\n"
      "    --length L        side of a hole, default 16\n"
      "  random-erasing      one random rectangle per image (3-D or 4-D input)\n"
      "    --probability P   in [0, 1], default 0.5\n"
      "    --scale LO,HI     area fraction range, default 0.02,0.4\n"
      "    --ratio LO,HI     aspect ratio range, default 0.3,3.333333\n"
      "    --attempts K      tries to fit a rectangle, default 100 (at most 100000)\n"
      "    --fill zero|random|value\n"
      "                      fill: zeros, a standard normal per element (default) or\n"
      "                      --value V1,V2,... (one value, or one per channel)\n",
      f);
}

/* Everything the command line says. */
typedef struct args {
  int op;
  const char *op_name;
  const char *in, *out, *grad_in, *grad_out, *mask_out;
  int eval;
  unsigned long long seed;
  long threads;
  md_maxdrop_config md;
  double drop_p;
  int rate_given;
  long n_holes, length;
  md_erasing_config er;
  int value_given, n_values;
} args;

/* '_' in name stands for '-' (--mask_out is --mask-out, as in train). */
static const flag *find_flag(const char *name, size_t len) {
  for (int i = 0; i < n_flags; ++i) {
    int same = strlen(flags[i].name) == len;
    for (size_t k = 0; same && k < len; ++k)
      same = flags[i].name[k] == (name[k] == '_' && k >= 2 ? '-' : name[k]);
    if (same) return &flags[i];
  }
  return NULL;
}

/* "LO,HI" -> two finite numbers. */
static int parse_pair(const char *s, double *lo, double *hi) {
  const char *comma = strchr(s, ',');
  if (!comma || comma == s || strchr(comma + 1, ',')) return -1;
  char a[64];
  if ((size_t)(comma - s) >= sizeof a) return -1;
  memcpy(a, s, (size_t)(comma - s));
  a[comma - s] = '\0';
  if (md_cli_parse_double(a, lo) || md_cli_parse_double(comma + 1, hi)) return -1;
  return isfinite(*lo) && isfinite(*hi) ? 0 : -1;
}

/* "V1,V2,..." -> up to MD_ERASING_MAX_CHANNELS finite floats; count or -1. */
static int parse_values(const char *s, float *out) {
  int n = 0;
  const char *p = s;
  for (;;) {
    const char *comma = strchr(p, ',');
    const size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char buf[64];
    double v;
    if (len == 0 || len >= sizeof buf || n == MD_ERASING_MAX_CHANNELS) return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (md_cli_parse_double(buf, &v) || !isfinite(v) || fabs(v) > 3.4e38) return -1;
    out[n++] = (float)v;
    if (!comma) return n;
    p = comma + 1;
  }
}

/* Applies one flag's value to a; returns 0 or an exit code. */
static int set_flag(args *a, const char *name, const char *v) {
  double d, lo, hi;
  long l;
  if (!strcmp(name, "--in")) a->in = v;
  else if (!strcmp(name, "--out")) a->out = v;
  else if (!strcmp(name, "--grad-in")) a->grad_in = v;
  else if (!strcmp(name, "--grad-out")) a->grad_out = v;
  else if (!strcmp(name, "--mask-out")) a->mask_out = v;
  else if (!strcmp(name, "--eval")) a->eval = 1;
  else if (!strcmp(name, "--random-rate")) a->md.random_rate = 1;
  else if (!strcmp(name, "--v2")) a->md.v2 = 1;
  else if (!strcmp(name, "--seed")) {
    if (md_cli_parse_u64(v, &a->seed))
      return md_cli_usage_error(CMD, "--seed needs a non-negative integer, got '%s'", v);
  } else if (!strcmp(name, "--threads")) {
    if (md_cli_parse_long(v, &l) || l < 1 || l > MD_CLI_MAX_THREADS)
      return md_cli_usage_error(CMD, "--threads needs an integer from 1 to %d, got '%s'",
                                MD_CLI_MAX_THREADS, v);
    a->threads = l;
  } else if (!strcmp(name, "--rate")) {
    if (md_cli_parse_double(v, &d))
      return md_cli_usage_error(CMD, "--rate needs a number, got '%s'", v);
    if (!(d >= 0.0 && d <= 1.0))
      return md_cli_usage_error(CMD, "--rate must be in [0, 1], got %s", v);
    a->md.rate = d;
    a->drop_p = d;
    a->rate_given = 1;
  } else if (!strcmp(name, "--norm")) {
    if (!strcmp(v, "minmax")) a->md.norm = MD_MAXDROP_NORM_MINMAX;
    else if (!strcmp(v, "l2")) a->md.norm = MD_MAXDROP_NORM_L2;
    else return md_cli_usage_error(CMD, "--norm must be minmax or l2, got '%s'", v);
  } else if (!strcmp(name, "--stats")) {
    if (!strcmp(v, "batch")) a->md.stats = MD_MAXDROP_STATS_BATCH;
    else if (!strcmp(v, "sample")) a->md.stats = MD_MAXDROP_STATS_SAMPLE;
    else if (!strcmp(v, "channel")) a->md.stats = MD_MAXDROP_STATS_CHANNEL;
    else if (!strcmp(v, "sample-channel")) a->md.stats = MD_MAXDROP_STATS_SAMPLE_CHANNEL;
    else
      return md_cli_usage_error(
          CMD, "--stats must be batch, sample, channel or sample-channel, got '%s'", v);
  } else if (!strcmp(name, "--n-holes") || !strcmp(name, "--length")) {
    if (md_cli_parse_long(v, &l) || l < 0 || l > INT_MAX)
      return md_cli_usage_error(CMD, "%s needs a non-negative integer, got '%s'", name, v);
    if (name[2] == 'n' && l > MAX_HOLES)
      return md_cli_usage_error(CMD, "--n-holes is at most %d, got '%s'", MAX_HOLES, v);
    if (name[2] == 'n') a->n_holes = l;
    else a->length = l;
  } else if (!strcmp(name, "--probability")) {
    if (md_cli_parse_double(v, &d) || !(d >= 0.0 && d <= 1.0))
      return md_cli_usage_error(CMD, "--probability must be a number in [0, 1], got '%s'", v);
    a->er.p = (float)d;
  } else if (!strcmp(name, "--scale")) {
    if (parse_pair(v, &lo, &hi) || !((float)lo > 0.0f && lo <= hi && hi <= 1.0))
      return md_cli_usage_error(
          CMD, "--scale needs LO,HI with 0 < LO <= HI <= 1, got '%s'", v);
    a->er.scale_lo = (float)lo;
    a->er.scale_hi = (float)hi;
  } else if (!strcmp(name, "--ratio")) {
    if (parse_pair(v, &lo, &hi) || !((float)lo > 0.0f && lo <= hi && hi < 1e30))
      return md_cli_usage_error(CMD, "--ratio needs LO,HI with 0 < LO <= HI, got '%s'", v);
    a->er.ratio_lo = (float)lo;
    a->er.ratio_hi = (float)hi;
  } else if (!strcmp(name, "--attempts")) {
    if (md_cli_parse_long(v, &l) || l < 1 || l > INT_MAX)
      return md_cli_usage_error(CMD, "--attempts needs a positive integer, got '%s'", v);
    if (l > MAX_ATTEMPTS)
      return md_cli_usage_error(CMD, "--attempts is at most %d, got '%s'", MAX_ATTEMPTS, v);
    a->er.max_attempts = (int)l;
  } else if (!strcmp(name, "--fill")) {
    if (!strcmp(v, "zero")) a->er.fill = MD_ERASING_FILL_ZERO;
    else if (!strcmp(v, "random")) a->er.fill = MD_ERASING_FILL_RANDOM;
    else if (!strcmp(v, "value")) a->er.fill = MD_ERASING_FILL_VALUE;
    else return md_cli_usage_error(CMD, "--fill must be zero, random or value, got '%s'", v);
  } else if (!strcmp(name, "--value")) {
    const int n = parse_values(v, a->er.value);
    if (n < 0)
      return md_cli_usage_error(CMD, "--value needs 1 to %d comma-separated numbers, got '%s'",
                                MD_ERASING_MAX_CHANNELS, v);
    a->n_values = n;
    a->value_given = 1;
  }
  return 0;
}

/* Parses argv; returns -1 when the caller should go on, else an exit code. */
static int parse_args(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->md = md_maxdrop_default_config();
  a->drop_p = 0.5;
  a->n_holes = 1;
  a->length = 16;
  a->er = md_erasing_default_config();
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
  if (argc < 2) return md_cli_usage_error(CMD, "missing operation (maxdropout, dropout, "
                                               "cutout or random-erasing)");
  if (argv[1][0] == '-')
    return md_cli_usage_error(CMD, "the operation comes first: maxdrop apply <op> ...; "
                                   "got '%s'", argv[1]);
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; ++k)
    if (!strcmp(argv[1], ops[k].name)) {
      a->op = ops[k].kind;
      a->op_name = ops[k].name;
    }
  if (!a->op)
    return md_cli_usage_error(CMD, "unknown operation '%s' (expected maxdropout, dropout, "
                                   "cutout or random-erasing)", argv[1]);
  for (int i = 2; i < argc; ++i) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0)
      return md_cli_usage_error(CMD, "unexpected argument '%s'", arg);
    const char *eq = strchr(arg, '=');
    const size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const flag *f = find_flag(arg, len);
    if (!f) return md_cli_usage_error(CMD, "unknown option '%.*s'", (int)len, arg);
    if (!(f->ops & a->op))
      return md_cli_usage_error(CMD, "option %s does not apply to %s", f->name, a->op_name);
    const char *v = NULL;
    if (f->has_value) {
      if (eq) v = eq + 1;
      else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) v = argv[++i];
      else return md_cli_usage_error(CMD, "option %s needs a value", f->name);
      if (!*v) return md_cli_usage_error(CMD, "option %s needs a value", f->name);
    } else if (eq) {
      return md_cli_usage_error(CMD, "option %s takes no value", f->name);
    }
    const int rc = set_flag(a, f->name, v);
    if (rc) return rc;
  }
  if (!a->in) return md_cli_usage_error(CMD, "missing --in X.npy");
  if (!a->out) return md_cli_usage_error(CMD, "missing --out Y.npy");
  if (!a->grad_in != !a->grad_out)
    return md_cli_usage_error(CMD, "--grad-in and --grad-out go together");
  if (a->value_given && a->er.fill != MD_ERASING_FILL_VALUE)
    return md_cli_usage_error(CMD, "--value needs --fill value");
  if (a->er.fill == MD_ERASING_FILL_VALUE && !a->value_given)
    return md_cli_usage_error(CMD, "--fill value needs --value V1,V2,...");
  /* Every output a file of its own, none of them an input: a second write to
   * the same file would silently replace the first (or the input). */
  const struct {
    const char *flag, *path;
  } files[] = {{"--out", a->out}, {"--mask-out", a->mask_out}, {"--grad-out", a->grad_out},
               {"--in", a->in}, {"--grad-in", a->grad_in}};
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 5; ++j)
      if (files[i].path && files[j].path && md_cli_same_file(files[i].path, files[j].path))
        return md_cli_usage_error(CMD, j < 3 ? "%s and %s name the same file (%s); give each "
                                               "output a file of its own"
                                             : "%s would overwrite the input %s (%s); write "
                                               "the result to another file",
                                  files[i].flag, files[j].flag, files[j].path);
  return -1;
}

/* "(2, 3, 4)" */
static const char *shape_str(const md_npy_array *x, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "(");
  for (int i = 0; i < x->ndim && k < cap; ++i)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)x->dims[i]);
  if (k < cap) snprintf(buf + k, cap - k, "%s)", x->ndim == 1 ? "," : "");
  return buf;
}

/* Reads a float32 tensor of 0 to 4 dimensions with at least one element. */
static int read_tensor(const char *path, const char *what, md_npy_array *x) {
  md_errbuf eb;
  md_errbuf_clear(&eb);
  const md_status st = md_npy_read(path, x, &eb);
  if (st != MD_OK) return md_cli_status_error(CMD, what, st, &eb);
  char s[160];
  if (x->dtype != MD_NPY_F32) {
    md_npy_free(x);
    return md_cli_error(CMD, "%s: %s holds uint8 or bool values; apply needs float32 "
                        "('<f4')", what, path);
  }
  if (x->ndim > 4) {
    const int n = x->ndim;
    md_npy_free(x);
    return md_cli_error(CMD, "%s: %s has %d dimensions; apply takes at most 4 "
                        "(N,C,H,W; C,H,W; N,F; L)", what, path, n);
  }
  if (x->numel == 0) {
    md_cli_error(CMD, "%s: %s is empty (shape %s)", what, path, shape_str(x, s, sizeof s));
    md_npy_free(x);
    return 1;
  }
  return 0;
}

static md_shape to_shape(const md_npy_array *x) {
  const int64_t *d = x->dims;
  switch (x->ndim) {
    case 4: return md_shape4(d[0], d[1], d[2], d[3]);
    case 3: return md_shape4(1, d[0], d[1], d[2]);
    case 2: return md_shape4(d[0], d[1], 1, 1);
    case 1: return md_shape4(1, 1, 1, d[0]);
    default: return md_shape4(1, 1, 1, 1);
  }
}

static int write_out(const char *path, const char *what, md_npy_dtype dt,
                     const md_npy_array *like, const void *data) {
  md_errbuf eb;
  md_errbuf_clear(&eb);
  const md_status st = md_npy_write(path, dt, like->ndim, like->dims, data, &eb);
  return st == MD_OK ? 0 : md_cli_status_error(CMD, what, st, &eb);
}

/* The operation's state, whichever it is. */
typedef struct layer {
  int op;
  md_maxdrop md;
  md_dropout dr;
  md_cutout cu;
  md_erasing er;
} layer;

static void layer_free(layer *L) {
  if (L->op == OP_MAXDROP) md_maxdrop_free(&L->md);
  if (L->op == OP_DROPOUT) md_dropout_free(&L->dr);
  if (L->op == OP_CUTOUT) md_cutout_free(&L->cu);
  if (L->op == OP_ERASING) md_erasing_free(&L->er);
}

static int run(const args *a, const md_npy_array *x, layer *L, float *y, float **dx_out,
               uint8_t **mask_out) {
  const md_shape sh = to_shape(x);
  const int training = !a->eval;
  md_status st;
  const char *what = a->op_name;
  L->op = a->op;
  switch (a->op) {
    case OP_MAXDROP:
      st = md_maxdrop_init(&L->md, &a->md, a->seed, MD_STREAM_LAYER);
      if (st == MD_OK) st = md_maxdrop_forward(&L->md, sh, x->data, y, training);
      break;
    case OP_DROPOUT:
      st = md_dropout_init(&L->dr, a->drop_p, a->seed, MD_STREAM_LAYER);
      if (st == MD_OK) st = md_dropout_forward(&L->dr, x->numel, x->data, y, training);
      break;
    case OP_CUTOUT:
      st = md_cutout_init(&L->cu, (int)a->n_holes, (int)a->length, a->seed, MD_STREAM_CUTOUT);
      if (st == MD_OK) st = md_cutout_forward(&L->cu, sh, x->data, y, training);
      break;
    default: {
      md_erasing_config cfg = a->er;
      if (cfg.fill == MD_ERASING_FILL_VALUE && a->n_values == 1)
        for (int c = 1; c < MD_ERASING_MAX_CHANNELS; ++c) cfg.value[c] = cfg.value[0];
      st = md_erasing_init(&L->er, &cfg, a->seed, MD_STREAM_ERASING);
      if (st == MD_OK) st = md_erasing_forward(&L->er, sh, x->data, y, training);
      break;
    }
  }
  if (st != MD_OK) return md_cli_status_error(CMD, what, st, NULL);

  if (a->mask_out) {
    uint8_t *m = malloc((size_t)x->numel);
    if (!m) return md_cli_error(CMD, "out of memory");
    *mask_out = m;
    const int64_t hw = sh.h * sh.w, chw = sh.c * hw;
    for (int64_t i = 0; i < x->numel; ++i) {
      switch (a->op) {
        case OP_MAXDROP: m[i] = (uint8_t)md_maxdrop_kept(&L->md, i); break;
        case OP_DROPOUT: m[i] = (uint8_t)md_dropout_kept(&L->dr, i); break;
        case OP_CUTOUT: m[i] = L->cu.keep[(i / chw) * hw + i % hw]; break;
        default: m[i] = L->er.keep[(i / chw) * hw + i % hw]; break;
      }
    }
  }
  if (a->grad_in) {
    md_npy_array dy;
    const int rc = read_tensor(a->grad_in, "--grad-in", &dy);
    if (rc) return rc;
    int same = dy.ndim == x->ndim;
    for (int i = 0; same && i < x->ndim; ++i) same = dy.dims[i] == x->dims[i];
    if (!same) {
      char s1[160], s2[160];
      md_cli_error(CMD, "--grad-in: %s has shape %s but the input has shape %s", a->grad_in,
                   shape_str(&dy, s1, sizeof s1), shape_str(x, s2, sizeof s2));
      md_npy_free(&dy);
      return 1;
    }
    float *dx = malloc((size_t)x->numel * sizeof *dx);
    if (!dx) {
      md_npy_free(&dy);
      return md_cli_error(CMD, "out of memory");
    }
    *dx_out = dx;
    switch (a->op) {
      case OP_MAXDROP: st = md_maxdrop_backward(&L->md, dy.data, dx); break;
      case OP_DROPOUT: st = md_dropout_backward(&L->dr, dy.data, dx); break;
      case OP_CUTOUT: st = md_cutout_backward(&L->cu, dy.data, dx); break;
      default: st = md_erasing_backward(&L->er, dy.data, dx); break;
    }
    md_npy_free(&dy);
    if (st != MD_OK) return md_cli_status_error(CMD, "backward", st, NULL);
  }
  return 0;
}

int md_cmd_apply(int argc, char **argv) {
  args a;
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) return rc;
  md_cli_set_threads(a.threads);
  /* Outputs that cannot be created fail here, before any file is written. */
  if ((rc = md_cli_check_output(CMD, "--out", a.out)) != 0) return rc;
  if (a.mask_out && (rc = md_cli_check_output(CMD, "--mask-out", a.mask_out)) != 0) return rc;
  if (a.grad_out && (rc = md_cli_check_output(CMD, "--grad-out", a.grad_out)) != 0) return rc;

  md_npy_array x;
  rc = read_tensor(a.in, "--in", &x);
  if (rc) return rc;
  const md_shape sh = to_shape(&x);
  char s[160];
  if ((a.op == OP_CUTOUT || a.op == OP_ERASING || (a.op == OP_MAXDROP && a.md.v2)) &&
      x.ndim < 3) {
    rc = md_cli_error(CMD, "%s%s needs a 3-D (C,H,W) or 4-D (N,C,H,W) input; %s has shape %s",
                      a.op_name, a.op == OP_MAXDROP ? " --v2" : "", a.in,
                      shape_str(&x, s, sizeof s));
    md_npy_free(&x);
    return rc;
  }
  if (a.op == OP_ERASING && a.er.fill == MD_ERASING_FILL_VALUE && a.n_values != 1 &&
      a.n_values != sh.c) {
    rc = md_cli_error(CMD, "--value has %d numbers but the input has %lld channels "
                      "(give one value, or one per channel)", a.n_values, (long long)sh.c);
    md_npy_free(&x);
    return rc;
  }

  float *y = malloc((size_t)x.numel * sizeof *y);
  float *dx = NULL;
  uint8_t *mask = NULL;
  layer L;
  memset(&L, 0, sizeof L);
  if (!y) rc = md_cli_error(CMD, "out of memory");
  if (!rc) rc = run(&a, &x, &L, y, &dx, &mask);
  if (!rc) rc = write_out(a.out, "--out", MD_NPY_F32, &x, y);
  if (!rc && mask) rc = write_out(a.mask_out, "--mask-out", MD_NPY_U8, &x, mask);
  if (!rc && dx) rc = write_out(a.grad_out, "--grad-out", MD_NPY_F32, &x, dx);
  layer_free(&L);
  free(mask);
  free(dx);
  free(y);
  md_npy_free(&x);
  return rc;
}
