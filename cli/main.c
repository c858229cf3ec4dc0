/* maxdrop: the command-line front end. Dispatches to one md_cmd_<name> per
 * subcommand (cli/cmd_<name>.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "maxdrop/blas.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"train", md_cmd_train, "train a network on CIFAR-10/100 (paper protocol or a preset)"},
    {"eval", md_cmd_eval, "test accuracy and per-class accuracy of a checkpoint"},
    {"data", md_cmd_data, "fetch and verify the CIFAR datasets"},
    {"apply", md_cmd_apply, "apply a regularizer to a .npy tensor (forward, backward)"},
    {"visualize", md_cmd_visualize, "draw the paper's Figure 1 (Dropout vs MaxDropout) as a PNG"},
    {"bench", md_cmd_bench, "measure kernel throughput (JSON lines)"},
    {"version", md_cmd_version, "print the version"},
};
enum { n_commands = sizeof commands / sizeof commands[0] };

static void usage(FILE *f) {
  fputs("usage: maxdrop <command> [options]\n\n"
        "MaxDropout (Santos et al., ICPR 2020) and CNN training in plain C.\n\n"
        "commands:\n",
        f);
  for (int i = 0; i < n_commands; ++i)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\n'maxdrop <command> --help' (or 'maxdrop help <command>') describes a command's\n"
        "options.\n",
        f);
}

/* OpenBLAS chooses its kernels when it loads; if it fell back to generic
 * ones on a CPU it does not know (maxdrop/blas.h), run this program again
 * with OPENBLAS_CORETYPE naming the right ones. OPENBLAS_CORETYPE set (also
 * by the first run) or MAXDROP_BLAS_AUTO=0 leaves everything as it is; if
 * the re-execution fails, the run goes on with the slower kernels. */
static void select_blas_kernels(char **argv) {
  const char *opt = getenv("MAXDROP_BLAS_AUTO");
  if (opt && !strcmp(opt, "0")) return;
  const char *core = md_blas_better_core();
  if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");
}

/* Output that could not be written (a full disk, a closed pipe) fails the
 * command: exit status 1 and a message, never a silent success. */
static int finish(int rc) {
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "maxdrop: cannot write the output: %s\n",
            errno ? strerror(errno) : "write error");
    return rc ? rc : 1;
  }
  return rc;
}

static int dispatch(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "help")) {
    if (argc > 3) {
      fprintf(stderr, "maxdrop help: one command at a time, not '%s'\n\n", argv[3]);
      usage(stderr);
      return 2;
    }
    if (argc > 2 && strcmp(argv[2], "help") != 0 && strcmp(argv[2], "--help") != 0 &&
        strcmp(argv[2], "-h") != 0) { /* maxdrop help train = train --help */
      char help[] = "--help";
      char *args[] = {argv[2], help, NULL};
      for (int i = 0; i < n_commands; ++i)
        if (!strcmp(argv[2], commands[i].name)) return commands[i].run(2, args);
      fprintf(stderr, "maxdrop: unknown command '%s'\n\n", argv[2]);
      usage(stderr);
      return 2;
    }
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) return md_cmd_version(1, argv + 1);
  for (int i = 0; i < n_commands; ++i)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "maxdrop: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

int main(int argc, char **argv) {
  select_blas_kernels(argv);
  return finish(dispatch(argc, argv));
}
