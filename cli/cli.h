/* Shared declarations of the maxdrop command-line tool. The CLI is the only
 * place that parses flags, prints and exits; it turns library status codes
 * into messages. */
#ifndef MD_CLI_H
#define MD_CLI_H

#include <signal.h>
#include <stdio.h>

#include "maxdrop/status.h"

/* Each subcommand: argv[0] is the subcommand name. Returns the exit code. */
int md_cmd_version(int argc, char **argv);
int md_cmd_apply(int argc, char **argv);
int md_cmd_bench(int argc, char **argv);
int md_cmd_visualize(int argc, char **argv);
int md_cmd_data(int argc, char **argv);
int md_cmd_train(int argc, char **argv);
int md_cmd_eval(int argc, char **argv);

/* Prints "maxdrop <cmd>: <message>" on stderr; returns exit code 1 (or 2 for
 * usage errors through md_cli_usage_error). */
int md_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int md_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a failed library call: "maxdrop <cmd>: <what>: <detail or strerror>". */
int md_cli_status_error(const char *cmd, const char *what, md_status st,
                        const md_errbuf *eb);

/* The value of flag `name` at argv[*i], given as "--flag value" (then *i
 * moves to the value) or "--flag=value"; NULL when argv[*i] is another flag.
 * Sets *missing when the flag is last and has no value. An '_' of argv[*i]
 * matches a '-' of name (--limit_test is --limit-test, as in train.py). */
const char *md_cli_flag_value(int argc, char **argv, int *i, const char *name, int *missing);

/* Splits argv[i] = "--flag=value" into its name (copied into `name`, at most
 * cap - 1 characters, each '_' turned into '-') and *value (NULL for
 * "--flag" alone). Returns name. */
const char *md_cli_split_flag(const char *arg, char *name, size_t cap, const char **value);

/* Strict number parsing for flag values; 0 on success, -1 on garbage. */
int md_cli_parse_double(const char *s, double *out);
int md_cli_parse_long(const char *s, long *out);
int md_cli_parse_u64(const char *s, unsigned long long *out);

/* Largest --threads value any subcommand accepts (libgomp crashes on far
 * larger teams). */
enum { MD_CLI_MAX_THREADS = 4096 };

/* Whether two paths name the same file, existing or not (the same inode, or
 * the same name in the same resolved folder). */
int md_cli_same_file(const char *a, const char *b);

/* Checks, before any work, that output `path` (given with option `flag`) can
 * be created: not a folder, and its folder exists. 0, or prints
 * "maxdrop <cmd>: <flag>: ..." and returns exit code 1. */
int md_cli_check_output(const char *cmd, const char *flag, const char *path);

/* Folders made by md_cli_mkdir_p, to be removed again when the command
 * that made them fails. */
enum { MD_CLI_MAX_MADE = 64 };
typedef struct md_cli_made_dirs {
  char path[4096];              /* the path given */
  int n;                        /* how many of its prefixes were created */
  size_t end[MD_CLI_MAX_MADE];  /* their lengths in path, shortest first */
} md_cli_made_dirs;

/* Creates folder path and its missing parents (mode 0755), recording in
 * *made each one this call created. 0, or an errno value (ENOTDIR when path
 * exists and is not a folder). */
int md_cli_mkdir_p(const char *path, md_cli_made_dirs *made);

/* Removes the folders *made records, deepest first, as long as they are
 * empty (a folder that received files stays, with its parents); then
 * forgets them. */
void md_cli_unmake_dirs(md_cli_made_dirs *made);

/* SIGINT and SIGTERM as they were before md_cli_catch_stop_signals. */
typedef struct md_cli_saved_signals {
  struct sigaction sigint, sigterm;
} md_cli_saved_signals;

/* Sends SIGINT and SIGTERM to handler (sigaction flags `flags`), saving the
 * previous dispositions in *saved. A signal ignored on entry (a shell's
 * background job ignores SIGINT) stays ignored. */
void md_cli_catch_stop_signals(void (*handler)(int), int flags, md_cli_saved_signals *saved);
void md_cli_restore_stop_signals(const md_cli_saved_signals *saved);

/* Sets the OpenMP thread count from --threads (value > 0) or leaves the
 * OMP_NUM_THREADS / default setting alone (value 0). */
void md_cli_set_threads(long threads);

#endif
