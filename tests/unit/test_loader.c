/* The batch loader: coverage of every image once per epoch, batch sizes, the
 * order across epochs and seeds, labels attached to their images, evaluation
 * mode, prefetching equal to synchronous loading, resuming at an epoch, the
 * regularizers in the pipeline and the errors. */
#include <stdlib.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/augment.h"
#include "maxdrop/cutout.h"
#include "maxdrop/loader.h"

enum { C = 3, H = 32, W = 32, E = C * H * W };

typedef struct dataset {
  int64_t n;
  uint8_t *images; /* (n, C, H, W) */
  int32_t *labels; /* (n) */
} dataset;

/* Random pixels; image i carries its index in its first three bytes so that a
 * batch image can be traced back; label = a function of i. */
static dataset make_dataset(int64_t n) {
  dataset d = {n, malloc((size_t)(n * E)), malloc((size_t)n * sizeof(int32_t))};
  assert_non_null(d.images);
  assert_non_null(d.labels);
  md_rng r;
  md_rng_init(&r, 5, 77);
  for (int64_t i = 0; i < n * E; ++i) d.images[i] = (uint8_t)md_rng_below(&r, 256);
  for (int64_t i = 0; i < n; ++i) {
    d.images[i * E + 0] = (uint8_t)(i & 255);
    d.images[i * E + 1] = (uint8_t)((i >> 8) & 255);
    d.images[i * E + 2] = (uint8_t)((i >> 16) & 255);
    d.labels[i] = (int32_t)((i * 7 + 3) % 100);
  }
  return d;
}

static void free_dataset(dataset *d) {
  free(d->images);
  free(d->labels);
}

static md_loader *make_loader(const dataset *d, int64_t batch, int train, int prefetch,
                              uint64_t seed) {
  md_loader_config cfg = md_loader_default_config();
  cfg.batch_size = batch;
  cfg.train = train;
  cfg.prefetch = prefetch;
  cfg.seed = seed;
  md_loader *ld = NULL;
  md_errbuf eb;
  eb.msg[0] = '\0';
  const md_status st = md_loader_create(&ld, &cfg, d->images, d->labels, d->n, &eb);
  if (st != MD_OK) fail_msg("md_loader_create: %s (%s)", md_strerror(st), eb.msg);
  return ld;
}

/* Runs one epoch; returns the sources in order (n) and checks batch sizes,
 * labels and the image contents against md_augment_image of the source. */
static void run_epoch(md_loader *ld, const dataset *d, int64_t epoch, int64_t batch,
                      int train, int64_t *order) {
  md_augment a;
  const md_augment_config acfg = md_augment_cifar_config();
  assert_int_equal(md_augment_init(&a, &acfg, NULL), MD_OK);
  float *want = malloc(E * sizeof *want);
  assert_non_null(want);
  assert_int_equal(md_loader_start_epoch(ld, epoch), MD_OK);
  const int64_t nb = md_loader_num_batches(ld);
  assert_int_equal(nb, (d->n + batch - 1) / batch);
  int64_t pos = 0;
  for (int64_t k = 0; k < nb; ++k) {
    md_batch b;
    assert_int_equal(md_loader_next(ld, &b), MD_OK);
    const int64_t expect = (k < nb - 1) ? batch : d->n - (nb - 1) * batch;
    assert_int_equal(b.size, expect);
    assert_int_equal(b.index, k);
    assert_int_equal(b.epoch, epoch);
    for (int64_t i = 0; i < b.size; ++i) {
      const int64_t src = b.sources[i];
      assert_in_range(src, 0, d->n - 1);
      order[pos++] = src;
      assert_int_equal(b.labels[i], d->labels[src]);
      if (train) {
        assert_in_range(b.choices[i].dy, 0, 8);
        assert_in_range(b.choices[i].dx, 0, 8);
        md_augment_image(&a, d->images + src * E, b.choices[i], want);
      } else {
        assert_int_equal(b.choices[i].dy, 4);
        assert_int_equal(b.choices[i].dx, 4);
        assert_int_equal(b.choices[i].flip, 0);
        md_normalize_image(&a, d->images + src * E, want);
      }
      md_assert_floats_identical(b.images + i * E, want, E);
    }
  }
  assert_int_equal(pos, d->n);
  md_batch end;
  assert_int_equal(md_loader_next(ld, &end), MD_OK);
  assert_int_equal(end.size, 0);
  assert_int_equal(md_loader_next(ld, &end), MD_OK);
  assert_int_equal(end.size, 0);
  free(want);
}

static void assert_permutation(const int64_t *order, int64_t n) {
  char *seen = calloc((size_t)n, 1);
  assert_non_null(seen);
  for (int64_t i = 0; i < n; ++i) {
    assert_in_range(order[i], 0, n - 1);
    if (seen[order[i]]) fail_msg("index %lld appears twice", (long long)order[i]);
    seen[order[i]] = 1;
  }
  free(seen);
}

static int same_order(const int64_t *a, const int64_t *b, int64_t n) {
  return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* Every index once per epoch, last batch smaller, orders differ between
 * epochs and are not the identity; labels and pixels follow their image. */
static void test_epochs_cover_everything(void **state) {
  (void)state;
  const int64_t n = 1000, B = 128;
  dataset d = make_dataset(n);
  for (int prefetch = 0; prefetch < 2; ++prefetch) {
    md_loader *ld = make_loader(&d, B, 1, prefetch, 42);
    int64_t *o0 = malloc(n * sizeof *o0), *o1 = malloc(n * sizeof *o1);
    assert_non_null(o0);
    assert_non_null(o1);
    run_epoch(ld, &d, 0, B, 1, o0);
    run_epoch(ld, &d, 1, B, 1, o1);
    assert_permutation(o0, n);
    assert_permutation(o1, n);
    assert_false(same_order(o0, o1, n));
    int64_t fixed = 0;
    for (int64_t i = 0; i < n; ++i) fixed += o0[i] == i;
    assert_true(fixed < 20); /* a shuffled order keeps ~1 element in place */
    free(o0);
    free(o1);
    md_loader_destroy(ld);
  }
  free_dataset(&d);
}

/* Evaluation: dataset order, normalisation only, last batch kept. */
static void test_eval_mode(void **state) {
  (void)state;
  const int64_t n = 300, B = 128;
  dataset d = make_dataset(n);
  for (int prefetch = 0; prefetch < 2; ++prefetch) {
    md_loader *ld = make_loader(&d, B, 0, prefetch, 42);
    int64_t *o = malloc(n * sizeof *o);
    assert_non_null(o);
    for (int64_t e = 0; e < 2; ++e) {
      run_epoch(ld, &d, e, B, 0, o);
      for (int64_t i = 0; i < n; ++i) assert_int_equal(o[i], i);
    }
    free(o);
    md_loader_destroy(ld);
  }
  free_dataset(&d);
}

/* Same seed, same batches; another seed, another order. */
static void test_seed_reproducibility(void **state) {
  (void)state;
  const int64_t n = 500, B = 64;
  dataset d = make_dataset(n);
  int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  md_loader *l1 = make_loader(&d, B, 1, 1, 1234);
  md_loader *l2 = make_loader(&d, B, 1, 0, 1234);
  md_loader *l3 = make_loader(&d, B, 1, 1, 1235);
  run_epoch(l1, &d, 3, B, 1, a);
  run_epoch(l2, &d, 3, B, 1, b);
  run_epoch(l3, &d, 3, B, 1, c);
  assert_true(same_order(a, b, n));
  assert_false(same_order(a, c, n));
  md_loader_destroy(l1);
  md_loader_destroy(l2);
  md_loader_destroy(l3);
  free(a);
  free(b);
  free(c);
  free_dataset(&d);
}

/* Copies every batch of an epoch (images, labels, sources) into one buffer. */
typedef struct epoch_dump {
  float *images;
  int32_t *labels;
  int64_t *sources;
} epoch_dump;

static epoch_dump dump_epoch(md_loader *ld, int64_t n, int64_t epoch) {
  epoch_dump out = {malloc((size_t)(n * E) * sizeof(float)), malloc((size_t)n * 4),
                    malloc((size_t)n * 8)};
  assert_non_null(out.images);
  assert_non_null(out.labels);
  assert_non_null(out.sources);
  assert_int_equal(md_loader_start_epoch(ld, epoch), MD_OK);
  int64_t pos = 0;
  md_batch b;
  for (;;) {
    assert_int_equal(md_loader_next(ld, &b), MD_OK);
    if (b.size == 0) break;
    memcpy(out.images + pos * E, b.images, (size_t)(b.size * E) * sizeof(float));
    memcpy(out.labels + pos, b.labels, (size_t)b.size * 4);
    memcpy(out.sources + pos, b.sources, (size_t)b.size * 8);
    pos += b.size;
  }
  assert_int_equal(pos, n);
  return out;
}

static void assert_dumps_equal(const epoch_dump *x, const epoch_dump *y, int64_t n) {
  assert_memory_equal(x->sources, y->sources, (size_t)n * 8);
  assert_memory_equal(x->labels, y->labels, (size_t)n * 4);
  md_assert_floats_identical(x->images, y->images, (size_t)(n * E));
}

static void free_dump(epoch_dump *x) {
  free(x->images);
  free(x->labels);
  free(x->sources);
}

static md_loader *make_loader_reg(const dataset *d, int64_t batch, int prefetch,
                                  uint64_t seed) {
  md_loader_config cfg = md_loader_default_config();
  cfg.batch_size = batch;
  cfg.prefetch = prefetch;
  cfg.seed = seed;
  cfg.cutout_holes = 1;
  cfg.cutout_length = 16;
  cfg.erasing = 1;
  md_loader *ld = NULL;
  assert_int_equal(md_loader_create(&ld, &cfg, d->images, d->labels, d->n, NULL), MD_OK);
  return ld;
}

/* Prefetching gives the batches of synchronous loading, bit for bit, with and
 * without Cutout + RandomErasing; resuming at epoch 2 needs no history. */
static void test_prefetch_equals_sync_and_resume(void **state) {
  (void)state;
  const int64_t n = 700, B = 96;
  dataset d = make_dataset(n);
  for (int reg = 0; reg < 2; ++reg) {
    md_loader *sync = reg ? make_loader_reg(&d, B, 0, 9) : make_loader(&d, B, 1, 0, 9);
    md_loader *pre = reg ? make_loader_reg(&d, B, 1, 9) : make_loader(&d, B, 1, 1, 9);
    md_loader *late = reg ? make_loader_reg(&d, B, 1, 9) : make_loader(&d, B, 1, 1, 9);
    epoch_dump s[3], p[3];
    for (int e = 0; e < 3; ++e) {
      s[e] = dump_epoch(sync, n, e);
      p[e] = dump_epoch(pre, n, e);
      assert_dumps_equal(&s[e], &p[e], n);
    }
    /* Resume: a fresh loader started directly at epoch 2. */
    epoch_dump r = dump_epoch(late, n, 2);
    assert_dumps_equal(&s[2], &r, n);
    /* Restarting epoch 1 on a loader that has run epoch 2 reproduces epoch 1. */
    epoch_dump again = dump_epoch(pre, n, 1);
    assert_dumps_equal(&s[1], &again, n);
    if (reg) {
      /* The regularizers changed something: an image with a zero hole differs
       * from its plain augmentation. */
      md_loader *plain = make_loader(&d, B, 1, 0, 9);
      epoch_dump q = dump_epoch(plain, n, 0);
      assert_memory_equal(q.sources, s[0].sources, (size_t)n * 8);
      int64_t differ = 0, zeros = 0;
      for (int64_t i = 0; i < n * E; ++i) {
        differ += q.images[i] != s[0].images[i];
        zeros += s[0].images[i] == 0.0f;
      }
      assert_true(differ > n * 50);
      assert_true(zeros > n * 50);
      free_dump(&q);
      md_loader_destroy(plain);
    }
    for (int e = 0; e < 3; ++e) {
      free_dump(&s[e]);
      free_dump(&p[e]);
    }
    free_dump(&r);
    free_dump(&again);
    md_loader_destroy(sync);
    md_loader_destroy(pre);
    md_loader_destroy(late);
  }
  free_dataset(&d);
}

/* A restart in the middle of an epoch (batch held, next one in flight) and a
 * destroy in the middle of an epoch leave nothing behind (ASan checks). */
static void test_restart_and_shutdown_mid_epoch(void **state) {
  (void)state;
  const int64_t n = 400, B = 32;
  dataset d = make_dataset(n);
  md_loader *ref = make_loader(&d, B, 1, 0, 3);
  epoch_dump want = dump_epoch(ref, n, 4);
  md_loader_destroy(ref);
  for (int round = 0; round < 20; ++round) {
    md_loader *ld = make_loader(&d, B, 1, 1, 3);
    assert_int_equal(md_loader_start_epoch(ld, 7), MD_OK);
    md_batch b;
    for (int k = 0; k < round % 5; ++k) assert_int_equal(md_loader_next(ld, &b), MD_OK);
    epoch_dump got = dump_epoch(ld, n, 4);
    assert_dumps_equal(&want, &got, n);
    free_dump(&got);
    assert_int_equal(md_loader_start_epoch(ld, 5), MD_OK);
    for (int k = 0; k < round % 3; ++k) assert_int_equal(md_loader_next(ld, &b), MD_OK);
    md_loader_destroy(ld); /* mid-epoch */
  }
  free_dump(&want);
  /* Destroy right after create, and without any epoch. */
  md_loader_destroy(make_loader(&d, B, 1, 1, 3));
  md_loader_destroy(NULL);
  free_dataset(&d);
}

/* Fewer images than a batch: one batch of n; batch of 1: n batches. */
static void test_small_sizes(void **state) {
  (void)state;
  dataset d = make_dataset(5);
  int64_t o[5];
  md_loader *ld = make_loader(&d, 128, 1, 1, 0);
  assert_int_equal(md_loader_num_batches(ld), 1);
  run_epoch(ld, &d, 0, 128, 1, o);
  assert_permutation(o, 5);
  md_loader_destroy(ld);
  ld = make_loader(&d, 1, 1, 1, 0);
  assert_int_equal(md_loader_num_batches(ld), 5);
  run_epoch(ld, &d, 0, 1, 1, o);
  assert_permutation(o, 5);
  md_loader_destroy(ld);
  ld = make_loader(&d, 5, 0, 0, 0);
  run_epoch(ld, &d, 0, 5, 0, o);
  md_loader_destroy(ld);
  free_dataset(&d);
}

/* The epoch streams are the documented positions of the plain streams. */
static void test_epoch_rng(void **state) {
  (void)state;
  md_rng r = md_loader_epoch_rng(17, MD_STREAM_DATA_ORDER, 3);
  md_rng plain;
  md_rng_init(&plain, 17, MD_STREAM_DATA_ORDER);
  uint64_t blk[4];
  md_rng_block(&plain, 3 * (UINT64_C(1) << 32), blk);
  for (int i = 0; i < 4; ++i) assert_int_equal(md_rng_u64(&r), blk[i]);
  md_rng_block(&plain, 3 * (UINT64_C(1) << 32) + 1, blk);
  assert_int_equal(md_rng_u64(&r), blk[0]);
  md_rng r0 = md_loader_epoch_rng(17, MD_STREAM_DATA_ORDER, 0);
  assert_int_equal(md_rng_u64(&r0), md_rng_u64(&plain));
}

static void test_errors(void **state) {
  (void)state;
  dataset d = make_dataset(10);
  md_loader_config cfg = md_loader_default_config();
  md_loader *ld = (md_loader *)&cfg; /* must be reset to NULL on failure */
  md_errbuf eb;
  cfg.batch_size = 0;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_null(ld);
  assert_non_null(strstr(eb.msg, "batch size"));
  cfg = md_loader_default_config();
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 0, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_loader_create(&ld, &cfg, NULL, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, NULL, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_loader_create(NULL, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  cfg.train = 2;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  cfg = md_loader_default_config();
  cfg.aug.std[0] = -1.0f;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "std"));
  cfg = md_loader_default_config();
  cfg.cutout_holes = -1;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  cfg = md_loader_default_config();
  cfg.erasing = 1;
  cfg.erasing_cfg.p = 2.0f;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  cfg = md_loader_default_config();
  d.labels[6] = -3;
  assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb), MD_ERR_RANGE);
  assert_non_null(strstr(eb.msg, "label -3 of image 6"));
  d.labels[6] = 0;
  for (int prefetch = 0; prefetch < 2; ++prefetch) {
    cfg.prefetch = prefetch;
    assert_int_equal(md_loader_create(&ld, &cfg, d.images, d.labels, 10, &eb), MD_OK);
    md_batch b;
    assert_int_equal(md_loader_next(ld, &b), MD_ERR_STATE);
    assert_int_equal(md_loader_start_epoch(ld, -1), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_loader_start_epoch(ld, INT64_C(1) << 32), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_loader_next(ld, NULL), MD_ERR_INVALID_ARGUMENT);
    assert_int_equal(md_loader_start_epoch(ld, 0), MD_OK);
    assert_int_equal(md_loader_next(ld, &b), MD_OK);
    assert_int_equal(b.size, 10);
    md_loader_destroy(ld);
  }
  assert_int_equal(md_loader_num_batches(NULL), 0);
  free_dataset(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_epochs_cover_everything),
      cmocka_unit_test(test_eval_mode),
      cmocka_unit_test(test_seed_reproducibility),
      cmocka_unit_test(test_prefetch_equals_sync_and_resume),
      cmocka_unit_test(test_restart_and_shutdown_mid_epoch),
      cmocka_unit_test(test_small_sizes),
      cmocka_unit_test(test_epoch_rng),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
