/* The data pipeline alone: images per second of md_loader turning the
 * CIFAR-10 training set (uint8) into normalised float batches, in training
 * mode (shuffle, pad-4 crop, flip, normalisation, optionally Cutout and
 * RandomErasing) and in evaluation mode (normalisation only). Prefetching is
 * off, so the figure is the work of the one thread that, in training, runs
 * beside the network's threads. Compare with tools/bench_loader_torch.py
 * (torchvision's transforms on the same images). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <omp.h>

#include "bench.h"
#include "cli.h"
#include "maxdrop/cifar.h"
#include "maxdrop/loader.h"

static int time_mode(const md_bench_loader_opts *o, const md_cifar *d, const int32_t *labels,
                     int64_t n, int train, FILE *out) {
  md_loader_config lc = md_loader_default_config();
  lc.batch_size = o->batch;
  lc.train = train;
  lc.prefetch = 0;
  lc.seed = 1;
  if (train && o->cutout) {
    lc.cutout_holes = 1;
    lc.cutout_length = 16;
  }
  if (train) lc.erasing = o->erasing;
  md_errbuf eb = {{0}};
  md_loader *ld = NULL;
  md_status st = md_loader_create(&ld, &lc, d->images, labels, n, &eb);
  if (st != MD_OK) return md_cli_status_error("bench", "creating the loader", st, &eb);
  double *t = malloc((size_t)o->epochs * sizeof *t);
  int rc = 0;
  if (!t) {
    md_loader_destroy(ld);
    return md_cli_error("bench", "out of memory");
  }
  double checksum = 0.0;
  for (int e = -1; e < o->epochs; ++e) { /* e = -1: warm-up epoch */
    const double t0 = md_bench_now_s();
    st = md_loader_start_epoch(ld, e < 0 ? 0 : e);
    md_batch b = {0};
    while (st == MD_OK) {
      st = md_loader_next(ld, &b);
      if (st != MD_OK || b.size == 0) break;
      checksum += b.images[0];
    }
    if (st != MD_OK) {
      rc = md_cli_status_error("bench", "loading a batch", st, NULL);
      break;
    }
    if (e >= 0) t[e] = md_bench_now_s() - t0;
  }
  if (rc == 0) {
    const double epoch = md_bench_median(t, o->epochs);
    fprintf(out,
            "{\"name\":\"loader\",\"impl\":\"maxdrop\",\"mode\":\"%s\",\"cutout\":%d,"
            "\"random_erasing\":%d,\"images\":%lld,\"batch\":%d,\"epochs\":%d,\"threads\":1,"
            "\"prefetch\":0,"
            "\"epoch_median_s\":%.4f,\"images_per_s\":%.0f,\"ms_per_batch\":%.3f,"
            "\"checksum\":%.4f}\n",
            train ? "train" : "eval", train && o->cutout, train && o->erasing, (long long)n,
            o->batch, o->epochs, epoch, (double)n / epoch,
            1e3 * epoch / (double)((n + o->batch - 1) / o->batch), checksum);
    fflush(out);
  }
  free(t);
  md_loader_destroy(ld);
  return rc;
}

int md_bench_loader(const md_bench_loader_opts *o, FILE *out) {
  /* One thread, as the loader's own prefetch thread runs (Cutout and
   * RandomErasing would otherwise open OpenMP teams here). */
  omp_set_num_threads(1);
  md_errbuf eb = {{0}};
  md_cifar_location loc;
  md_status st = md_cifar_find_data(o->data, &loc, &eb);
  if (st != MD_OK) return md_cli_error("bench", "%s", eb.msg);
  if (!loc.cifar10[0])
    return md_cli_error("bench", "%s holds no cifar-10-batches-bin folder", loc.root);
  md_cifar d;
  st = md_cifar_load_split(loc.cifar10, MD_CIFAR_10, MD_CIFAR_TRAIN, &d, &eb);
  if (st != MD_OK) return md_cli_status_error("bench", "cannot load the training set", st, &eb);
  const int64_t n = o->limit > 0 && o->limit < d.n ? o->limit : d.n;
  if (o->limit > d.n)
    fprintf(stderr, "maxdrop bench: --limit %d is more than the %lld training images; timing all of them\n",
            o->limit, (long long)d.n);
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  int rc = 0;
  if (!labels) {
    rc = md_cli_error("bench", "out of memory");
  } else {
    for (int64_t i = 0; i < n; ++i) labels[i] = d.labels[i];
    rc = time_mode(o, &d, labels, n, 1, out);
    if (rc == 0) rc = time_mode(o, &d, labels, n, 0, out);
  }
  free(labels);
  md_cifar_free(&d);
  return rc;
}
