/* The run folder's text files (metrics.csv, summary.json) and the history
 * kept in checkpoints; every file is rewritten whole, atomically. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "core/errbuf.h"
#include "maxdrop/atomic_file.h"
#include "maxdrop/checkpoint.h"
#include "train/trainer_internal.h"

md_status md_train_write_metrics(const char *path, const md_epoch_result *h, int n,
                                 md_errbuf *eb) {
  md_atomic_file af;
  md_status st = md_atomic_open(&af, path, eb);
  if (st != MD_OK) return st;
  fputs("epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n", af.f);
  for (int i = 0; i < n; ++i) {
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(af.f, "%d,%s,%s,%s,%s,%s,%.3f\n", h[i].epoch,
            md_ckpt_format_double(a, sizeof a, h[i].lr),
            md_ckpt_format_double(b, sizeof b, h[i].train_loss),
            md_ckpt_format_double(c, sizeof c, h[i].train_acc),
            md_ckpt_format_double(d, sizeof d, h[i].test_loss),
            md_ckpt_format_double(e, sizeof e, h[i].test_acc), h[i].seconds);
  }
  return md_atomic_commit(&af, eb);
}

/* Written by hand: cJSON prints numbers with 15 significant digits unless
 * that reads back within an epsilon, which is not always the same double.
 * md_ckpt_format_double gives the shortest text that reads back exactly;
 * a NaN or an infinity becomes null. */
static void put_number(char **p, const char *key, double v, int first) {
  char num[32];
  *p += sprintf(*p, "%s\"%s\":%s", first ? "" : ",", key,
                isfinite(v) ? md_ckpt_format_double(num, sizeof num, v) : "null");
}

char *md_train_history_json(const md_epoch_result *h, int n) {
  /* At most 7 numbers of 32 characters and their keys per entry. */
  const size_t cap = 16 + (size_t)n * 400;
  char *text = cJSON_malloc(cap);
  if (!text) return NULL;
  char *p = text;
  *p++ = '[';
  for (int i = 0; i < n; ++i) {
    if (i) *p++ = ',';
    *p++ = '{';
    put_number(&p, "epoch", h[i].epoch, 1);
    put_number(&p, "lr", h[i].lr, 0);
    put_number(&p, "train_loss", h[i].train_loss, 0);
    put_number(&p, "train_acc", h[i].train_acc, 0);
    put_number(&p, "test_loss", h[i].test_loss, 0);
    put_number(&p, "test_acc", h[i].test_acc, 0);
    put_number(&p, "seconds", h[i].seconds, 0);
    *p++ = '}';
  }
  *p++ = ']';
  *p = '\0';
  return text;
}

static int get_number(const cJSON *o, const char *key, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsNull(v)) { /* how cJSON writes a NaN or an infinity */
    *out = NAN;
    return 0;
  }
  if (!cJSON_IsNumber(v)) return -1;
  *out = v->valuedouble;
  return 0;
}

md_status md_train_history_parse(const char *text, int n, md_epoch_result *h,
                                 const char *what, md_errbuf *eb) {
  cJSON *arr = cJSON_Parse(text);
  if (!arr || !cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    return md_fail(eb, MD_ERR_FORMAT, "%s: the epoch history is not a JSON array", what);
  }
  if (cJSON_GetArraySize(arr) != n) {
    const int got = cJSON_GetArraySize(arr);
    cJSON_Delete(arr);
    return md_fail(eb, MD_ERR_FORMAT, "%s: the epoch history has %d entries for %d epochs",
                   what, got, n);
  }
  int i = 0;
  const cJSON *o;
  cJSON_ArrayForEach(o, arr) {
    double ep = 0;
    md_epoch_result r;
    if (!cJSON_IsObject(o) || get_number(o, "epoch", &ep) || get_number(o, "lr", &r.lr) ||
        get_number(o, "train_loss", &r.train_loss) ||
        get_number(o, "train_acc", &r.train_acc) || get_number(o, "test_loss", &r.test_loss) ||
        get_number(o, "test_acc", &r.test_acc) || get_number(o, "seconds", &r.seconds) ||
        ep != (double)(i + 1)) {
      cJSON_Delete(arr);
      return md_fail(eb, MD_ERR_FORMAT, "%s: entry %d of the epoch history is malformed", what,
                     i + 1);
    }
    r.epoch = i + 1;
    h[i++] = r;
  }
  cJSON_Delete(arr);
  return MD_OK;
}

md_status md_train_write_summary(const char *path, const md_train_summary *s, md_errbuf *eb) {
  cJSON *o = cJSON_CreateObject();
  int ok = o != NULL;
  ok = ok && cJSON_AddStringToObject(o, "status", s->state);
  if (ok && s->message && *s->message) ok = cJSON_AddStringToObject(o, "message", s->message) != NULL;
  ok = ok && cJSON_AddNumberToObject(o, "epochs", s->epochs);
  ok = ok && cJSON_AddNumberToObject(o, "epochs_completed", s->epochs_done);
  ok = ok && cJSON_AddNumberToObject(o, "step_in_epoch", (double)s->step);
  ok = ok && cJSON_AddNumberToObject(o, "steps_per_epoch", (double)s->steps_per_epoch);
  ok = ok && cJSON_AddNumberToObject(o, "sgd_steps", (double)s->global_step);
  ok = ok && cJSON_AddNumberToObject(o, "train_images", (double)s->n_train);
  ok = ok && cJSON_AddNumberToObject(o, "test_images", (double)s->n_test);
  if (ok && s->epochs_done > 0) {
    const md_epoch_result *last = &s->history[s->epochs_done - 1];
    double best = -1.0, total = 0.0;
    int best_epoch = 0;
    for (int i = 0; i < s->epochs_done; ++i) {
      total += s->history[i].seconds;
      if (s->history[i].test_acc > best) {
        best = s->history[i].test_acc;
        best_epoch = i + 1;
      }
    }
    ok = cJSON_AddNumberToObject(o, "final_test_acc", last->test_acc) &&
         cJSON_AddNumberToObject(o, "final_test_error_pct", 100.0 * (1.0 - last->test_acc)) &&
         cJSON_AddNumberToObject(o, "final_test_loss", last->test_loss) &&
         cJSON_AddNumberToObject(o, "final_train_loss", last->train_loss) &&
         cJSON_AddNumberToObject(o, "final_train_acc", last->train_acc) &&
         cJSON_AddNumberToObject(o, "best_test_acc", best) &&
         cJSON_AddNumberToObject(o, "best_epoch", best_epoch) &&
         cJSON_AddNumberToObject(o, "seconds", total);
  }
  if (ok && s->model_json) {
    cJSON *m = cJSON_Parse(s->model_json);
    ok = m && cJSON_AddItemToObject(o, "model", m);
    if (!ok) cJSON_Delete(m);
  }
  if (ok && s->checkpoint) ok = cJSON_AddStringToObject(o, "checkpoint", s->checkpoint) != NULL;
  char *text = ok ? cJSON_Print(o) : NULL;
  cJSON_Delete(o);
  if (!text) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory writing %s", path);
  md_atomic_file af;
  md_status st = md_atomic_open(&af, path, eb);
  if (st == MD_OK) {
    fputs(text, af.f);
    fputc('\n', af.f);
    st = md_atomic_commit(&af, eb);
  }
  cJSON_free(text);
  return st;
}
