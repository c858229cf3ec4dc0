/* maxdrop/trainer.h - the training loop: epochs, evaluation, checkpoints,
 * run files, progress callbacks, stopping and exact resuming.
 *
 * One epoch e (0-based) is:
 *   1. training: the learning rate lr(e) of the MultiStepLR schedule
 *      (maxdrop/lr_schedule.h, standard or reference stepping); every batch
 *      of the training loader's epoch e (maxdrop/loader.h: shuffled, augmented,
 *      Cutout / RandomErasing as configured) goes through zero_grad, a
 *      training forward, the loss, a check that the loss is finite, backward
 *      and one SGD step (maxdrop/model.h);
 *   2. evaluation on the whole test set (evaluation mode, dataset order,
 *      batches of batch_size);
 *   3. an md_epoch_result appended to the history, then, when a run folder
 *      is set, its files rewritten (each atomically, maxdrop/atomic_file.h):
 *        checkpoint.safetensors  everything needed to continue (below)
 *        metrics.csv             one row per completed epoch
 *        summary.json            where the run stands and its latest results
 *
 * The library never prints: progress is reported to the caller's callbacks
 * (md_train_hooks), which may render it.
 *
 * Stopping. The caller may set *hooks->stop (e.g. from a SIGINT handler)
 * at any time. The trainer finishes the step in progress, writes a checkpoint
 * of exactly that point and returns MD_OK with md_trainer_state() ==
 * MD_TRAIN_STOPPED. A stop during evaluation abandons the evaluation; the
 * checkpoint then holds the state from the end of that epoch's training, and
 * resuming runs the evaluation again from its start.
 *
 * Divergence. A training loss that is NaN or infinite stops the run before
 * its backward pass and SGD step: md_trainer_run returns MD_ERR_NUMERIC with
 * a message naming the epoch and step (both 1-based in the message), the
 * state becomes MD_TRAIN_DIVERGED, summary.json says so, and the checkpoint
 * of the last completed epoch is left as it was.
 *
 * Resuming (md_trainer_resume) is exact: a run stopped at any step and
 * resumed with the same configuration, data and thread count produces the
 * same parameters, statistics and metrics, bit for bit, as a run that was
 * never stopped. The checkpoint holds the model's parameters, BatchNorm
 * statistics and counters, the SGD momentum buffers and step count, each
 * regularizer layer's random stream (md_model_save with the optimizer), and
 * the trainer's position: epochs completed, the batches done of the next
 * epoch, the partial epoch's loss sum and correct count, and the history.
 * The data order and augmentation streams of an epoch are functions of
 * (seed, epoch) (maxdrop/loader.h), so a mid-epoch resume restarts the
 * loader at that epoch and regenerates (and skips) the batches already
 * trained on; an epoch-boundary resume simply starts the next epoch. A
 * process killed without the chance to stop (SIGKILL, power loss) resumes from
 * the last checkpoint written, normally the end of the last completed epoch,
 * and redoes the rest: the result is still the same, bit for bit.
 *
 * Checkpoint metadata (besides maxdrop/checkpoint.h's "format", "model",
 * "epoch", "lr", "optimizer", "optimizer.steps", "lr_schedule"): the
 * MD_TRAIN_KEY_* keys below and the caller's extra entries. */
#ifndef MAXDROP_TRAINER_H
#define MAXDROP_TRAINER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/lr_schedule.h"
#include "maxdrop/model.h"
#include "maxdrop/random_erasing.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/sgd.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Trainer metadata keys of a checkpoint (values as maxdrop/checkpoint.h
 * formats numbers; JSON objects as text). */
#define MD_TRAIN_KEY_STEP "trainer.step"            /* batches done of epoch "epoch" */
#define MD_TRAIN_KEY_STEPS "trainer.steps_per_epoch"
#define MD_TRAIN_KEY_LOSS_SUM "trainer.loss_sum"    /* sum of batch loss * batch size */
#define MD_TRAIN_KEY_CORRECT "trainer.correct"      /* correct predictions so far */
#define MD_TRAIN_KEY_SEEN "trainer.seen"            /* images trained on so far */
#define MD_TRAIN_KEY_SECONDS "trainer.seconds"      /* seconds spent on the partial epoch */
#define MD_TRAIN_KEY_DATA "trainer.data"            /* seed, batch, sizes, augmentation */
#define MD_TRAIN_KEY_HISTORY "trainer.history"      /* JSON array of epoch results */

/* Names of the run folder's files. */
#define MD_TRAIN_CHECKPOINT_FILE "checkpoint.safetensors"
#define MD_TRAIN_METRICS_FILE "metrics.csv"
#define MD_TRAIN_SUMMARY_FILE "summary.json"

enum { MD_TRAIN_MAX_EXTRA_META = 8, MD_TRAIN_PATH_MAX = 4096 };

/* A labelled image set, owned by the caller (not copied; it must outlive the
 * trainer). */
typedef struct md_train_data {
  const uint8_t *images; /* (n, 3, 32, 32) */
  const int32_t *labels; /* (n), each in [0, num_classes) of the model */
  int64_t n;             /* >= 1 */
} md_train_data;

typedef struct md_train_config {
  int epochs;            /* >= 1; default 200 */
  int batch_size;        /* >= 1, training and test batches; default 128 */
  uint64_t seed;         /* data order and augmentation streams; default 0 */
  double lr;             /* base learning rate; default 0.1 */
  int n_milestones;      /* default 3 */
  int milestones[MD_LR_MAX_MILESTONES]; /* epochs; default 60, 120, 160 */
  double gamma;          /* default 0.2 */
  md_lr_step_mode lr_mode;              /* default MD_LR_STEP_STANDARD */
  md_sgd_config sgd;     /* default md_sgd_config_reference() */
  int augment;           /* 1: random crop (pad 4) and flip; default 1 */
  int cutout_holes;      /* 0 = no Cutout (default) */
  int cutout_length;     /* side of a hole; default 16 */
  int erasing;           /* 1: RandomErasing with erasing_cfg; default 0 */
  md_erasing_config erasing_cfg;
  int prefetch;          /* 1: loader thread (default); 0: synchronous */
  const char *run_dir;   /* folder for the run files (must exist); NULL or "":
                            nothing is written */
  /* Extra checkpoint metadata (e.g. the caller's full configuration), at
   * most MD_TRAIN_MAX_EXTRA_META, keys not used by the trainer. The strings
   * are copied by md_trainer_create. */
  const md_st_meta *extra_meta;
  size_t n_extra_meta;
} md_train_config;

/* The reference protocol (REFERENCE.md section 3): 200 epochs, batch 128,
 * lr 0.1, milestones 60/120/160, gamma 0.2 (standard stepping), SGD momentum
 * 0.9 Nesterov, weight decay 5e-4, crop + flip, no Cutout, no RandomErasing,
 * seed 0, prefetch on, no run folder. */
MD_API md_train_config md_train_default_config(void);

/* MD_ERR_INVALID_ARGUMENT with a sentence for a value out of range. */
MD_API md_status md_train_config_check(const md_train_config *cfg, md_errbuf *eb);

/* The result of one epoch. Accuracies are fractions in [0, 1]; losses the
 * mean over the images. */
typedef struct md_epoch_result {
  int epoch;          /* 1-based: the number of epochs completed */
  double lr;
  double train_loss, train_acc;
  double test_loss, test_acc;
  double seconds;     /* wall time of the epoch (training + evaluation) */
} md_epoch_result;

typedef enum md_train_state {
  MD_TRAIN_READY = 0,     /* created or resumed, not run */
  MD_TRAIN_FINISHED = 1,  /* every epoch done */
  MD_TRAIN_STOPPED = 2,   /* stopped on request; resumable */
  MD_TRAIN_DIVERGED = 3   /* a non-finite loss; resumable only from the last checkpoint */
} md_train_state;

typedef enum md_train_phase { MD_PHASE_TRAIN = 0, MD_PHASE_EVAL = 1 } md_train_phase;

/* Progress, reported after every batch. */
typedef struct md_train_progress {
  md_train_phase phase;
  int epoch;            /* 0-based epoch being run */
  int epochs;           /* epochs of the run */
  int64_t step;         /* batches done in this phase of this epoch (>= 1) */
  int64_t steps;        /* batches of this phase per epoch */
  int64_t images;       /* images done in this phase of this epoch */
  double loss;          /* mean loss over those images */
  double acc;           /* accuracy over those images */
  double lr;            /* learning rate of the epoch */
  double seconds;       /* seconds spent in this phase of this epoch (this
                           process; a resumed phase counts from the resume) */
  int64_t images_timed; /* images processed in those seconds */
} md_train_progress;

typedef struct md_train_hooks {
  void *user;
  /* After every batch, training and evaluation. */
  void (*on_progress)(void *user, const md_train_progress *p);
  /* After each epoch, once its files are written. */
  void (*on_epoch)(void *user, const md_epoch_result *r);
  /* Before each training step, with the batch about to be used (may be
   * modified: tests inject faults through it). epoch and step are 0-based. */
  void (*on_batch)(void *user, int epoch, int64_t step, float *images, int32_t *labels,
                   int64_t n);
  /* Nonzero: stop after the current step (see the top of this header). May
   * be NULL. */
  const volatile sig_atomic_t *stop;
} md_train_hooks;

typedef struct md_trainer md_trainer;

/* Prepares a run of `model` (owned by the caller; built for at least
 * cfg->batch_size samples and freshly initialised from the run's seed, or
 * about to be resumed) on train and test (whose labels must be below the
 * model's classes). Creates the two loaders (maxdrop/loader.h) and everything
 * the run needs. MD_ERR_INVALID_ARGUMENT for a bad configuration or data,
 * MD_ERR_OUT_OF_MEMORY. */
MD_API md_status md_trainer_create(md_trainer **out, const md_train_config *cfg,
                                   md_model *model, const md_train_data *train,
                                   const md_train_data *test, md_errbuf *eb);
MD_API void md_trainer_free(md_trainer *t);

/* Continues from a checkpoint written by a trainer: loads the model with its
 * optimizer state and random streams, the SGD step count, the position and the
 * history. The checkpoint must come from the same model configuration, seed,
 * batch size, data sizes, augmentation, optimizer and schedule
 * (MD_ERR_INVALID_ARGUMENT naming the first difference); the number of epochs
 * may differ (more epochs extend a finished run; fewer than already completed
 * is an error). File errors as maxdrop/safetensors.h. */
MD_API md_status md_trainer_resume(md_trainer *t, const char *checkpoint_path,
                                   md_errbuf *eb);

/* Runs from the current position to the last epoch, or until stopped or
 * diverged (see the top of this header). hooks may be NULL. MD_OK when
 * finished or stopped (see md_trainer_state), MD_ERR_NUMERIC on divergence,
 * other codes (with a message) when a step or a file write fails. */
MD_API md_status md_trainer_run(md_trainer *t, const md_train_hooks *hooks, md_errbuf *eb);

MD_API md_train_state md_trainer_state(const md_trainer *t);
/* "ready", "finished", "stopped", "diverged". */
MD_API const char *md_train_state_name(md_train_state s);

/* Epochs completed, and batches done of the next epoch. */
MD_API int md_trainer_epochs_done(const md_trainer *t);
MD_API int64_t md_trainer_step_in_epoch(const md_trainer *t);
MD_API int64_t md_trainer_steps_per_epoch(const md_trainer *t);
/* SGD steps taken since the run began (the optimizer's step count). */
MD_API int64_t md_trainer_global_step(const md_trainer *t);

/* The results of the completed epochs, oldest first; *n receives their
 * number. Valid until the next call of md_trainer_run or md_trainer_resume. */
MD_API const md_epoch_result *md_trainer_history(const md_trainer *t, int *n);

/* Path of the run's checkpoint ("" when there is no run folder). */
MD_API const char *md_trainer_checkpoint_path(const md_trainer *t);

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

/* Results of md_evaluate. */
typedef struct md_eval_result {
  int64_t n;          /* images evaluated */
  int64_t correct;    /* correct argmax predictions (first maximum wins) */
  double loss;        /* mean cross-entropy */
  double acc;         /* correct / n */
} md_eval_result;

/* Evaluates `model` in evaluation mode on data, in dataset order, batches of
 * batch_size (1..the model's max batch), with the evaluation transform
 * (per-channel normalisation). class_correct and class_total, when not NULL,
 * receive per-class counts (num_classes of the model, zeroed first).
 * hooks->on_progress reports each batch (phase MD_PHASE_EVAL, epoch 0);
 * hooks->stop abandons the evaluation (MD_ERR_STATE). hooks may be NULL. */
MD_API md_status md_evaluate(md_model *model, const md_train_data *data, int batch_size,
                             md_eval_result *out, int64_t *class_correct,
                             int64_t *class_total, const md_train_hooks *hooks,
                             md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_TRAINER_H */
