/* Options of 'maxdrop train': one table drives the flags, config.json and
 * the checks (see train_opts.h). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "train_opts.h"

static const char *const preset_names[] = {"none", "paper", "quick", NULL};
static const char *const dataset_names[] = {"cifar10", "cifar100", "folder", NULL};
static const char *const model_names[] = {"resnet18", "wideresnet", NULL};
static const char *const reg_names[] = {"none", "maxdropout", "dropout", NULL};
static const char *const norm_names[] = {"minmax", "l2", NULL};
static const char *const stats_names[] = {"batch", "sample", "channel", "sample-channel", NULL};

typedef enum { K_BOOL, K_INT, K_LONG, K_LLONG, K_U64, K_DOUBLE, K_CHOICE, K_PATH, K_LIST } kind;

typedef struct opt_def {
  const char *flag;  /* without "--" */
  const char *json;
  kind k;
  size_t off;
  const char *const *choices;
  double lo, hi;     /* allowed range of numbers */
  int resumable;     /* may be given with --resume */
} opt_def;

#define OFF(f) offsetof(md_run_options, f)
static const opt_def defs[] = {
    {"dataset", "dataset", K_CHOICE, OFF(dataset), dataset_names, 0, 0, 0},
    {"resize", "resize", K_BOOL, OFF(resize), NULL, 0, 0, 0},
    {"model", "model", K_CHOICE, OFF(model), model_names, 0, 0, 0},
    {"width", "width", K_INT, OFF(width), NULL, 1, 1024, 0},
    {"depth", "depth", K_INT, OFF(depth), NULL, 10, 1000, 0},
    {"widen", "widen", K_INT, OFF(widen), NULL, 1, 64, 0},
    {"batch-size", "batch_size", K_INT, OFF(batch_size), NULL, 1, 65536, 0},
    {"epochs", "epochs", K_INT, OFF(epochs), NULL, 1, 100000, 1},
    {"learning-rate", "learning_rate", K_DOUBLE, OFF(lr), NULL, 0, 1e308, 0},
    {"data-augmentation", "data_augmentation", K_BOOL, OFF(augment), NULL, 0, 0, 0},
    {"cutout", "cutout", K_BOOL, OFF(cutout), NULL, 0, 0, 0},
    {"n-holes", "n_holes", K_INT, OFF(n_holes), NULL, 1, 64, 0},
    {"length", "length", K_INT, OFF(length), NULL, 0, 32, 0},
    {"seed", "seed", K_U64, OFF(seed), NULL, 0, 0, 0},
    {"drop", "drop", K_DOUBLE, OFF(drop), NULL, 0, 1, 0},
    {"reg", "reg", K_CHOICE, OFF(reg), reg_names, 0, 0, 0},
    {"maxdrop-random-rate", "maxdrop_random_rate", K_BOOL, OFF(maxdrop_random_rate), NULL, 0, 0, 0},
    {"maxdrop-norm", "maxdrop_norm", K_CHOICE, OFF(maxdrop_norm), norm_names, 0, 0, 0},
    {"maxdrop-stats", "maxdrop_stats", K_CHOICE, OFF(maxdrop_stats), stats_names, 0, 0, 0},
    {"maxdrop-v2", "maxdrop_v2", K_BOOL, OFF(maxdrop_v2), NULL, 0, 0, 0},
    {"maxdrop-at-eval", "maxdrop_at_eval", K_BOOL, OFF(maxdrop_at_eval), NULL, 0, 0, 0},
    {"random-erasing", "random_erasing", K_BOOL, OFF(random_erasing), NULL, 0, 0, 0},
    {"milestones", "milestones", K_LIST, OFF(milestones), NULL, 0, 1000000, 0},
    {"gamma", "gamma", K_DOUBLE, OFF(gamma), NULL, 0, 1e308, 0},
    {"scheduler-compat", "scheduler_compat", K_BOOL, OFF(scheduler_compat), NULL, 0, 0, 0},
    {"momentum", "momentum", K_DOUBLE, OFF(momentum), NULL, 0, 1e308, 0},
    {"weight-decay", "weight_decay", K_DOUBLE, OFF(weight_decay), NULL, 0, 1e308, 0},
    {"nesterov", "nesterov", K_BOOL, OFF(nesterov), NULL, 0, 0, 0},
    {"threads", "threads", K_LONG, OFF(threads), NULL, 0, 4096, 1},
    {"limit-train", "limit_train", K_LLONG, OFF(limit_train), NULL, 0, 1e12, 0},
    {"limit-test", "limit_test", K_LLONG, OFF(limit_test), NULL, 0, 1e12, 0},
    {"data", "data", K_PATH, OFF(data), NULL, 0, 0, 1},
    {"out", "out", K_PATH, OFF(out), NULL, 0, 0, 0},
};
enum { N_DEFS = sizeof defs / sizeof defs[0] };
#undef OFF

void md_opts_defaults(md_run_options *o) {
  memset(o, 0, sizeof *o);
  md_opts_apply_preset(o, MD_PRESET_PAPER);
  o->preset = MD_PRESET_NONE;
  o->dataset = 0;
  o->seed = 0;
  o->reg = 1;
  o->drop = 0.3;
  o->maxdrop_norm = 0;
  o->maxdrop_stats = 0;
  o->threads = 0;
}

/* The quick protocol (docs/TRAINING.md): ResNet-18 of width 12 on the first
 * 10000 training images for 10 epochs, learning rate 0.05 multiplied by 0.2
 * after epochs 5 and 8, evaluated on the whole test set. */
void md_opts_apply_preset(md_run_options *o, md_preset p) {
  o->preset = p;
  o->model = 0;
  o->width = 64;
  o->depth = 28;
  o->widen = 10;
  o->batch_size = 128;
  o->epochs = 200;
  o->lr = 0.1;
  o->augment = 1;
  o->cutout = 0;
  o->n_holes = 1;
  o->length = 0;
  o->maxdrop_random_rate = 0;
  o->maxdrop_v2 = 0;
  o->maxdrop_at_eval = 0;
  o->random_erasing = 0;
  o->n_milestones = 3;
  o->milestones[0] = 60;
  o->milestones[1] = 120;
  o->milestones[2] = 160;
  o->gamma = 0.2;
  o->scheduler_compat = 0;
  o->momentum = 0.9;
  o->weight_decay = 5e-4;
  o->nesterov = 1;
  o->limit_train = 0;
  o->limit_test = 0;
  if (p == MD_PRESET_QUICK) {
    o->width = 12;
    o->epochs = 10;
    o->lr = 0.05;
    o->n_milestones = 2;
    o->milestones[0] = 5;
    o->milestones[1] = 8;
    o->limit_train = 10000;
    o->limit_test = 0;
  }
}

/* Options added after config.json was first written: a configuration without
 * them reads as their default. */
static int json_optional(const char *json_name) { return !strcmp(json_name, "resize"); }

static const opt_def *find_def(const char *json_name) {
  for (int i = 0; i < N_DEFS; ++i)
    if (!strcmp(defs[i].json, json_name)) return &defs[i];
  return NULL;
}

int md_opts_resumable(const char *json_name) {
  const opt_def *d = find_def(json_name);
  return d ? d->resumable : 0;
}

/* "--batch_size" -> "batch-size" in buf; NULL when a is not a long flag. */
static const char *normalise(const char *a, char *buf, size_t cap, const char **value) {
  *value = NULL;
  if (strncmp(a, "--", 2) != 0 || !a[2]) return NULL;
  size_t n = 0;
  for (const char *s = a + 2; *s && n + 1 < cap; ++s) {
    if (*s == '=') {
      *value = s + 1;
      break;
    }
    buf[n++] = *s == '_' ? '-' : *s;
  }
  buf[n] = '\0';
  return buf;
}

static int choice_index(const char *const *names, const char *v) {
  for (int i = 0; names[i]; ++i)
    if (!strcmp(names[i], v)) return i;
  if (names == model_names && !strcmp(v, "wrn")) return 1;
  return -1;
}

static void choice_list(const char *const *names, char *buf, size_t cap) {
  buf[0] = '\0';
  for (int i = 0; names[i]; ++i) {
    strncat(buf, i ? "|" : "", cap - strlen(buf) - 1);
    strncat(buf, names[i], cap - strlen(buf) - 1);
  }
}

static int parse_list(const char *v, int *out, int *n_out) {
  int n = 0;
  if (!strcmp(v, "none") || !*v) {
    *n_out = 0;
    return 0;
  }
  const char *s = v;
  while (*s) {
    char *end;
    const long x = strtol(s, &end, 10);
    if (end == s || x < 0 || x > 1000000 || n >= MD_LR_MAX_MILESTONES) return -1;
    out[n++] = (int)x;
    if (*end == ',') s = end + 1;
    else if (*end == '\0') s = end;
    else return -1;
    if (*end == ',' && !*s) return -1;
  }
  for (int i = 1; i < n; ++i)
    if (out[i] < out[i - 1]) return -1;
  *n_out = n;
  return 0;
}

/* Sets one option from text. 0, or a usage-error exit code. */
static int set_value(md_run_options *o, const opt_def *d, const char *v, const char *cmd) {
  char *base = (char *)o + d->off;
  char list[128];
  switch (d->k) {
    case K_BOOL:
      return md_cli_usage_error(cmd, "--%s takes no value", d->flag);
    case K_INT:
    case K_LONG:
    case K_LLONG: {
      long x;
      if (md_cli_parse_long(v, &x) != 0 || x < d->lo || x > d->hi)
        return md_cli_usage_error(cmd, "--%s needs a whole number in %.0f..%.0f, not '%s'",
                                  d->flag, d->lo, d->hi, v);
      if (d->k == K_INT) *(int *)base = (int)x;
      else if (d->k == K_LONG) *(long *)base = x;
      else *(long long *)base = x;
      return 0;
    }
    case K_U64: {
      unsigned long long x;
      if (md_cli_parse_u64(v, &x) != 0)
        return md_cli_usage_error(cmd, "--%s needs a whole number >= 0, not '%s'", d->flag, v);
      *(unsigned long long *)base = x;
      return 0;
    }
    case K_DOUBLE: {
      double x;
      if (md_cli_parse_double(v, &x) != 0 || !isfinite(x) || x < d->lo || x > d->hi) {
        if (d->hi >= 1e300)
          return md_cli_usage_error(cmd, "--%s needs a finite number >= %g, not '%s'", d->flag,
                                    d->lo, v);
        return md_cli_usage_error(cmd, "--%s needs a number in [%g, %g], not '%s'", d->flag,
                                  d->lo, d->hi, v);
      }
      *(double *)base = x;
      return 0;
    }
    case K_CHOICE: {
      const int i = choice_index(d->choices, v);
      if (i < 0) {
        choice_list(d->choices, list, sizeof list);
        return md_cli_usage_error(cmd, "--%s must be %s, not '%s'", d->flag, list, v);
      }
      *(int *)base = i;
      return 0;
    }
    case K_PATH:
      if (!*v) return md_cli_usage_error(cmd, "--%s needs a folder", d->flag);
      if (strlen(v) >= MD_OPT_PATH - 256) return md_cli_usage_error(cmd, "--%s is too long", d->flag);
      strcpy(base, v);
      return 0;
    case K_LIST:
      if (parse_list(v, o->milestones, &o->n_milestones) != 0)
        return md_cli_usage_error(cmd,
                                  "--%s needs ascending epochs >= 0 separated by commas (at most "
                                  "%d), or 'none', not '%s'",
                                  d->flag, MD_LR_MAX_MILESTONES, v);
      return 0;
  }
  return 0;
}

static void note_given(char *given, size_t cap, const char *name) {
  if (!given) return;
  if (given[0]) strncat(given, ",", cap - strlen(given) - 1);
  strncat(given, name, cap - strlen(given) - 1);
}

int md_opts_parse(md_run_options *o, const char *cmd, int argc, char **argv,
                  md_other_flag *others, int n_others, char *given, size_t given_cap) {
  char name[128];
  const char *inl;
  if (given && given_cap) given[0] = '\0';
  /* --preset first. */
  for (int i = 1; i < argc; ++i) {
    if (!normalise(argv[i], name, sizeof name, &inl) || strcmp(name, "preset") != 0) continue;
    const char *v = inl;
    if (!v) {
      if (i + 1 >= argc) return md_cli_usage_error(cmd, "--preset needs a value (paper or quick)");
      v = argv[i + 1];
    }
    const int p = choice_index(preset_names, v);
    if (p <= 0) return md_cli_usage_error(cmd, "--preset must be paper or quick, not '%s'", v);
    md_opts_apply_preset(o, (md_preset)p);
    note_given(given, given_cap, "preset");
  }
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!normalise(a, name, sizeof name, &inl)) {
      if (a[0] == '-') return md_cli_usage_error(cmd, "unknown option '%s'", a);
      return md_cli_usage_error(cmd, "unexpected argument '%s'", a);
    }
    if (!strcmp(name, "preset")) {
      if (!inl) ++i;
      continue;
    }
    int handled = 0;
    for (int k = 0; k < n_others && !handled; ++k) {
      if (strcmp(name, others[k].name + 2) != 0) continue;
      handled = 1;
      if (!others[k].takes_value) {
        if (inl) return md_cli_usage_error(cmd, "%s takes no value", others[k].name);
        others[k].value = "1";
      } else if (inl) {
        others[k].value = inl;
      } else {
        if (i + 1 >= argc) return md_cli_usage_error(cmd, "%s needs a value", others[k].name);
        others[k].value = argv[++i];
      }
    }
    if (handled) continue;
    const int negated = !strncmp(name, "no-", 3);
    for (int k = 0; k < N_DEFS && !handled; ++k) {
      const opt_def *d = &defs[k];
      if (d->k == K_BOOL && (!strcmp(name, d->flag) || (negated && !strcmp(name + 3, d->flag)))) {
        if (inl) return md_cli_usage_error(cmd, "--%s takes no value", name);
        *(int *)((char *)o + d->off) = !(negated && strcmp(name, d->flag) != 0);
        handled = 1;
      } else if (d->k != K_BOOL && !strcmp(name, d->flag)) {
        const char *v = inl;
        if (!v) {
          if (i + 1 >= argc) return md_cli_usage_error(cmd, "--%s needs a value", d->flag);
          v = argv[++i];
        }
        const int rc = set_value(o, d, v, cmd);
        if (rc) return rc;
        handled = 1;
      }
      if (handled) note_given(given, given_cap, d->json);
    }
    /* Short aliases. */
    if (!handled && !strcmp(name, "lr")) {
      const char *v = inl ? inl : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) return md_cli_usage_error(cmd, "--lr needs a value");
      const opt_def *d = find_def("learning_rate");
      const int rc = set_value(o, d, v, cmd);
      if (rc) return rc;
      note_given(given, given_cap, d->json);
      handled = 1;
    }
    if (!handled) return md_cli_usage_error(cmd, "unknown option '%s'", a);
  }
  return 0;
}

int md_opts_check(const md_run_options *o, const char *cmd) {
  if (o->model == 1 && (o->depth - 4) % 6 != 0)
    return md_cli_usage_error(cmd, "--depth must be 6n+4 (10, 16, 22, 28, 40...) for a Wide-ResNet, not %d",
                              o->depth);
  if (o->reg == 0 && (o->maxdrop_random_rate || o->maxdrop_v2 || o->maxdrop_at_eval))
    return md_cli_usage_error(cmd, "MaxDropout options need --reg maxdropout");
  if (o->reg == 2 && (o->maxdrop_random_rate || o->maxdrop_v2 || o->maxdrop_at_eval))
    return md_cli_usage_error(cmd, "MaxDropout options need --reg maxdropout, not dropout");
  if (o->nesterov && o->momentum <= 0)
    return md_cli_usage_error(cmd, "Nesterov momentum needs --momentum > 0 (or --no-nesterov)");
  if (o->dataset == MD_DATASET_FOLDER && !o->data[0])
    return md_cli_usage_error(cmd, "--dataset folder needs --data DIR: a folder holding train/ and "
                              "test/, each with one subfolder of images per class");
  if (o->resize && o->dataset != MD_DATASET_FOLDER)
    return md_cli_usage_error(cmd, "--resize is for --dataset folder (CIFAR images are already "
                              "32 x 32)");
  return 0;
}

const char *md_opts_dataset_name(const md_run_options *o) { return dataset_names[o->dataset]; }
int md_opts_num_classes(const md_run_options *o) {
  if (o->dataset == MD_DATASET_FOLDER) return o->num_classes;
  return o->dataset == MD_DATASET_CIFAR100 ? 100 : 10;
}
void md_opts_describe_data(const md_run_options *o, char *buf, size_t cap) {
  if (o->dataset == MD_DATASET_FOLDER)
    snprintf(buf, cap, "image folder of %d class%s%s", o->num_classes,
             o->num_classes == 1 ? "" : "es",
             o->resize ? " (resized to 32 x 32)" : "");
  else snprintf(buf, cap, "%s", o->dataset == MD_DATASET_CIFAR100 ? "CIFAR-100" : "CIFAR-10");
}
const char *md_opts_model_name(const md_run_options *o) { return model_names[o->model]; }
const char *md_opts_reg_name(const md_run_options *o) { return reg_names[o->reg]; }
void md_opts_describe(const md_run_options *o, char *buf, size_t cap) {
  char reg[128];
  if (o->reg == 0) snprintf(reg, sizeof reg, "no regularizer");
  else if (o->reg == 2) snprintf(reg, sizeof reg, "Dropout p=%g", o->drop);
  else
    snprintf(reg, sizeof reg, "MaxDropout%s rate %s%g%s%s", o->maxdrop_v2 ? "V2" : "",
             o->maxdrop_random_rate ? "U(0, " : "", o->drop, o->maxdrop_random_rate ? ")" : "",
             o->maxdrop_at_eval ? ", also at test time" : "");
  if (o->model == 1) snprintf(buf, cap, "WRN-%d-%d, %s", o->depth, o->widen, reg);
  else snprintf(buf, cap, "ResNet-18 width %d, %s", o->width, reg);
}

int md_opts_cutout_length(const md_run_options *o) {
  return o->length > 0 ? o->length : (o->dataset == MD_DATASET_CIFAR100 ? 8 : 16);
}

md_model_config md_opts_model_config(const md_run_options *o) {
  md_model_config c = md_model_default_config(o->model == 1 ? MD_ARCH_WRN : MD_ARCH_RESNET18);
  c.num_classes = md_opts_num_classes(o);
  c.width = o->width;
  c.depth = o->depth;
  c.widen = o->widen;
  c.reg = o->reg == 1 ? MD_REG_MAXDROPOUT : o->reg == 2 ? MD_REG_DROPOUT : MD_REG_NONE;
  c.maxdrop = md_maxdrop_default_config();
  c.maxdrop.rate = o->drop;
  c.maxdrop.random_rate = o->maxdrop_random_rate;
  c.maxdrop.norm = (md_maxdrop_norm)o->maxdrop_norm;
  c.maxdrop.stats = (md_maxdrop_stats)o->maxdrop_stats;
  c.maxdrop.v2 = o->maxdrop_v2;
  c.dropout_p = o->drop;
  c.maxdrop_in_eval = o->maxdrop_at_eval;
  return c;
}

md_train_config md_opts_train_config(const md_run_options *o) {
  md_train_config c = md_train_default_config();
  c.epochs = o->epochs;
  c.batch_size = o->batch_size;
  c.seed = o->seed;
  c.lr = o->lr;
  c.n_milestones = o->n_milestones;
  memcpy(c.milestones, o->milestones, sizeof c.milestones);
  c.gamma = o->gamma;
  c.lr_mode = o->scheduler_compat ? MD_LR_STEP_REFERENCE : MD_LR_STEP_STANDARD;
  c.sgd.momentum = o->momentum;
  c.sgd.weight_decay = o->weight_decay;
  c.sgd.dampening = 0.0;
  c.sgd.nesterov = o->nesterov;
  c.augment = o->augment;
  c.cutout_holes = o->cutout ? o->n_holes : 0;
  c.cutout_length = md_opts_cutout_length(o);
  c.erasing = o->random_erasing;
  return c;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                               */
/* ------------------------------------------------------------------------ */

char *md_opts_to_json(const md_run_options *o, const char *data_root, const char *version,
                      char *const *class_names) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  int ok = cJSON_AddStringToObject(j, "maxdrop_version", version) != NULL;
  ok = ok && cJSON_AddStringToObject(j, "preset", preset_names[o->preset]);
  for (int i = 0; i < N_DEFS && ok; ++i) {
    const opt_def *d = &defs[i];
    const char *base = (const char *)o + d->off;
    switch (d->k) {
      case K_BOOL: ok = cJSON_AddBoolToObject(j, d->json, *(const int *)base) != NULL; break;
      case K_INT: ok = cJSON_AddNumberToObject(j, d->json, *(const int *)base) != NULL; break;
      case K_LONG: ok = cJSON_AddNumberToObject(j, d->json, (double)*(const long *)base) != NULL; break;
      case K_LLONG:
        ok = cJSON_AddNumberToObject(j, d->json, (double)*(const long long *)base) != NULL;
        break;
      case K_U64: {
        /* As text: a double cannot hold every 64-bit seed. */
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", *(const unsigned long long *)base);
        ok = cJSON_AddStringToObject(j, d->json, buf) != NULL;
        break;
      }
      case K_DOUBLE: ok = cJSON_AddNumberToObject(j, d->json, *(const double *)base) != NULL; break;
      case K_CHOICE:
        ok = cJSON_AddStringToObject(j, d->json, d->choices[*(const int *)base]) != NULL;
        break;
      case K_PATH: ok = cJSON_AddStringToObject(j, d->json, base) != NULL; break;
      case K_LIST: {
        cJSON *arr = cJSON_AddArrayToObject(j, d->json);
        ok = arr != NULL;
        for (int k = 0; k < o->n_milestones && ok; ++k) {
          cJSON *x = cJSON_CreateNumber(o->milestones[k]);
          ok = x && cJSON_AddItemToArray(arr, x);
        }
        break;
      }
    }
  }
  ok = ok && cJSON_AddNumberToObject(j, "cutout_length_used", md_opts_cutout_length(o));
  ok = ok && cJSON_AddStringToObject(j, "data_root", data_root ? data_root : "");
  const int classes = md_opts_num_classes(o);
  if (classes > 0) ok = ok && cJSON_AddNumberToObject(j, "num_classes", classes);
  if (class_names && classes > 0) {
    cJSON *arr = ok ? cJSON_AddArrayToObject(j, "class_names") : NULL;
    ok = arr != NULL;
    for (int k = 0; k < classes && ok; ++k) {
      cJSON *x = cJSON_CreateString(class_names[k]);
      ok = x && cJSON_AddItemToArray(arr, x);
    }
  }
  char *text = ok ? cJSON_Print(j) : NULL;
  cJSON_Delete(j);
  return text;
}

int md_opts_from_json(md_run_options *o, const char *text, char *err, size_t cap) {
  cJSON *j = cJSON_Parse(text);
  if (!j || !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    snprintf(err, cap, "not a JSON object");
    return -1;
  }
  md_opts_defaults(o);
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "preset");
  if (cJSON_IsString(p) && choice_index(preset_names, p->valuestring) >= 0)
    o->preset = choice_index(preset_names, p->valuestring);
  int rc = 0;
  for (int i = 0; i < N_DEFS && rc == 0; ++i) {
    const opt_def *d = &defs[i];
    char *base = (char *)o + d->off;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, d->json);
    if (!v && json_optional(d->json)) continue;
    int bad = !v;
    if (!bad) switch (d->k) {
        case K_BOOL:
          bad = !cJSON_IsBool(v);
          if (!bad) *(int *)base = cJSON_IsTrue(v);
          break;
        case K_INT:
        case K_LONG:
        case K_LLONG:
          bad = !cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                v->valuedouble < d->lo || v->valuedouble > d->hi;
          if (!bad) {
            if (d->k == K_INT) *(int *)base = (int)v->valuedouble;
            else if (d->k == K_LONG) *(long *)base = (long)v->valuedouble;
            else *(long long *)base = (long long)v->valuedouble;
          }
          break;
        case K_U64:
          bad = !cJSON_IsString(v) || md_cli_parse_u64(v->valuestring, (unsigned long long *)base);
          break;
        case K_DOUBLE:
          bad = !cJSON_IsNumber(v) || !(v->valuedouble >= d->lo && v->valuedouble <= d->hi);
          if (!bad) *(double *)base = v->valuedouble;
          break;
        case K_CHOICE:
          bad = !cJSON_IsString(v) || choice_index(d->choices, v->valuestring) < 0;
          if (!bad) *(int *)base = choice_index(d->choices, v->valuestring);
          break;
        case K_PATH:
          bad = !cJSON_IsString(v) || strlen(v->valuestring) >= MD_OPT_PATH;
          if (!bad) strcpy(base, v->valuestring);
          break;
        case K_LIST: {
          bad = !cJSON_IsArray(v) || cJSON_GetArraySize(v) > MD_LR_MAX_MILESTONES;
          int n = 0;
          const cJSON *x;
          cJSON_ArrayForEach(x, v) {
            if (bad) break;
            bad = !cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > d->hi ||
                  x->valuedouble != floor(x->valuedouble);
            if (!bad) o->milestones[n++] = (int)x->valuedouble;
          }
          if (!bad) o->n_milestones = n;
          break;
        }
      }
    if (bad) {
      snprintf(err, cap, "'%s' is missing or invalid", d->json);
      rc = -1;
    }
  }
  /* The class count of an image folder (CIFAR's follows from its kind). */
  if (rc == 0 && o->dataset == MD_DATASET_FOLDER) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "num_classes");
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > MD_IMAGE_FOLDER_MAX_CLASSES) {
      snprintf(err, cap, "'num_classes' is missing or invalid");
      rc = -1;
    } else {
      o->num_classes = (int)v->valuedouble;
    }
  }
  /* Where the run found its data (absent from old configurations). */
  const cJSON *root = cJSON_GetObjectItemCaseSensitive(j, "data_root");
  if (rc == 0 && cJSON_IsString(root) && strlen(root->valuestring) < MD_OPT_PATH)
    strcpy(o->data_root, root->valuestring);
  cJSON_Delete(j);
  return rc;
}

int md_opts_class_names_from_json(const char *text, char ***names, int *count, char *err,
                                  size_t cap) {
  *names = NULL;
  *count = 0;
  cJSON *j = cJSON_Parse(text);
  if (!j || !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    snprintf(err, cap, "not a JSON object");
    return -1;
  }
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "class_names");
  int rc = 0;
  if (arr) {
    const int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    char **out = n > 0 ? calloc((size_t)n, sizeof *out) : NULL;
    if (n <= 0 || n > MD_IMAGE_FOLDER_MAX_CLASSES) {
      snprintf(err, cap, "'class_names' is not a list of names");
      rc = -1;
    } else if (!out) {
      snprintf(err, cap, "out of memory");
      rc = -1;
    }
    int k = 0;
    const cJSON *x;
    if (rc == 0) {
      cJSON_ArrayForEach(x, arr) {
        if (!cJSON_IsString(x)) {
          snprintf(err, cap, "'class_names' holds something other than a name");
          rc = -1;
          break;
        }
        out[k] = strdup(x->valuestring);
        if (!out[k]) {
          snprintf(err, cap, "out of memory");
          rc = -1;
          break;
        }
        ++k;
      }
    }
    if (rc == 0) {
      *names = out;
      *count = n;
    } else if (out) {
      for (int i = 0; i < k; ++i) free(out[i]);
      free(out);
    }
  }
  cJSON_Delete(j);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Help                                                                      */
/* ------------------------------------------------------------------------ */

void md_opts_print_help(FILE *f) {
  fputs(
      "run presets (explicit flags override them, whatever their order):\n"
      "  --preset paper        the reference protocol: ResNet-18 (width 64), 200 epochs,\n"
      "                        batch 128, lr 0.1, milestones 60,120,160, gamma 0.2,\n"
      "                        SGD momentum 0.9 Nesterov, weight decay 5e-4, crop+flip\n"
      "                        (the defaults, too)\n"
      "  --preset quick        a reduced protocol for a CPU (docs/TRAINING.md): width 12,\n"
      "                        the first 10000 training images, 10 epochs, lr 0.05,\n"
      "                        milestones 5,8, the whole test set\n"
      "data and model:\n"
      "  --dataset D           cifar10 (default) | cifar100 | folder (your own images)\n"
      "  --data DIR            data folder holding cifar-10-batches-bin/ or\n"
      "                        cifar-100-binary/ (default: $MAXDROP_DATA, ./data,\n"
      "                        ../shared/data, the first that has it); for --dataset\n"
      "                        folder (required): DIR/train/ and DIR/test/, each with\n"
      "                        one subfolder per class (the same names in both; the\n"
      "                        classes in byte order of their names) holding PNG, JPEG,\n"
      "                        BMP, GIF, TGA or PNM images; grayscale becomes RGB,\n"
      "                        normalised with the CIFAR mean and std\n"
      "  --resize              folder images not 32x32: use their central square,\n"
      "                        scaled to 32x32 (aspect kept, the longer side trimmed);\n"
      "                        without it such an image is an error naming its size\n"
      "  --limit-train N       train on the first N training images (0 = all; a\n"
      "                        folder's images are in class order)\n"
      "  --limit-test N        evaluate on the first N test images (0 = all)\n"
      "  --model M             resnet18 (default) | wideresnet (alias wrn)\n"
      "  --width W             ResNet-18 stem width (default 64)\n"
      "  --depth D             Wide-ResNet depth 6n+4 (default 28)\n"
      "  --widen K             Wide-ResNet widening factor (default 10)\n"
      "regularizer:\n"
      "  --reg R               maxdropout (default, as the reference code) | dropout | none\n"
      "  --drop P              MaxDropout rate / Dropout probability in [0, 1] (default 0.3)\n"
      "  --maxdrop-random-rate draw the rate U(0, P) at every call (paper) instead of P\n"
      "  --maxdrop-norm N      minmax (default, code) | l2 (paper)\n"
      "  --maxdrop-stats S     batch (default, code) | sample | channel | sample-channel\n"
      "  --maxdrop-v2          MaxDropoutV2 (drop whole positions)\n"
      "  --maxdrop-at-eval     MaxDropout active at test time too, as the reference code\n"
      "                        (which measured its published errors that way)\n"
      "training:\n"
      "  --epochs N            (default 200)\n"
      "  --batch-size B        training and test batch (default 128)\n"
      "  --learning-rate X     base learning rate (alias --lr; default 0.1)\n"
      "  --milestones LIST     epochs where the rate is multiplied by gamma\n"
      "                        (default 60,120,160; 'none' for a constant rate)\n"
      "  --gamma G             (default 0.2)\n"
      "  --scheduler-compat    step the schedule as the reference code (each decay one\n"
      "                        epoch later: 61, 121, 161); default: standard PyTorch\n"
      "  --momentum M          (default 0.9)\n"
      "  --weight-decay W      (default 5e-4, on every parameter)\n"
      "  --no-nesterov         plain momentum instead of Nesterov\n"
      "  --seed S              seed of initialisation, data order, augmentation and\n"
      "                        regularizers (default 0)\n"
      "  --no-data-augmentation  no random crop and flip (--data-augmentation: on,\n"
      "                        the default)\n"
      "  --cutout              Cutout after normalisation; --n-holes N (default 1),\n"
      "                        --length L (0, the default: 16 for CIFAR-10 and image\n"
      "                        folders, 8 for CIFAR-100)\n"
      "  --random-erasing      RandomErasing (p 0.5, area 0.02-0.4, ratio 0.3-3.3)\n"
      "  --threads N           OpenMP threads (default: OMP_NUM_THREADS or all cores);\n"
      "                        results are reproducible for a given thread count\n"
      "Flag names also accept '_' for '-' (--batch_size, as the reference train.py)\n"
      "and the form --flag=value; '--no-<switch>' turns a switch off.\n",
      f);
}
