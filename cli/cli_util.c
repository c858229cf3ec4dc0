/* Error reporting and flag-value parsing shared by the subcommands. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Whether arg starts with the option name, '_' in arg standing for '-' (the
 * reference train.py spells its options --batch_size, --n_holes...). */
static int starts_with_name(const char *arg, const char *name, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    const char c = arg[k] == '_' && k >= 2 ? '-' : arg[k];
    if (c != name[k]) return 0;
  }
  return 1;
}

const char *md_cli_flag_value(int argc, char **argv, int *i, const char *name, int *missing) {
  const size_t n = strlen(name);
  if (strlen(argv[*i]) < n || !starts_with_name(argv[*i], name, n)) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return NULL;
  }
  return argv[++*i];
}

const char *md_cli_split_flag(const char *arg, char *name, size_t cap, const char **value) {
  const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  if (len >= cap) len = cap - 1;
  memcpy(name, arg, len);
  name[len] = '\0';
  if (strncmp(name, "--", 2) == 0)
    for (size_t k = 2; k < len; ++k)
      if (name[k] == '_') name[k] = '-';
  *value = eq ? eq + 1 : NULL;
  return name;
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

/* The folder part of path ("." when there is none) into dir; -1 if too long. */
static int folder_of(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, cap, ".");
    return 0;
  }
  const size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= cap) return -1;
  memcpy(dir, path, n);
  dir[n] = '\0';
  return 0;
}

/* An absolute name for path: realpath of the file, or of its folder plus the
 * last component when the file does not exist yet. -1 when neither resolves. */
static int canonical(const char *path, char *out, size_t cap) {
  char dir[PATH_MAX], rd[PATH_MAX];
  if (realpath(path, rd)) {
    const int n = snprintf(out, cap, "%s", rd);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
  }
  if (folder_of(path, dir, sizeof dir) || !realpath(dir, rd)) return -1;
  const char *slash = strrchr(path, '/');
  const int n = snprintf(out, cap, "%s/%s", rd, slash ? slash + 1 : path);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int md_cli_same_file(const char *a, const char *b) {
  if (!a || !b) return 0;
  if (!strcmp(a, b)) return 1;
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
  if (canonical(a, ca, sizeof ca) || canonical(b, cb, sizeof cb)) return 0;
  return !strcmp(ca, cb);
}

int md_cli_check_output(const char *cmd, const char *flag, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return md_cli_error(cmd, "%s: cannot write %s: it is a folder", flag, path);
  char dir[PATH_MAX];
  if (folder_of(path, dir, sizeof dir))
    return md_cli_error(cmd, "%s: cannot write %s: path too long", flag, path);
  if (stat(dir, &st) != 0)
    return md_cli_error(cmd, "%s: cannot write %s: folder %s %s", flag, path, dir,
                        errno == ENOENT ? "does not exist" : strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return md_cli_error(cmd, "%s: cannot write %s: %s is not a folder", flag, path, dir);
  return 0;
}

int md_cli_mkdir_p(const char *path, md_cli_made_dirs *made) {
  made->n = 0;
  const size_t len = strlen(path);
  if (len >= sizeof made->path) return ENAMETOOLONG;
  memcpy(made->path, path, len + 1);
  char buf[sizeof made->path];
  memcpy(buf, path, len + 1);
  /* Each prefix that ends before a '/', then the whole path. */
  for (size_t i = 1; i <= len; ++i) {
    if (i < len && buf[i] != '/') continue;
    const char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0755) == 0) {
      if (made->n < MD_CLI_MAX_MADE) made->end[made->n++] = i;
    } else if (errno != EEXIST) {
      const int e = errno;
      buf[i] = saved;
      md_cli_unmake_dirs(made);
      return e;
    }
    buf[i] = saved;
  }
  struct stat sb;
  if (stat(path, &sb) != 0) return errno;
  return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

void md_cli_unmake_dirs(md_cli_made_dirs *made) {
  char buf[sizeof made->path];
  for (int k = made->n - 1; k >= 0; --k) {
    memcpy(buf, made->path, made->end[k]);
    buf[made->end[k]] = '\0';
    if (rmdir(buf) != 0) break;
  }
  made->n = 0;
}

void md_cli_catch_stop_signals(void (*handler)(int), int flags, md_cli_saved_signals *saved) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags;
  sigaction(SIGINT, NULL, &saved->sigint);
  sigaction(SIGTERM, NULL, &saved->sigterm);
  if (saved->sigint.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
  if (saved->sigterm.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
}

void md_cli_restore_stop_signals(const md_cli_saved_signals *saved) {
  sigaction(SIGINT, &saved->sigint, NULL);
  sigaction(SIGTERM, &saved->sigterm, NULL);
}

void md_cli_set_threads(long threads) {
  if (threads > 0) omp_set_num_threads((int)threads);
}
