/* The options of 'maxdrop train' (and what 'maxdrop eval' reads back): flags,
 * presets, config.json, and the library configurations built from them; the
 * data-set loading and the progress display shared by train and eval. */
#ifndef MD_CLI_TRAIN_OPTS_H
#define MD_CLI_TRAIN_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "maxdrop/cifar.h"
#include "maxdrop/image_folder.h"
#include "maxdrop/model.h"
#include "maxdrop/trainer.h"

enum { MD_OPT_PATH = 4096 };

typedef enum { MD_PRESET_NONE = 0, MD_PRESET_PAPER = 1, MD_PRESET_QUICK = 2 } md_preset;

typedef enum { MD_DATASET_CIFAR10 = 0, MD_DATASET_CIFAR100 = 1, MD_DATASET_FOLDER = 2 } md_dataset_kind;

/* Every setting of a run. Choices are stored as indices into their name
 * lists (see train_opts.c). */
typedef struct md_run_options {
  int preset;          /* md_preset */
  int dataset;         /* md_dataset_kind: 0 cifar10, 1 cifar100, 2 folder */
  int resize;          /* folder: resize images that are not 32 x 32 */
  int num_classes;     /* folder: its class count, once the data is read (not a flag) */
  int model;           /* 0 resnet18, 1 wideresnet */
  int width, depth, widen;
  int batch_size, epochs;
  double lr;
  int augment;
  int cutout, n_holes, length; /* length 0: 8 for CIFAR-100, else 16 */
  unsigned long long seed;
  double drop;         /* rate of MaxDropout / probability of Dropout */
  int reg;             /* 0 none, 1 maxdropout, 2 dropout */
  int maxdrop_random_rate, maxdrop_norm, maxdrop_stats, maxdrop_v2;
  int maxdrop_at_eval;
  int random_erasing;
  int n_milestones;
  int milestones[MD_LR_MAX_MILESTONES];
  double gamma;
  int scheduler_compat;
  double momentum, weight_decay;
  int nesterov;
  long threads;        /* 0: OpenMP's default */
  long long limit_train, limit_test; /* 0: every image */
  char data[MD_OPT_PATH]; /* "" : the search order */
  char out[MD_OPT_PATH];  /* "" : runs/<time>-<dataset>-<model>-<reg> */
  /* Not a flag: read from a run's config.json, the folder its data was found
   * in ("" when unknown). */
  char data_root[MD_OPT_PATH];
} md_run_options;

/* The paper's protocol (the defaults). */
void md_opts_defaults(md_run_options *o);
/* Sets every value a preset fixes. */
void md_opts_apply_preset(md_run_options *o, md_preset p);

/* Parses flags argv[1..argc-1] (argv[0] is the command) on top of `o`:
 * --preset first, then every other flag in order, so that explicit flags win
 * over the preset whatever their place. Flags that are not run options are
 * listed by the caller in `others` and receive their value there. Flag names
 * may use '_' for '-' (--batch_size, as the reference train.py) and
 * "--flag=value". `given` (may be NULL) receives the JSON names of the
 * options set explicitly, comma-separated. Returns 0, or an exit code after
 * printing the error. */
typedef struct md_other_flag {
  const char *name;   /* "--resume" */
  int takes_value;
  const char *value;  /* filled: the value, or "1" for a switch; NULL when absent */
} md_other_flag;

int md_opts_parse(md_run_options *o, const char *cmd, int argc, char **argv,
                  md_other_flag *others, int n_others, char *given, size_t given_cap);

/* Which options may be changed when resuming (their JSON names). */
int md_opts_resumable(const char *json_name);

/* Checks combinations (WRN depth 6n+4, etc.). 0 or an exit code after the
 * message. */
int md_opts_check(const md_run_options *o, const char *cmd);

/* The options as a JSON object (malloc'd text) and back. The object also
 * holds "num_classes" when known and, when class_names is not NULL, the
 * md_opts_num_classes(o) names as "class_names". */
char *md_opts_to_json(const md_run_options *o, const char *data_root, const char *version,
                      char *const *class_names);
/* 0, or -1 with a message in err. Reads num_classes for an image folder and
 * data_root when present. */
int md_opts_from_json(md_run_options *o, const char *text, char *err, size_t err_cap);
/* The "class_names" list of a configuration: *names (malloc'd strings in a
 * malloc'd array, *count of them), or NULL and 0 when it has none. 0, or -1
 * with a message in err. */
int md_opts_class_names_from_json(const char *text, char ***names, int *count, char *err,
                                  size_t err_cap);

/* Library configurations. */
md_model_config md_opts_model_config(const md_run_options *o);
md_train_config md_opts_train_config(const md_run_options *o);
const char *md_opts_dataset_name(const md_run_options *o);  /* "cifar10" */
/* 10, 100, or the folder's count (0 before the folder is read). */
int md_opts_num_classes(const md_run_options *o);
/* "CIFAR-10", "CIFAR-100", "image folder of 3 classes" */
void md_opts_describe_data(const md_run_options *o, char *buf, size_t cap);
const char *md_opts_model_name(const md_run_options *o);    /* "resnet18" */
const char *md_opts_reg_name(const md_run_options *o);      /* "maxdropout" */
int md_opts_cutout_length(const md_run_options *o);
/* "ResNet-18 width 16, MaxDropout rate 0.3" */
void md_opts_describe(const md_run_options *o, char *buf, size_t cap);

/* Prints the option list of 'maxdrop train --help'. */
void md_opts_print_help(FILE *f);

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct md_cli_dataset {
  md_cifar cifar;          /* CIFAR-10 / CIFAR-100 */
  md_image_folder folder;  /* --dataset folder */
  int num_classes;
  char **class_names;      /* num_classes names (owned by cifar or folder), or NULL */
  char split_dir[MD_OPT_PATH + 16]; /* folder: the split's folder (DIR/train, DIR/test) */
  int32_t *labels;         /* the first data.n labels */
  md_train_data data;      /* the first `limit` images (all when 0) */
} md_cli_dataset;

/* Loads one split of the run's data set (o->dataset, o->resize), keeping the
 * first `limit` images (0: all). CIFAR: the data is found by
 * md_cifar_find_data with `dir`; an image folder: `dir`/train or `dir`/test
 * (dir required). root receives the data folder used. Notes on resized and
 * skipped files go to stderr. 0, or an exit code after the message. */
int md_cli_load_dataset(const char *cmd, const md_run_options *o, const char *dir,
                        md_cifar_split split, long long limit, md_cli_dataset *out, char *root,
                        size_t root_cap);
void md_cli_dataset_free(md_cli_dataset *d);

/* The data folder of a command on an existing run (eval, train --resume)
 * given no --data: the folder the run named (--data) or, when it searched,
 * the one where it found its data, as long as that folder still holds the
 * data set; NULL (the usual search) otherwise, with a note on stderr when a
 * recorded folder no longer holds it. An image-folder run always gets its
 * folder back. */
const char *md_cli_run_data_dir(const char *cmd, const md_run_options *o);

/* Whether two lists of class names (each in strcmp order) are the same. 0,
 * or an exit code after a message naming the first difference; a_what and
 * b_what say where each list comes from. */
int md_cli_same_classes(const char *cmd, char *const *a, int na, const char *a_what,
                        char *const *b, int nb, const char *b_what);

/* Checks an image folder split against the run that config_text (its
 * config.json, from `where`) describes: the class count, and the class
 * names when the configuration lists them. 0, or an exit code after the
 * message. */
int md_cli_check_run_classes(const char *cmd, const char *config_text, const char *where,
                             const md_run_options *o, const md_cli_dataset *d);

/* ------------------------------------------------------------------------ */
/* Progress display                                                          */
/* ------------------------------------------------------------------------ */

typedef enum { MD_PROGRESS_AUTO = 0, MD_PROGRESS_BAR, MD_PROGRESS_LINES, MD_PROGRESS_OFF } md_progress_mode;

typedef struct md_progress {
  FILE *f;
  int bar;             /* 1: one live line (a terminal); 0: periodic lines */
  int off;
  double interval;     /* seconds between plain lines */
  double last_print;
  int64_t batch, n_train, n_test;
  double eval_rate;    /* images/s of the last evaluation, 0 when unknown */
  double train_rate;   /* images/s of the latest training progress */
  int bar_open;        /* a live line is on screen */
} md_progress;

void md_progress_init(md_progress *p, md_progress_mode mode, int64_t batch, int64_t n_train,
                      int64_t n_test);
/* For md_train_hooks: user = the md_progress. */
void md_progress_on_progress(void *user, const md_train_progress *tp);
void md_progress_on_epoch(void *user, const md_epoch_result *r);
/* Ends a live line (before other output). */
void md_progress_finish_line(md_progress *p);

#endif
