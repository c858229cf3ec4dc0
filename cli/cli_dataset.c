/* Loading a CIFAR split for train and eval: the search order, the kind, the
 * first N images and int32 labels. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train_opts.h"

int md_cli_load_dataset(const char *cmd, const char *dir, int classes, md_cifar_split split,
                        long long limit, md_cli_dataset *out, char *root, size_t root_cap) {
  memset(out, 0, sizeof *out);
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
  int64_t n = out->cifar.n;
  if (limit > 0 && limit < n) n = limit;
  out->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->labels);
  if (!out->labels) {
    md_cifar_free(&out->cifar);
    return md_cli_error(cmd, "out of memory");
  }
  for (int64_t i = 0; i < n; ++i) out->labels[i] = out->cifar.labels[i];
  out->data.images = out->cifar.images;
  out->data.labels = out->labels;
  out->data.n = n;
  return 0;
}

void md_cli_dataset_free(md_cli_dataset *d) {
  if (!d) return;
  md_cifar_free(&d->cifar);
  free(d->labels);
  memset(d, 0, sizeof *d);
}
