/* Internal pieces of the trainer (maxdrop/trainer.h) shared between its files. */
#ifndef MD_TRAIN_TRAINER_INTERNAL_H
#define MD_TRAIN_TRAINER_INTERNAL_H

#include <stdint.h>

#include "maxdrop/loader.h"
#include "maxdrop/trainer.h"

/* Seconds on a monotonic clock. */
double md_train_now(void);

/* Index of the first largest of k values (ties: the first; NaN never wins
 * over a number; all NaN: 0). */
int md_train_argmax(const float *v, int k);

/* Description of an evaluation pass for the progress callback. */
typedef struct md_eval_pass {
  int epoch, epochs; /* reported in md_train_progress */
  double lr;
  int64_t *class_correct; /* (classes) or NULL; zeroed by the pass */
  int64_t *class_total;   /* (classes) or NULL */
} md_eval_pass;

/* One evaluation of `model` over every batch of `ld` (an evaluation-mode
 * loader). Reports each batch through hooks->on_progress; returns MD_OK with
 * *stopped = 1 when hooks->stop was set (the results are then partial). */
md_status md_train_eval_pass(md_model *model, md_loader *ld, const md_eval_pass *pass,
                             const md_train_hooks *hooks, md_eval_result *out, int *stopped,
                             md_errbuf *eb);

/* Run files, each written atomically. */
md_status md_train_write_metrics(const char *path, const md_epoch_result *h, int n,
                                 md_errbuf *eb);

/* What summary.json reports. */
typedef struct md_train_summary {
  const char *state;       /* md_train_state_name */
  const char *message;     /* "" or a sentence (divergence) */
  int epochs, epochs_done;
  int64_t step, steps_per_epoch, global_step;
  int64_t n_train, n_test;
  const char *model_json;  /* the model configuration, a JSON object */
  const char *checkpoint;  /* file name of the checkpoint */
  const md_epoch_result *history;
} md_train_summary;

md_status md_train_write_summary(const char *path, const md_train_summary *s, md_errbuf *eb);

/* The history as a JSON array (cJSON_free the result), or NULL when out of
 * memory. Numbers round-trip exactly. */
char *md_train_history_json(const md_epoch_result *h, int n);

/* Parses a history array of exactly n entries into h. MD_ERR_FORMAT naming
 * `what` otherwise. */
md_status md_train_history_parse(const char *text, int n, md_epoch_result *h,
                                 const char *what, md_errbuf *eb);

#endif
