/* MultiStepLR, in its two PyTorch driving modes (see maxdrop/lr_schedule.h). */
#include "maxdrop/lr_schedule.h"

#include <math.h>
#include <string.h>

#include "core/errbuf.h"

md_status md_multistep_lr_init(md_multistep_lr *s, double base_lr, const int *milestones,
                               int n_milestones, double gamma, md_lr_step_mode mode,
                               md_errbuf *eb) {
  if (!s) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: NULL schedule");
  if (!isfinite(base_lr) || base_lr < 0.0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT,
                   "MultiStepLR: learning rate %g must be finite and >= 0", base_lr);
  if (!isfinite(gamma) || gamma < 0.0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: gamma %g must be finite and >= 0",
                   gamma);
  if (mode != MD_LR_STEP_STANDARD && mode != MD_LR_STEP_REFERENCE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: unknown step mode %d", (int)mode);
  if (n_milestones < 0 || n_milestones > MD_LR_MAX_MILESTONES)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: %d milestones (at most %d)",
                   n_milestones, (int)MD_LR_MAX_MILESTONES);
  if (n_milestones > 0 && !milestones)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: NULL milestone list");
  for (int i = 0; i < n_milestones; ++i)
    if (milestones[i] < 0)
      return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "MultiStepLR: milestone %d is negative",
                     milestones[i]);
  s->base_lr = base_lr;
  s->gamma = gamma;
  s->mode = mode;
  s->n_milestones = n_milestones;
  /* insertion sort: a handful of values */
  for (int i = 0; i < n_milestones; ++i) {
    int j = i;
    while (j > 0 && s->milestones[j - 1] > milestones[i]) {
      s->milestones[j] = s->milestones[j - 1];
      --j;
    }
    s->milestones[j] = milestones[i];
  }
  return MD_OK;
}

/* PyTorch's chained get_lr(): at each milestone epoch m (ascending) the lr is
 * multiplied by gamma ** (how many times m is listed). */
static double chained(const md_multistep_lr *s, int epoch) {
  double lr = s->base_lr;
  int i = 0;
  while (i < s->n_milestones && s->milestones[i] <= epoch) {
    const int m = s->milestones[i];
    int count = 0;
    while (i < s->n_milestones && s->milestones[i] == m) {
      ++count;
      ++i;
    }
    lr = lr * pow(s->gamma, (double)count);
  }
  return lr;
}

/* PyTorch's _get_closed_form_lr(): base * gamma ** bisect_right(milestones, e). */
static double closed_form(const md_multistep_lr *s, int epoch) {
  int k = 0;
  while (k < s->n_milestones && s->milestones[k] <= epoch) ++k;
  return s->base_lr * pow(s->gamma, (double)k);
}

double md_multistep_lr_at(const md_multistep_lr *s, int epoch) {
  if (epoch < 0) return s->base_lr;
  if (s->mode == MD_LR_STEP_REFERENCE && epoch >= 1) return closed_form(s, epoch - 1);
  /* The constructor's own step() sets epoch 0's value in both modes. */
  return chained(s, epoch);
}

const char *md_lr_step_mode_name(md_lr_step_mode mode) {
  return mode == MD_LR_STEP_REFERENCE ? "reference" : "standard";
}

md_status md_lr_step_mode_parse(const char *name, md_lr_step_mode *out) {
  if (name && !strcmp(name, "standard")) *out = MD_LR_STEP_STANDARD;
  else if (name && !strcmp(name, "reference")) *out = MD_LR_STEP_REFERENCE;
  else return MD_ERR_INVALID_ARGUMENT;
  return MD_OK;
}
