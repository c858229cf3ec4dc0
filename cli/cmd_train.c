#define _XOPEN_SOURCE 700 /* realpath */
/* maxdrop train: trains a network on CIFAR-10/100 or an image folder with the paper's protocol
 * (or a preset), writing a run folder; stops cleanly on SIGINT/SIGTERM and
 * resumes exactly with --resume. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "cli.h"
#include "maxdrop/atomic_file.h"
#include "maxdrop/version.h"
#include "train_opts.h"

#define CMD "train"

enum { EXIT_DIVERGED = 3 };

static const char usage_head[] =
    "usage: maxdrop train [--preset paper|quick] [options]\n"
    "       maxdrop train --resume DIR [--epochs N] [--threads N] [--data DIR]\n"
    "\n"
    "Trains ResNet-18 or a Wide-ResNet on CIFAR-10/100 or on your own images\n"
    "(--dataset folder --data DIR) with MaxDropout, Dropout or no regularizer,\n"
    "evaluating on the test set after every epoch. The run folder\n"
    "receives config.json (every setting), metrics.csv (one row per epoch),\n"
    "summary.json and checkpoint.safetensors (after every epoch), each written\n"
    "atomically. Ctrl-C (SIGINT) or SIGTERM stops after the current step and saves\n"
    "a checkpoint; --resume continues bit for bit as if never stopped (same thread\n"
    "count). A NaN or infinite loss stops the run, naming the epoch and step.\n"
    "\n"
    "run folder and progress:\n"
    "  --out DIR             run folder (default runs/<date-time>-<dataset>-<model>-<reg>)\n"
    "  --resume DIR          continue the run in DIR (its config.json); only --epochs\n"
    "                        (to extend it), --threads and --data may be given\n"
    "  --progress MODE       auto (default: a live bar on a terminal, plain lines\n"
    "                        every 10 s otherwise) | bar | lines | off\n"
    "  --dry-run             print the resolved configuration (config.json) and exit\n"
    "  -h, --help            show this help\n"
    "testing aids:\n"
    "  --inject-nan-at K     make the input of SGD step K (1-based, counted over the\n"
    "                        run) NaN, to exercise the divergence stop\n"
    "  --stop-at K           stop as on SIGINT after SGD step K; 'eval:E' stops during\n"
    "                        epoch E's evaluation\n"
    "\n";

static void print_usage(FILE *f) {
  fputs(usage_head, f);
  md_opts_print_help(f);
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) { stop_signal = sig; }

/* ------------------------------------------------------------------------ */
/* Run folder                                                                */
/* ------------------------------------------------------------------------ */

/* Replaces a relative path in buf (capacity cap) by its absolute form; leaves
 * "" , absolute paths and paths that cannot be resolved as they are. */
static void absolute_path(char *buf, size_t cap) {
  if (!buf[0] || buf[0] == '/') return;
  char *abs = realpath(buf, NULL);
  if (abs && strlen(abs) < cap) snprintf(buf, cap, "%s", abs);
  free(abs);
}

static int file_exists(const char *dir, const char *name) {
  char p[MD_OPT_PATH + 64];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat sb;
  return stat(p, &sb) == 0;
}

static char *read_text(const char *path, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t n = 0, c = 0;
  for (;;) {
    if (n + 4096 + 1 > c) {
      c = c ? 2 * c : 8192;
      char *nb = realloc(buf, c);
      if (!nb) {
        free(buf);
        fclose(f);
        snprintf(err, cap, "out of memory reading %s", path);
        return NULL;
      }
      buf = nb;
    }
    const size_t r = fread(buf + n, 1, 4096, f);
    n += r;
    if (r < 4096) break;
  }
  const int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    snprintf(err, cap, "cannot read %s", path);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static int write_text(const char *dir, const char *name, const char *text) {
  char p[MD_OPT_PATH + 64];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  md_errbuf eb;
  md_atomic_file af;
  md_status st = md_atomic_open(&af, p, &eb);
  if (st == MD_OK) {
    fputs(text, af.f);
    fputc('\n', af.f);
    st = md_atomic_commit(&af, &eb);
  }
  if (st != MD_OK) return md_cli_status_error(CMD, "cannot write the run configuration", st, &eb);
  return 0;
}

static void close_fd(int fd) {
  if (fd >= 0) close(fd);
}

/* Holds an exclusive lock on the run folder for as long as this process
 * runs (the kernel drops it when the process ends, however it ends): a
 * second 'maxdrop train' on the same folder is refused instead of writing
 * over the first one's files. 0, or an exit code after the message. */
static int lock_run_dir(const char *dir, int *fd_out) {
  const int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return md_cli_error(CMD, "cannot open the run folder %s: %s", dir, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return md_cli_error(CMD, "%s is in use by another 'maxdrop train' (wait for it to end, "
                          "or stop it with Ctrl-C or SIGTERM)", dir);
    return md_cli_error(CMD, "cannot lock the run folder %s: %s", dir, strerror(e));
  }
  *fd_out = fd;
  return 0;
}

static void default_out(const md_run_options *o, char *out, size_t cap) {
  char stamp[32];
  const time_t now = time(NULL);
  struct tm tmv;
  localtime_r(&now, &tmv);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
  snprintf(out, cap, "runs/%s-%s-%s-%s", stamp, md_opts_dataset_name(o), md_opts_model_name(o),
           md_opts_reg_name(o));
  struct stat sb;
  const size_t base = strlen(out);
  for (int k = 2; stat(out, &sb) == 0 && k < 1000; ++k) snprintf(out + base, cap - base, "-%d", k);
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct train_ui {
  md_progress progress;
  long long nan_at;  /* global step (1-based) whose input becomes NaN; 0 = never */
  long long stop_at; /* global step after which to stop; 0 = never */
  int stop_eval;     /* epoch (1-based) whose evaluation is stopped; 0 = never */
  int64_t steps_per_epoch;
} train_ui;

static void ui_progress(void *user, const md_train_progress *p) {
  train_ui *ui = user;
  md_progress_on_progress(&ui->progress, p);
  if (p->phase == MD_PHASE_EVAL && ui->stop_eval == p->epoch + 1 && p->step == 1)
    stop_signal = SIGINT;
}

static void ui_epoch(void *user, const md_epoch_result *r) {
  md_progress_on_epoch(&((train_ui *)user)->progress, r);
}

static void ui_batch(void *user, int epoch, int64_t step, float *images, int32_t *labels,
                     int64_t n) {
  train_ui *ui = user;
  (void)labels;
  const long long global = (long long)epoch * ui->steps_per_epoch + step + 1;
  if (ui->nan_at > 0 && global == ui->nan_at)
    for (int64_t i = 0; i < n * 3 * 32 * 32; ++i) images[i] = NAN;
  if (ui->stop_at > 0 && global == ui->stop_at) stop_signal = SIGINT;
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

enum { O_RESUME, O_PROGRESS, O_NAN, O_STOP, O_DRY, O_HELP, N_OTHERS };

int md_cmd_train(int argc, char **argv) {
  md_other_flag others[N_OTHERS] = {
      {"--resume", 1, NULL},  {"--progress", 1, NULL}, {"--inject-nan-at", 1, NULL},
      {"--stop-at", 1, NULL}, {"--dry-run", 0, NULL},  {"--help", 0, NULL}};
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      print_usage(stdout);
      return 0;
    }

  md_run_options o;
  md_opts_defaults(&o);
  char given[1024];
  int rc = md_opts_parse(&o, CMD, argc, argv, others, N_OTHERS, given, sizeof given);
  if (rc) return rc;

  md_progress_mode pmode = MD_PROGRESS_AUTO;
  if (others[O_PROGRESS].value) {
    const char *v = others[O_PROGRESS].value;
    if (!strcmp(v, "auto")) pmode = MD_PROGRESS_AUTO;
    else if (!strcmp(v, "bar")) pmode = MD_PROGRESS_BAR;
    else if (!strcmp(v, "lines")) pmode = MD_PROGRESS_LINES;
    else if (!strcmp(v, "off")) pmode = MD_PROGRESS_OFF;
    else return md_cli_usage_error(CMD, "--progress must be auto, bar, lines or off, not '%s'", v);
  }
  long long nan_at = 0;
  if (others[O_NAN].value) {
    long v;
    if (md_cli_parse_long(others[O_NAN].value, &v) != 0 || v < 1)
      return md_cli_usage_error(CMD, "--inject-nan-at needs a step number >= 1, not '%s'",
                                others[O_NAN].value);
    nan_at = v;
  }
  long long stop_at = 0;
  int stop_eval = 0;
  if (others[O_STOP].value) {
    const char *v = others[O_STOP].value;
    long k;
    const int is_eval = !strncmp(v, "eval:", 5);
    if (md_cli_parse_long(is_eval ? v + 5 : v, &k) != 0 || k < 1 || k > 1000000000L)
      return md_cli_usage_error(CMD, "--stop-at needs a step number >= 1 or eval:EPOCH, not '%s'", v);
    if (is_eval) stop_eval = (int)k;
    else stop_at = k;
  }

  const char *resume = others[O_RESUME].value;
  int data_given = 0, lock_fd = -1;
  md_cli_made_dirs made = {.n = 0};
  char run_dir[MD_OPT_PATH];
  char *config_text = NULL;
  char *resume_text = NULL; /* the run's config.json when resuming */
  if (resume) {
    if (!*resume) return md_cli_usage_error(CMD, "--resume needs a run folder");
    /* Only a few options may change on resuming. */
    char *save = NULL;
    for (char *g = strtok_r(given, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
      if (!strcmp(g, "data")) data_given = 1;
      if (!md_opts_resumable(g)) {
        for (char *c = g; *c; ++c)
          if (*c == '_') *c = '-';
        return md_cli_usage_error(CMD,
                                  "--resume continues a run with its own settings; only --epochs, "
                                  "--threads and --data may be given (not '--%s')",
                                  g);
      }
    }
    char path[MD_OPT_PATH + 64], err[MD_OPT_PATH + 512];
    snprintf(path, sizeof path, "%s/config.json", resume);
    char *text = read_text(path, err, sizeof err);
    if (!text)
      return md_cli_error(CMD, "cannot resume: %s (is %s a run folder of 'maxdrop train'?)", err,
                          resume);
    if (md_opts_from_json(&o, text, err, sizeof err) != 0) {
      free(text);
      return md_cli_error(CMD, "cannot resume: %s: %s", path, err);
    }
    resume_text = text;
    rc = md_opts_parse(&o, CMD, argc, argv, others, N_OTHERS, NULL, 0);
    if (rc) {
      free(resume_text);
      return rc;
    }
    snprintf(run_dir, sizeof run_dir, "%s", resume);
  }
  if ((rc = md_opts_check(&o, CMD)) || others[O_DRY].value) {
    if (!rc) {
      char *text = md_opts_to_json(&o, o.data, md_version(), NULL);
      if (text) puts(text);
      else rc = md_cli_error(CMD, "out of memory");
      free(text);
    }
    free(resume_text);
    return rc;
  }
  md_cli_set_threads(o.threads);

  /* Data. */
  md_cli_dataset train, test;
  memset(&train, 0, sizeof train);
  memset(&test, 0, sizeof test);
  md_model *model = NULL;
  md_trainer *tr = NULL;
  md_errbuf eb;
  md_errbuf_clear(&eb);
  char root[MD_OPT_PATH];
  if (resume && (rc = lock_run_dir(run_dir, &lock_fd))) goto done;
  /* A resumed run reads the data it was started with, unless --data is given. */
  const char *data_dir = resume && !data_given ? md_cli_run_data_dir(CMD, &o) : o.data;
  if ((rc = md_cli_load_dataset(CMD, &o, data_dir, MD_CIFAR_TRAIN, o.limit_train, &train, root,
                                sizeof root)) ||
      (rc = md_cli_load_dataset(CMD, &o, data_dir, MD_CIFAR_TEST, o.limit_test, &test, NULL, 0)))
    goto done;
  if (o.dataset == MD_DATASET_FOLDER) {
    /* The test classes must be the training classes; a resumed run keeps its own. */
    if ((rc = md_cli_same_classes(CMD, train.class_names, train.num_classes, train.split_dir,
                                  test.class_names, test.num_classes, test.split_dir)))
      goto done;
    if (resume) {
      char where[MD_OPT_PATH + 32];
      snprintf(where, sizeof where, "%s/config.json", resume);
      if ((rc = md_cli_check_run_classes(CMD, resume_text, where, &o, &train))) goto done;
    } else {
      o.num_classes = train.num_classes;
    }
  }
  rc = 1;
  /* The run records absolute data paths: eval and --resume may run elsewhere. */
  absolute_path(o.data, sizeof o.data);
  absolute_path(root, sizeof root);

  /* Run folder and config.json. */
  if (!resume) {
    if (o.out[0]) snprintf(run_dir, sizeof run_dir, "%s", o.out);
    else default_out(&o, run_dir, sizeof run_dir);
    const int e = md_cli_mkdir_p(run_dir, &made);
    if (e) {
      md_cli_error(CMD, "cannot create the run folder %s: %s", run_dir, strerror(e));
      goto done;
    }
    /* Locked first: a run in progress is named as such. Then no file a run
     * writes may be there already (a run, or files of the user's). */
    if (lock_run_dir(run_dir, &lock_fd)) goto done;
    if (file_exists(run_dir, "config.json") || file_exists(run_dir, MD_TRAIN_CHECKPOINT_FILE)) {
      md_cli_error(CMD, "%s already holds a run; continue it with 'maxdrop train --resume %s' or "
                   "choose another --out", run_dir, run_dir);
      goto done;
    }
    static const char *const run_files[] = {"metrics.csv", "summary.json"};
    for (int k = 0; k < 2; ++k)
      if (file_exists(run_dir, run_files[k])) {
        md_cli_error(CMD, "%s already holds a %s that a new run would replace; choose another "
                     "--out", run_dir, run_files[k]);
        goto done;
      }
    snprintf(o.out, sizeof o.out, "%s", run_dir);
  }
  config_text = md_opts_to_json(&o, root, md_version(),
                                o.dataset == MD_DATASET_FOLDER ? train.class_names : NULL);
  if (!config_text) {
    md_cli_error(CMD, "out of memory");
    goto done;
  }
  /* Model and trainer; config.json is written once they exist (a run that
   * cannot start leaves nothing behind) and, when resuming, once the
   * checkpoint is accepted. */
  const md_model_config mc = md_opts_model_config(&o);
  md_status st = md_model_config_check(&mc, &eb);
  if (st == MD_OK) st = md_model_create(&mc, o.batch_size, o.seed, &model, &eb);
  if (st != MD_OK) {
    md_cli_status_error(CMD, "cannot build the model", st, &eb);
    goto done;
  }
  md_train_config tc = md_opts_train_config(&o);
  tc.run_dir = run_dir;
  const md_st_meta extra[1] = {{"config", config_text}};
  tc.extra_meta = extra;
  tc.n_extra_meta = 1;
  st = md_trainer_create(&tr, &tc, model, &train.data, &test.data, &eb);
  if (st != MD_OK) {
    md_cli_status_error(CMD, "cannot set up training", st, &eb);
    goto done;
  }
  if (!resume) {
    if (write_text(run_dir, "config.json", config_text)) goto done;
    made.n = 0; /* the folder is the run's now */
  } else {
    if (file_exists(run_dir, MD_TRAIN_CHECKPOINT_FILE)) {
      st = md_trainer_resume(tr, md_trainer_checkpoint_path(tr), &eb);
      if (st != MD_OK) {
        md_cli_status_error(CMD, "cannot resume", st, &eb);
        goto done;
      }
    } else if (file_exists(run_dir, "metrics.csv")) {
      md_cli_error(CMD, "%s has no %s but its metrics.csv records finished epochs: the "
                   "checkpoint was lost, so the run cannot continue; start a new run (--out)",
                   run_dir, MD_TRAIN_CHECKPOINT_FILE);
      goto done;
    } else {
      fprintf(stderr, "maxdrop train: %s has no checkpoint yet; starting its first epoch\n",
              run_dir);
    }
    if (write_text(run_dir, "config.json", config_text)) goto done;
  }

  char desc[256], data_desc[128];
  md_opts_describe(&o, desc, sizeof desc);
  md_opts_describe_data(&o, data_desc, sizeof data_desc);
  const int threads = omp_get_max_threads();
  fprintf(stderr,
          "maxdrop train: %s (%lld parameters), %s %lld training / %lld test images from %s\n"
          "  %d epoch%s, batch %d, lr %g, %d thread%s%s; run folder %s\n",
          desc, (long long)md_model_param_count(model), data_desc,
          (long long)train.data.n, (long long)test.data.n, root, o.epochs, o.epochs == 1 ? "" : "s",
          o.batch_size, o.lr, threads, threads == 1 ? "" : "s",
          o.preset ? (o.preset == MD_PRESET_QUICK ? ", preset quick" : ", preset paper") : "",
          run_dir);
  if (resume)
    fprintf(stderr, "  resuming after %d epoch%s and %lld step%s of the next\n",
            md_trainer_epochs_done(tr), md_trainer_epochs_done(tr) == 1 ? "" : "s",
            (long long)md_trainer_step_in_epoch(tr),
            md_trainer_step_in_epoch(tr) == 1 ? "" : "s");

  train_ui ui;
  md_progress_init(&ui.progress, pmode, o.batch_size, train.data.n, test.data.n);
  ui.nan_at = nan_at;
  ui.stop_at = stop_at;
  ui.stop_eval = stop_eval;
  ui.steps_per_epoch = md_trainer_steps_per_epoch(tr);
  md_train_hooks hooks = {&ui, ui_progress, ui_epoch, ui_batch, &stop_signal};
  md_cli_saved_signals saved;
  stop_signal = 0;
  /* SA_RESETHAND: a second signal ends the process at once (files are
   * written atomically, so the previous checkpoint survives). */
  md_cli_catch_stop_signals(on_signal, SA_RESETHAND, &saved);
  st = md_trainer_run(tr, &hooks, &eb);
  md_cli_restore_stop_signals(&saved);
  md_progress_finish_line(&ui.progress);

  int n_hist = 0;
  const md_epoch_result *hist = md_trainer_history(tr, &n_hist);
  if (st == MD_ERR_NUMERIC) {
    md_cli_error(CMD, "training diverged: %s", eb.msg);
    if (n_hist > 0)
      fprintf(stderr, "The last good checkpoint (after epoch %d) is %s.\n", n_hist,
              md_trainer_checkpoint_path(tr));
    else
      fprintf(stderr, "No epoch was completed, so there is no checkpoint.\n");
    fprintf(stderr, resume ? "A resumed run keeps its settings: start a new run (--out) with a "
                             "smaller --learning-rate.\n"
                           : "Try a smaller --learning-rate.\n");
    rc = EXIT_DIVERGED;
    goto done;
  }
  if (st != MD_OK) {
    md_cli_status_error(CMD, "training failed", st, &eb);
    goto done;
  }
  if (md_trainer_state(tr) == MD_TRAIN_STOPPED) {
    const int sig = stop_signal ? stop_signal : SIGINT;
    const int64_t step = md_trainer_step_in_epoch(tr), steps = md_trainer_steps_per_epoch(tr);
    const int e = md_trainer_epochs_done(tr);
    char where[128];
    if (step == 0) snprintf(where, sizeof where, "at the end of epoch %d", e);
    else if (step == steps)
      snprintf(where, sizeof where, "in epoch %d, before its evaluation", e + 1);
    else
      snprintf(where, sizeof where, "in epoch %d after step %lld of %lld", e + 1,
               (long long)step, (long long)steps);
    fprintf(stderr,
            "maxdrop train: stopped by %s %s; checkpoint saved in %s\n"
            "Resume with: maxdrop train --resume %s\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", where, md_trainer_checkpoint_path(tr), run_dir);
    rc = 128 + sig;
    goto done;
  }
  if (n_hist > 0) {
    const md_epoch_result *last = &hist[n_hist - 1];
    printf("final test error %.2f%% (accuracy %.2f%%) after %d epoch%s; run files in %s\n",
           100.0 * (1.0 - last->test_acc), 100.0 * last->test_acc, n_hist, n_hist == 1 ? "" : "s",
           run_dir);
  }
  rc = 0;

done:
  /* A new run that failed before it started leaves no folder it created. */
  close_fd(lock_fd);
  md_cli_unmake_dirs(&made);
  md_trainer_free(tr);
  md_model_free(model);
  free(config_text);
  free(resume_text);
  md_cli_dataset_free(&train);
  md_cli_dataset_free(&test);
  return rc;
}
