/* maxdrop/lr_schedule.h - the MultiStepLR learning-rate schedule.
 *
 * Multiplies the learning rate by gamma at each milestone epoch, as
 * torch.optim.lr_scheduler.MultiStepLR. Epochs are numbered from 0; the
 * learning rate of epoch e is the one every step of epoch e uses. Two ways of
 * driving the PyTorch scheduler are reproduced, value for value:
 *
 * MD_LR_STEP_STANDARD (the default): `scheduler.step()` once per epoch, after
 *   training it. Epoch e uses
 *       base * gamma^(number of milestones <= e),
 *   computed as PyTorch does, by chained multiplication: starting from base,
 *   at each milestone m <= e (ascending) lr = lr * pow(gamma, count of m).
 *   Milestones 60, 120, 160, gamma 0.2, base 0.1: epochs 0-59 use 0.1,
 *   60-119 0.1*0.2, 120-159 (0.1*0.2)*0.2, 160-199 ((0.1*0.2)*0.2)*0.2.
 *
 * MD_LR_STEP_REFERENCE: the reference code's `scheduler.step(epoch)` at the
 *   END of epoch `epoch` (the PyTorch < 1.4 idiom; PyTorch 1.13 still accepts
 *   it with a deprecation warning and then uses its closed form). Epoch 0 uses
 *   the constructor's value (as in the standard mode: base, times
 *   pow(gamma, count) if 0 is a milestone); epoch e >= 1 uses what step(e - 1)
 *   set,
 *       base * pow(gamma, number of milestones <= e - 1),
 *   so every decay comes one epoch later. Milestones 60, 120, 160, gamma 0.2,
 *   base 0.1: epochs 0-60 use 0.1, 61-120 0.1*pow(0.2, 1), 121-160
 *   0.1*pow(0.2, 2), 161-199 0.1*pow(0.2, 3).
 *
 * The two formulas can round differently in the last bit of a double (with
 * base 0.05 and gamma 0.1, (0.05*0.1)*0.1*... and 0.05*pow(0.1, k) differ for
 * some k; with 0.1 and 0.2 they agree); each mode matches its PyTorch
 * counterpart exactly (tests/parity/test_sgd_schedule_parity.py). */
#ifndef MAXDROP_LR_SCHEDULE_H
#define MAXDROP_LR_SCHEDULE_H

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MD_LR_MAX_MILESTONES = 32 };

typedef enum md_lr_step_mode {
  MD_LR_STEP_STANDARD = 0,  /* scheduler.step() after each epoch (default) */
  MD_LR_STEP_REFERENCE = 1  /* scheduler.step(epoch) at the end of each epoch */
} md_lr_step_mode;

/* A MultiStepLR schedule. Plain data; the learning rate is a function of the
 * epoch alone, so resuming at epoch e needs nothing but the configuration. */
typedef struct md_multistep_lr {
  double base_lr;
  double gamma;
  md_lr_step_mode mode;
  int n_milestones;
  int milestones[MD_LR_MAX_MILESTONES]; /* sorted ascending; repeats allowed */
} md_multistep_lr;

/* Sets up a schedule. base_lr and gamma must be finite and >= 0; milestones
 * (any order, repeats count twice, as PyTorch's Counter) must be >= 0 and at
 * most MD_LR_MAX_MILESTONES of them; n_milestones may be 0 (constant lr).
 * MD_ERR_INVALID_ARGUMENT with a message otherwise. */
MD_API md_status md_multistep_lr_init(md_multistep_lr *s, double base_lr,
                                      const int *milestones, int n_milestones, double gamma,
                                      md_lr_step_mode mode, md_errbuf *eb);

/* The learning rate of epoch `epoch` (>= 0; a negative epoch gives base_lr). */
MD_API double md_multistep_lr_at(const md_multistep_lr *s, int epoch);

/* "standard" / "reference" <-> mode. Parsing returns MD_ERR_INVALID_ARGUMENT
 * for any other word. */
MD_API const char *md_lr_step_mode_name(md_lr_step_mode mode);
MD_API md_status md_lr_step_mode_parse(const char *name, md_lr_step_mode *out);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_LR_SCHEDULE_H */
