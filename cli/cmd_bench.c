/* maxdrop bench <name> [--threads N] [--reps R] [--batch B] */
#include <string.h>

#include <omp.h>

#include "bench.h"
#include "cli.h"

static const char usage_text[] =
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
    "  --threads N  OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
    "  --reps R     timed repetitions, the median is reported (default 20)\n"
    "  --batch B    batch size (default 128)\n"
    "  --unaligned  tensors 16 bytes past a 64-byte boundary (default: aligned)\n"
    "  --help       this text\n";

int md_cmd_bench(int argc, char **argv) {
  if (argc < 2) return md_cli_usage_error("bench", "which benchmark? (maxdropout)");
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(argv[1], "maxdropout") != 0)
    return md_cli_usage_error("bench", "unknown benchmark '%s'", argv[1]);
  long threads = 0, reps = 20, batch = 128;
  int offset = 0;
  for (int i = 2; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(a, "--unaligned")) {
      offset = 4;
      continue;
    }
    long *dst = !strcmp(a, "--threads") ? &threads
                : !strcmp(a, "--reps")  ? &reps
                : !strcmp(a, "--batch") ? &batch
                                        : NULL;
    if (!dst) return md_cli_usage_error("bench", "unknown option '%s'", a);
    if (i + 1 >= argc) return md_cli_usage_error("bench", "%s needs a value", a);
    if (md_cli_parse_long(argv[++i], dst) != 0 || *dst < 1 || *dst > 1000000)
      return md_cli_usage_error("bench", "%s wants a positive integer, not '%s'", a, argv[i]);
  }
  if (batch > 4096) return md_cli_usage_error("bench", "--batch is at most 4096");
  md_cli_set_threads(threads);
  const md_bench_opts o = {omp_get_max_threads(), (int)reps, (int)batch, offset};
  return md_bench_maxdropout(&o, stdout);
}
