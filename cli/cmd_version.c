/* maxdrop version */
#include <string.h>

#include "cli.h"
#include "maxdrop/blas.h"
#include "maxdrop/version.h"

int md_cmd_version(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: maxdrop version\n\nPrints the version (the tool and the library it is built with share it)\n"
         "and the OpenBLAS kernel set the convolutions run on.");
    return 0;
  }
  if (argc > 1) return md_cli_usage_error("version", "unexpected argument '%s'", argv[1]);
  printf("maxdrop %s\n", md_version());
  printf("OpenBLAS kernels: %s\n", md_blas_core());
  return 0;
}
