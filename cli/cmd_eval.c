/* maxdrop eval: test accuracy, error and per-class accuracy of a checkpoint
 * written by 'maxdrop train'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "maxdrop/checkpoint.h"
#include "maxdrop/safetensors.h"
#include "train_opts.h"

#define CMD "eval"

static const char usage_text[] =
    "usage: maxdrop eval --checkpoint FILE [--data DIR] [--maxdrop-at-eval]\n"
    "                    [--limit-test N] [--batch-size B] [--threads N]\n"
    "\n"
    "Evaluates a checkpoint of 'maxdrop train' (its network is rebuilt from the\n"
    "configuration stored in the file) on the test set: prints the accuracy, the\n"
    "error and the accuracy of every class (names from the data folder). A run on\n"
    "an image folder (--dataset folder) is evaluated on DIR/test/ with the run's\n"
    "--resize setting; its classes must be those the network was trained on.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE     a checkpoint.safetensors of a run folder\n"
    "  --data DIR            data folder (default: the one the run was trained\n"
    "                        with, recorded in the checkpoint; if it is gone,\n"
    "                        $MAXDROP_DATA, ./data, ../shared/data, the first that\n"
    "                        has the data set)\n"
    "  --maxdrop-at-eval     MaxDropout active at test time (reference code);\n"
    "  --no-maxdrop-at-eval  ... or not; default: as the run was trained\n"
    "  --limit-test N        the first N test images (default: all)\n"
    "  --batch-size B        test batch (default: the run's batch size; it matters\n"
    "                        with --maxdrop-at-eval, whose statistics span a batch)\n"
    "  --threads N           OpenMP threads\n"
    "  --progress MODE       auto | bar | lines | off (default auto)\n"
    "  -h, --help            show this help\n";

int md_cmd_eval(int argc, char **argv) {
  const char *ckpt = NULL, *data = NULL, *progress = "auto";
  int at_eval = -1;
  long limit = 0, batch = 0, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    int missing = 0;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    char sw[64];
    const char *sw_value;
    const char *sw_name = md_cli_split_flag(a, sw, sizeof sw, &sw_value);
    const int on = !strcmp(sw_name, "--maxdrop-at-eval");
    if (on || !strcmp(sw_name, "--no-maxdrop-at-eval")) {
      if (sw_value) return md_cli_usage_error(CMD, "%s takes no value", sw_name);
      at_eval = on;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--checkpoint", &missing))) {
      ckpt = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--data", &missing))) {
      data = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--progress", &missing))) {
      progress = v;
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--limit-test", &missing))) {
      if (md_cli_parse_long(v, &limit) != 0 || limit < 0)
        return md_cli_usage_error(CMD, "--limit-test needs a whole number >= 0, not '%s'", v);
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--batch-size", &missing))) {
      if (md_cli_parse_long(v, &batch) != 0 || batch < 1 || batch > 65536)
        return md_cli_usage_error(CMD, "--batch-size needs a whole number in 1..65536, not '%s'", v);
    } else if ((v = md_cli_flag_value(argc, argv, &i, "--threads", &missing))) {
      if (md_cli_parse_long(v, &threads) != 0 || threads < 1 || threads > 4096)
        return md_cli_usage_error(CMD, "--threads needs a whole number in 1..4096, not '%s'", v);
    } else if (missing) {
      return md_cli_usage_error(CMD, "%s needs a value", a);
    } else if (a[0] == '-') {
      return md_cli_usage_error(CMD, "unknown option '%s'", a);
    } else {
      return md_cli_usage_error(CMD, "unexpected argument '%s'", a);
    }
  }
  if (!ckpt || !*ckpt) return md_cli_usage_error(CMD, "which checkpoint? (--checkpoint FILE)");
  md_progress_mode pmode;
  if (!strcmp(progress, "auto")) pmode = MD_PROGRESS_AUTO;
  else if (!strcmp(progress, "bar")) pmode = MD_PROGRESS_BAR;
  else if (!strcmp(progress, "lines")) pmode = MD_PROGRESS_LINES;
  else if (!strcmp(progress, "off")) pmode = MD_PROGRESS_OFF;
  else return md_cli_usage_error(CMD, "--progress must be auto, bar, lines or off, not '%s'", progress);
  md_cli_set_threads(threads);

  /* The run's configuration, from the checkpoint. */
  md_errbuf eb;
  md_errbuf_clear(&eb);
  md_safetensors *f = NULL;
  md_status st = md_safetensors_open(ckpt, &f, &eb);
  if (st != MD_OK) return md_cli_status_error(CMD, "cannot read the checkpoint", st, &eb);
  md_run_options o;
  char err[300];
  const char *cfg_text = md_safetensors_meta_get(f, "config");
  const char *epoch_text = md_safetensors_meta_get(f, MD_CKPT_KEY_EPOCH);
  const char *step_text = md_safetensors_meta_get(f, MD_TRAIN_KEY_STEP);
  long long epoch = -1, step = 0;
  if (epoch_text) epoch = strtoll(epoch_text, NULL, 10);
  if (step_text) step = strtoll(step_text, NULL, 10);
  if (!cfg_text) {
    md_safetensors_close(f);
    return md_cli_error(CMD, "%s holds no training configuration (metadata 'config'): is it a "
                        "checkpoint of 'maxdrop train'? (A file made by 'tools/checkpoint_torch.py "
                        "from-torch' gets one with --meta \"config=$(cat RUN/config.json)\".)",
                        ckpt);
  }
  const int bad = md_opts_from_json(&o, cfg_text, err, sizeof err);
  char *config = bad ? NULL : strdup(cfg_text);
  md_safetensors_close(f);
  if (bad) return md_cli_error(CMD, "%s: its training configuration is invalid: %s", ckpt, err);
  if (!config) return md_cli_error(CMD, "out of memory");
  if (at_eval >= 0) o.maxdrop_at_eval = at_eval;
  if (o.maxdrop_at_eval && o.reg != 1) {
    free(config);
    return md_cli_usage_error(CMD, "--maxdrop-at-eval: this network has no MaxDropout");
  }
  if (batch > 0) o.batch_size = (int)batch;
  /* The data the run was trained with, unless told otherwise. */
  if (!data) data = md_cli_run_data_dir(CMD, &o);

  md_cli_dataset test;
  char root[MD_OPT_PATH];
  int rc = md_cli_load_dataset(CMD, &o, data, MD_CIFAR_TEST, limit, &test, root, sizeof root);
  if (!rc && o.dataset == MD_DATASET_FOLDER)
    rc = md_cli_check_run_classes(CMD, config, ckpt, &o, &test);
  free(config);
  if (rc) {
    md_cli_dataset_free(&test);
    return rc;
  }

  const int classes = md_opts_num_classes(&o);
  md_model *model = NULL;
  int64_t *cc = calloc((size_t)classes, sizeof *cc), *ct = calloc((size_t)classes, sizeof *ct);
  rc = 1;
  const md_model_config mc = md_opts_model_config(&o);
  if (!cc || !ct) {
    md_cli_error(CMD, "out of memory");
    goto done;
  }
  st = md_model_create(&mc, o.batch_size, o.seed, &model, &eb);
  if (st != MD_OK) {
    md_cli_status_error(CMD, "cannot build the model", st, &eb);
    goto done;
  }
  st = md_model_load(model, ckpt, 0, &eb);
  if (st != MD_OK) {
    md_cli_status_error(CMD, "cannot load the checkpoint", st, &eb);
    goto done;
  }
  md_progress pr;
  md_progress_init(&pr, pmode, o.batch_size, 0, test.data.n);
  md_train_hooks hooks = {&pr, md_progress_on_progress, NULL, NULL, NULL};
  md_eval_result res;
  st = md_evaluate(model, &test.data, o.batch_size, &res, cc, ct, &hooks, &eb);
  md_progress_finish_line(&pr);
  if (st != MD_OK) {
    md_cli_status_error(CMD, "evaluation failed", st, &eb);
    goto done;
  }
  printf("checkpoint %s", ckpt);
  if (epoch >= 0 && step > 0)
    printf(" (epoch %lld of %d, stopped after %lld training steps of it)", epoch + 1, o.epochs,
           step);
  else if (epoch >= 0)
    printf(" (after epoch %lld of %d)", epoch, o.epochs);
  char desc[256], data_desc[128];
  md_opts_describe(&o, desc, sizeof desc);
  md_opts_describe_data(&o, data_desc, sizeof data_desc);
  printf("\nmodel: %s\n", desc);
  printf("test set: %s, %lld images from %s\n", data_desc, (long long)res.n,
         test.split_dir[0] ? test.split_dir : root);
  printf("test accuracy %.2f%%  error %.2f%%  loss %.4f  (%lld of %lld correct)\n",
         100.0 * res.acc, 100.0 * (1.0 - res.acc), res.loss, (long long)res.correct,
         (long long)res.n);
  printf("per-class accuracy:\n");
  for (int k = 0; k < classes; ++k) {
    const char *name = test.class_names ? test.class_names[k] : NULL;
    char fallback[32];
    if (!name) {
      snprintf(fallback, sizeof fallback, "class %d", k);
      name = fallback;
    }
    if (ct[k] > 0)
      printf("  %-16s %6.2f%%  (%lld/%lld)\n", name, 100.0 * (double)cc[k] / (double)ct[k],
             (long long)cc[k], (long long)ct[k]);
    else
      printf("  %-16s      -   (no test image)\n", name);
  }
  rc = 0;
done:
  md_model_free(model);
  free(cc);
  free(ct);
  md_cli_dataset_free(&test);
  return rc;
}
