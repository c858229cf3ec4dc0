/* maxdrop bench maxdropout|train-step|loader [options] */
#include <string.h>

#include <omp.h>

#include "bench.h"
#include "cli.h"

static const char usage_maxdropout[] =
    "usage: maxdrop bench maxdropout [--threads N] [--reps R] [--batch B] [--unaligned]\n"
    "\n"
    "Measures the machine's memory-copy bandwidth (memcpy of 256 MiB with the\n"
    "same thread count), then MaxDropout forward + backward (training mode,\n"
    "reference configuration) on the ResNet-18 stage outputs (B,64,32,32),\n"
    "(B,128,16,16), (B,256,8,8), (B,512,4,4), each after copies x -> y and\n"
    "dy -> dx over the same four tensors (memcpy_same_size).\n"
    "\n"
    "Prints one JSON object per line: name, shape, threads, reps, align,\n"
    "median_s, gb_s, bytes, fraction_of_copy_bw (against the 256 MiB copy) and\n"
    "fraction_of_same_size_copy_bw. Bytes: forward 12n + n/8 (statistics pass,\n"
    "then read x, write y and the mask bits), backward 8n + n/8.\n"
    "\n"
    "options:\n"
    "  --threads N  OpenMP threads, 1 to 4096 (default: OMP_NUM_THREADS or all cores)\n"
    "  --reps R     timed repetitions, the median is reported (default 20)\n"
    "  --batch B    batch size (default 128)\n"
    "  --unaligned  tensors 16 bytes past a 64-byte boundary (default: aligned)\n"
    "  --help       this text\n";

static const char usage_train_step[] =
    "usage: maxdrop bench train-step [--model resnet18|wrn] [--width W] [--depth D]\n"
    "                                [--widen K] [--classes C] [--batch B] [--threads N]\n"
    "                                [--steps S] [--reg none|maxdropout|dropout]\n"
    "                                [--rate R]\n"
    "\n"
    "Times whole training steps (zero grad, forward, softmax cross-entropy,\n"
    "backward, SGD with the reference settings) and evaluation forwards of a\n"
    "model on a fixed random batch, after one warm-up of each, and prints one\n"
    "JSON object: the medians (train_step_median_s, with its forward and\n"
    "backward parts, eval_forward_median_s), images per second, and the\n"
    "process's peak resident memory (peak_rss_mb: getrusage ru_maxrss, the\n"
    "VmHWM of /proc/self/status) beside its resident memory before the model\n"
    "was built (baseline_rss_mb). tools/bench_train_step_torch.py prints\n"
    "PyTorch's figures for the same model, batch and thread count.\n"
    "\n"
    "options:\n"
    "  --model M    resnet18 (default) or wrn\n"
    "  --width W    ResNet-18 width (default 64: stages 64, 128, 256, 512)\n"
    "  --depth D    WRN depth, 6n+4 (default 28)\n"
    "  --widen K    WRN widening factor (default 10)\n"
    "  --classes C  number of classes (default 10)\n"
    "  --batch B    batch size (default 128)\n"
    "  --threads N  OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
    "  --steps S    timed steps (default 5)\n"
    "  --reg R      regularizer: none (default), maxdropout, dropout\n"
    "  --rate R     its rate (default 0.3)\n";

static const char usage_loader[] =
    "usage: maxdrop bench loader [--data DIR] [--batch B] [--epochs E] [--limit N]\n"
    "                            [--cutout] [--random-erasing]\n"
    "\n"
    "The data pipeline alone: the CIFAR-10 training set (found as 'maxdrop\n"
    "train' finds it) turned into normalised float batches, without\n"
    "prefetching (one thread), in training mode (shuffle, pad-4 crop, flip,\n"
    "optionally Cutout and RandomErasing) and in evaluation mode. Prints one\n"
    "JSON object per mode: the median epoch time after a warm-up epoch, images\n"
    "per second and milliseconds per batch. tools/bench_loader_torch.py prints\n"
    "torchvision's figures for the same work.\n"
    "\n"
    "options:\n"
    "  --data DIR        folder holding cifar-10-batches-bin/ (default: search)\n"
    "  --batch B         batch size (default 128)\n"
    "  --epochs E        timed epochs per mode (default 3)\n"
    "  --limit N         only the first N training images (default: all)\n"
    "  --cutout          Cutout, one 16x16 hole, in training mode\n"
    "  --random-erasing  RandomErasing (its defaults) in training mode\n";

/* Splits argv[i] ("--name=value" or "--name") into *a (the name) and *v (the
 * value or NULL); 1 when it asks for help, which is then printed. */
static int split_arg(const char *arg, char *name, size_t cap, const char **a, const char **v,
                     const char *usage) {
  *a = md_cli_split_flag(arg, name, cap, v);
  if (strcmp(*a, "--help") && strcmp(*a, "-h")) return 0;
  fputs(usage, stdout);
  return 1;
}

static int bench_train_step(int argc, char **argv) {
  md_bench_train_opts o;
  o.cfg = md_model_default_config(MD_ARCH_RESNET18);
  long width = 64, depth = 28, widen = 10, classes = 10, batch = 128, threads = 0, steps = 5;
  double rate = 0.3;
  for (int i = 2; i < argc; ++i) {
    char name[64];
    const char *a, *v;
    if (split_arg(argv[i], name, sizeof name, &a, &v, usage_train_step)) return 0;
    static const char *const known[] = {"--model", "--reg",     "--rate",    "--width",
                                        "--depth", "--widen",   "--classes", "--batch",
                                        "--threads", "--steps"};
    int is_known = 0;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; ++k) is_known |= !strcmp(a, known[k]);
    if (!is_known) return md_cli_usage_error("bench", "unknown option '%s'", a);
    if (!v) {
      if (i + 1 >= argc) return md_cli_usage_error("bench", "%s needs a value", a);
      v = argv[++i];
    }
    if (!strcmp(a, "--model")) {
      if (!strcmp(v, "resnet18"))
        o.cfg.arch = MD_ARCH_RESNET18;
      else if (!strcmp(v, "wrn"))
        o.cfg.arch = MD_ARCH_WRN;
      else
        return md_cli_usage_error("bench", "--model wants resnet18 or wrn, not '%s'", v);
      continue;
    }
    if (!strcmp(a, "--reg")) {
      if (!strcmp(v, "none"))
        o.cfg.reg = MD_REG_NONE;
      else if (!strcmp(v, "maxdropout"))
        o.cfg.reg = MD_REG_MAXDROPOUT;
      else if (!strcmp(v, "dropout"))
        o.cfg.reg = MD_REG_DROPOUT;
      else
        return md_cli_usage_error("bench", "--reg wants none, maxdropout or dropout, not '%s'",
                                  v);
      continue;
    }
    if (!strcmp(a, "--rate")) {
      if (md_cli_parse_double(v, &rate) != 0 || !(rate >= 0.0 && rate <= 1.0))
        return md_cli_usage_error("bench", "--rate wants a number in [0, 1], not '%s'", v);
      continue;
    }
    long *dst = !strcmp(a, "--width")     ? &width
                : !strcmp(a, "--depth")   ? &depth
                : !strcmp(a, "--widen")   ? &widen
                : !strcmp(a, "--classes") ? &classes
                : !strcmp(a, "--batch")   ? &batch
                : !strcmp(a, "--threads") ? &threads
                : !strcmp(a, "--steps")   ? &steps
                                          : NULL;
    if (!dst) return md_cli_usage_error("bench", "unknown option '%s'", a);
    if (md_cli_parse_long(v, dst) != 0 || *dst < 1 || *dst > 1000000)
      return md_cli_usage_error("bench", "%s wants an integer from 1 to 1000000, not '%s'", a, v);
  }
  o.cfg.width = (int)width;
  o.cfg.depth = (int)depth;
  o.cfg.widen = (int)widen;
  o.cfg.num_classes = (int)classes;
  o.cfg.maxdrop.rate = rate;
  o.cfg.dropout_p = rate;
  o.batch = (int)batch;
  o.steps = (int)steps;
  md_errbuf eb = {{0}};
  if (md_model_config_check(&o.cfg, &eb) != MD_OK)
    return md_cli_usage_error("bench", "%s", eb.msg);
  md_cli_set_threads(threads);
  return md_bench_train_step(&o, stdout);
}

static int bench_loader(int argc, char **argv) {
  md_bench_loader_opts o = {NULL, 128, 3, 0, 0, 0};
  for (int i = 2; i < argc; ++i) {
    char name[64];
    const char *a, *v;
    if (split_arg(argv[i], name, sizeof name, &a, &v, usage_loader)) return 0;
    int *flag = !strcmp(a, "--cutout")           ? &o.cutout
                : !strcmp(a, "--random-erasing") ? &o.erasing
                                                 : NULL;
    if (flag) {
      if (v) return md_cli_usage_error("bench", "%s takes no value", a);
      *flag = 1;
      continue;
    }
    if (strcmp(a, "--data") && strcmp(a, "--batch") && strcmp(a, "--epochs") &&
        strcmp(a, "--limit"))
      return md_cli_usage_error("bench", "unknown option '%s'", a);
    if (!v) {
      if (i + 1 >= argc) return md_cli_usage_error("bench", "%s needs a value", a);
      v = argv[++i];
    }
    if (!strcmp(a, "--data")) {
      o.data = v;
      continue;
    }
    long x;
    const long lo = !strcmp(a, "--limit") ? 0 : 1;
    const long hi = !strcmp(a, "--batch") ? 4096 : !strcmp(a, "--epochs") ? 1000 : 1000000000L;
    if (md_cli_parse_long(v, &x) != 0 || x < lo || x > hi)
      return md_cli_usage_error("bench", "%s wants an integer from %ld to %ld, not '%s'", a, lo,
                                hi, v);
    *(!strcmp(a, "--batch") ? &o.batch : !strcmp(a, "--epochs") ? &o.epochs : &o.limit) = (int)x;
  }
  return md_bench_loader(&o, stdout);
}

int md_cmd_bench(int argc, char **argv) {
  if (argc < 2)
    return md_cli_usage_error("bench", "which benchmark? (maxdropout, train-step, loader)");
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("%s\n%s\n%s", usage_maxdropout, usage_train_step, usage_loader);
    return 0;
  }
  if (!strcmp(argv[1], "train-step")) return bench_train_step(argc, argv);
  if (!strcmp(argv[1], "loader")) return bench_loader(argc, argv);
  if (strcmp(argv[1], "maxdropout") != 0)
    return md_cli_usage_error("bench", "unknown benchmark '%s'", argv[1]);
  long threads = 0, reps = 20, batch = 128;
  int offset = 0;
  for (int i = 2; i < argc; ++i) {
    char name[64];
    const char *a, *v;
    if (split_arg(argv[i], name, sizeof name, &a, &v, usage_maxdropout)) return 0;
    if (!strcmp(a, "--unaligned")) {
      if (v) return md_cli_usage_error("bench", "--unaligned takes no value");
      offset = 4;
      continue;
    }
    long *dst = !strcmp(a, "--threads") ? &threads
                : !strcmp(a, "--reps")  ? &reps
                : !strcmp(a, "--batch") ? &batch
                                        : NULL;
    if (!dst) return md_cli_usage_error("bench", "unknown option '%s'", argv[i]);
    if (!v) {
      if (i + 1 >= argc) return md_cli_usage_error("bench", "%s needs a value", a);
      v = argv[++i];
    }
    if (md_cli_parse_long(v, dst) != 0 || *dst < 1 || *dst > 1000000)
      return md_cli_usage_error("bench", "%s wants a positive integer, not '%s'", a, v);
  }
  if (batch > 4096) return md_cli_usage_error("bench", "--batch is at most 4096");
  if (threads > MD_CLI_MAX_THREADS)
    return md_cli_usage_error("bench", "--threads is at most %d", MD_CLI_MAX_THREADS);
  md_cli_set_threads(threads);
  const md_bench_opts o = {omp_get_max_threads(), (int)reps, (int)batch, offset};
  return md_bench_maxdropout(&o, stdout);
}
