/* Error reporting and flag-value parsing shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include <omp.h>

#include "cli.h"

static int vreport(const char *cmd, int code, const char *fmt, va_list ap) {
  fprintf(stderr, "maxdrop%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  return code;
}

int md_cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int rc = vreport(cmd, 1, fmt, ap);
  va_end(ap);
  return rc;
}

int md_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(cmd, 2, fmt, ap);
  va_end(ap);
  fprintf(stderr, "Try 'maxdrop %s --help'.\n", cmd ? cmd : "");
  return 2;
}

int md_cli_status_error(const char *cmd, const char *what, md_status st,
                        const md_errbuf *eb) {
  const char *detail = (eb && eb->msg[0]) ? eb->msg : md_strerror(st);
  return md_cli_error(cmd, "%s: %s", what, detail);
}

int md_cli_parse_double(const char *s, double *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  const double v = strtod(s, &end);
  if (*end != '\0' || errno == ERANGE || isnan(v)) return -1;
  *out = v;
  return 0;
}

int md_cli_parse_long(const char *s, long *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  const long v = strtol(s, &end, 10);
  if (*end != '\0' || errno == ERANGE) return -1;
  *out = v;
  return 0;
}

int md_cli_parse_u64(const char *s, unsigned long long *out) {
  if (!s || !*s || *s == '-') return -1;
  char *end;
  errno = 0;
  const unsigned long long v = strtoull(s, &end, 10);
  if (*end != '\0' || errno == ERANGE) return -1;
  *out = v;
  return 0;
}

void md_cli_set_threads(long threads) {
  if (threads > 0) omp_set_num_threads((int)threads);
}
