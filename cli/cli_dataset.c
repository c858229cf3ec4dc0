/* Loading a data set split for train and eval: CIFAR (the search order, the
 * kind) or an image folder (DIR/train, DIR/test, the 32 x 32 policy); the
 * first N images and int32 labels; the class lists checked against each other
 * and against the run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "train_opts.h"

static const char folder_layout[] =
    "--dataset folder reads DIR/train/ and DIR/test/ (DIR from --data), each with one "
    "subfolder of images per class, the same class names in both";

static int load_cifar(const char *cmd, const char *dir, int classes, md_cifar_split split,
                      md_cli_dataset *out, char *root, size_t root_cap) {
  md_errbuf eb;
  md_errbuf_clear(&eb);
  md_cifar_location loc;
  md_status st = md_cifar_find_data(dir && *dir ? dir : NULL, &loc, &eb);
  if (st != MD_OK)
    return md_cli_error(cmd, "%s\nGet CIFAR-%d with 'maxdrop data fetch cifar%d' (into ./data) "
                        "or name its folder with --data.",
                        eb.msg, classes, classes);
  const char *folder = classes == 100 ? loc.cifar100 : loc.cifar10;
  if (!folder[0])
    return md_cli_error(cmd,
                        "%s holds no %s folder; get it with 'maxdrop data fetch cifar%d' or name "
                        "another folder with --data",
                        loc.root, classes == 100 ? "cifar-100-binary" : "cifar-10-batches-bin",
                        classes);
  if (root) snprintf(root, root_cap, "%s", loc.root);
  st = md_cifar_load_split(folder, classes == 100 ? MD_CIFAR_100 : MD_CIFAR_10, split, &out->cifar,
                           &eb);
  if (st != MD_OK)
    return md_cli_status_error(cmd, split == MD_CIFAR_TRAIN ? "cannot load the training set"
                                                            : "cannot load the test set",
                               st, &eb);
  out->num_classes = classes;
  out->class_names = out->cifar.class_names;
  return 0;
}

static int load_folder(const char *cmd, const md_run_options *o, const char *dir,
                       md_cifar_split split, md_cli_dataset *out, char *root, size_t root_cap) {
  const char *what = split == MD_CIFAR_TRAIN ? "training" : "test";
  if (!dir || !*dir) return md_cli_usage_error(cmd, "which images? %s", folder_layout);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return md_cli_error(cmd, "cannot open the data folder %s: %s\n%s.", dir, strerror(errno),
                        folder_layout);
  snprintf(out->split_dir, sizeof out->split_dir, "%s%s%s", dir,
           dir[strlen(dir) - 1] == '/' ? "" : "/", split == MD_CIFAR_TRAIN ? "train" : "test");
  if (stat(out->split_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return md_cli_error(cmd, "%s has no %s/ folder for the %s images.\n%s.", dir,
                        split == MD_CIFAR_TRAIN ? "train" : "test", what, folder_layout);
  if (root) snprintf(root, root_cap, "%s", dir);
  md_errbuf eb;
  md_errbuf_clear(&eb);
  const md_status st = md_image_folder_load(
      out->split_dir, o->resize ? MD_FOLDER_SIZE_RESIZE : MD_FOLDER_SIZE_REJECT, &out->folder, &eb);
  if (st == MD_ERR_SHAPE)
    return md_cli_error(cmd,
                        "cannot load the %s images: %s\nEvery image must be 32 x 32, or "
                        "train with --resize to use the central square of each image scaled to "
                        "32 x 32 (eval and --resume keep the run's setting).",
                        what, eb.msg);
  if (st != MD_OK) {
    char head[64];
    snprintf(head, sizeof head, "cannot load the %s images", what);
    return md_cli_status_error(cmd, head, st, &eb);
  }
  const md_image_folder *f = &out->folder;
  if (f->n_resized > 0)
    fprintf(stderr, "maxdrop %s: %s: %lld of %lld images %s not 32 x 32; their central square "
            "was scaled to 32 x 32 (--resize)\n",
            cmd, out->split_dir, (long long)f->n_resized, (long long)f->n,
            f->n_resized == 1 ? "was" : "were");
  if (f->n_skipped > 0)
    fprintf(stderr, "maxdrop %s: %s: skipped %lld file%s that %s not an image in a class folder, "
            "such as %s\n",
            cmd, out->split_dir, (long long)f->n_skipped, f->n_skipped == 1 ? "" : "s",
            f->n_skipped == 1 ? "is" : "are", f->first_skipped ? f->first_skipped : "?");
  out->num_classes = f->num_classes;
  out->class_names = f->class_names;
  return 0;
}

int md_cli_load_dataset(const char *cmd, const md_run_options *o, const char *dir,
                        md_cifar_split split, long long limit, md_cli_dataset *out, char *root,
                        size_t root_cap) {
  memset(out, 0, sizeof *out);
  const int folder = o->dataset == MD_DATASET_FOLDER;
  const int rc = folder ? load_folder(cmd, o, dir, split, out, root, root_cap)
                        : load_cifar(cmd, dir, o->dataset == MD_DATASET_CIFAR100 ? 100 : 10, split,
                                     out, root, root_cap);
  if (rc) {
    md_cli_dataset_free(out);
    return rc;
  }
  const uint8_t *images = folder ? out->folder.images : out->cifar.images;
  int64_t n = folder ? out->folder.n : out->cifar.n;
  if (limit > n)
    fprintf(stderr, "maxdrop %s: --limit-%s %lld is more than the %lld %s images; using all of "
            "them\n",
            cmd, split == MD_CIFAR_TRAIN ? "train" : "test", limit, (long long)n,
            split == MD_CIFAR_TRAIN ? "training" : "test");
  if (limit > 0 && limit < n) n = limit;
  out->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->labels);
  if (!out->labels) {
    md_cli_dataset_free(out);
    return md_cli_error(cmd, "out of memory");
  }
  for (int64_t i = 0; i < n; ++i)
    out->labels[i] = folder ? out->folder.labels[i] : out->cifar.labels[i];
  out->data.images = images;
  out->data.labels = out->labels;
  out->data.n = n;
  return 0;
}

const char *md_cli_run_data_dir(const char *cmd, const md_run_options *o) {
  const char *recorded = o->data[0] ? o->data : o->data_root;
  if (!recorded[0]) return NULL;
  if (o->dataset == MD_DATASET_FOLDER) return recorded;
  md_cifar_location loc;
  md_errbuf eb;
  md_errbuf_clear(&eb);
  const int c100 = o->dataset == MD_DATASET_CIFAR100;
  if (md_cifar_find_data(recorded, &loc, &eb) == MD_OK && (c100 ? loc.cifar100 : loc.cifar10)[0])
    return recorded;
  fprintf(stderr, "maxdrop %s: %s, where this run's data was, no longer holds %s; searching for "
          "it ($MAXDROP_DATA, ./data, ../shared/data; or name the folder with --data)\n",
          cmd, recorded, c100 ? "CIFAR-100" : "CIFAR-10");
  return NULL;
}

void md_cli_dataset_free(md_cli_dataset *d) {
  if (!d) return;
  md_cifar_free(&d->cifar);
  md_image_folder_free(&d->folder);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

int md_cli_same_classes(const char *cmd, char *const *a, int na, const char *a_what,
                        char *const *b, int nb, const char *b_what) {
  int i = 0, j = 0;
  while (i < na && j < nb) {
    const int c = strcmp(a[i], b[j]);
    if (c == 0) {
      ++i;
      ++j;
    } else {
      break;
    }
  }
  if (i == na && j == nb) return 0;
  /* The first name in one list and not in the other, in strcmp order. */
  const int a_first = j == nb || (i < na && strcmp(a[i], b[j]) < 0);
  return md_cli_error(cmd,
                      "the classes differ: %s has class '%s' that %s lacks (%d classes in %s, %d "
                      "in %s); the class subfolders must have the same names",
                      a_first ? a_what : b_what, a_first ? a[i] : b[j],
                      a_first ? b_what : a_what, na, a_what, nb, b_what);
}

int md_cli_check_run_classes(const char *cmd, const char *config_text, const char *where,
                             const md_run_options *o, const md_cli_dataset *d) {
  const int want = md_opts_num_classes(o);
  const char *dir = d->split_dir[0] ? d->split_dir : "the data";
  if (d->num_classes != want)
    return md_cli_error(cmd,
                        "%s has %d class%s but the network of %s was trained on %d; give --data "
                        "the image folder the run was trained with",
                        dir, d->num_classes, d->num_classes == 1 ? "" : "es", where, want);
  char **names = NULL;
  int n = 0;
  char err[256];
  if (md_opts_class_names_from_json(config_text, &names, &n, err, sizeof err) != 0)
    return md_cli_error(cmd, "%s: its configuration is invalid: %s", where, err);
  int rc = 0;
  if (names && d->class_names) {
    char run_what[MD_OPT_PATH + 32];
    snprintf(run_what, sizeof run_what, "the run of %s", where);
    rc = md_cli_same_classes(cmd, d->class_names, d->num_classes, dir, names, n, run_what);
  }
  for (int k = 0; k < n; ++k) free(names[k]);
  free(names);
  return rc;
}
