/* Epoch-based batch loader with one prefetch thread (see maxdrop/loader.h).
 *
 * Two slots (buffers). The producer fills batches strictly in epoch order,
 * each into a free slot; the consumer takes the ready slot holding the batch
 * it wants next and gives it back on its next call. All epoch state (the
 * permutation, the random streams, the Cutout/RandomErasing objects) is
 * touched only by the producer while it fills, and by md_loader_start_epoch
 * only while no fill is in progress, so batches never depend on timing. */
#include "maxdrop/loader.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/errbuf.h"
#include "maxdrop/cutout.h"
#include "maxdrop/tensor.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HELD, N_SLOTS = 2 };

typedef struct slot {
  float *images;         /* (B, C, H, W) */
  int32_t *labels;       /* (B) */
  int64_t *sources;      /* (B) */
  md_crop_flip *choices; /* (B) */
  int64_t size, index, epoch;
  md_status status;
  int state;
} slot;

struct md_loader {
  md_loader_config cfg;
  md_augment aug;
  const uint8_t *images; /* (n, C, H, W) */
  const int32_t *labels; /* (n) */
  int64_t n, nbatches, image_elems;
  int64_t *perm;         /* (n) this epoch's order */

  /* Epoch state, owned by whoever fills (see the file comment). */
  int started;
  int64_t epoch;
  md_rng aug_rng;
  md_cutout cutout;
  md_erasing erasing;
  int have_cutout, have_erasing;
  int64_t next_fill; /* next batch the producer fills */
  int64_t next_take; /* next batch the consumer takes */

  slot slots[N_SLOTS];
  int held; /* slot handed to the caller, or -1 */

  /* Prefetch thread. */
  int thread_started;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv_work; /* producer waits: a free slot, a new epoch, quit */
  pthread_cond_t cv_done; /* consumer waits: a ready slot, an idle producer */
  int busy;               /* a fill is in progress */
  int quit;
};

md_loader_config md_loader_default_config(void) {
  md_loader_config c;
  memset(&c, 0, sizeof c);
  c.batch_size = 128;
  c.train = 1;
  c.prefetch = 1;
  c.seed = 0;
  c.aug = md_augment_cifar_config();
  c.cutout_holes = 0;
  c.cutout_length = 16;
  c.erasing = 0;
  c.erasing_cfg = md_erasing_default_config();
  return c;
}

md_rng md_loader_epoch_rng(uint64_t seed, uint64_t stream, int64_t epoch) {
  md_rng r;
  md_rng_init(&r, seed, stream);
  r.block = (uint64_t)epoch * MD_LOADER_EPOCH_BLOCKS;
  return r;
}

int64_t md_loader_num_batches(const md_loader *ld) { return ld ? ld->nbatches : 0; }

/* Fills slot s with batch k of the current epoch. */
static void fill(md_loader *ld, slot *s, int64_t k) {
  const int64_t B = ld->cfg.batch_size, E = ld->image_elems;
  const int64_t start = k * B;
  const int64_t size = (ld->n - start < B) ? ld->n - start : B;
  s->index = k;
  s->epoch = ld->epoch;
  s->size = size;
  s->status = MD_OK;
  const md_crop_flip id = md_crop_flip_identity(&ld->aug);
  for (int64_t i = 0; i < size; ++i) {
    const int64_t src = ld->perm[start + i];
    const uint8_t *img = ld->images + src * E;
    float *dst = s->images + i * E;
    s->sources[i] = src;
    s->labels[i] = ld->labels[src];
    if (ld->cfg.train) {
      s->choices[i] = md_augment_draw(&ld->aug, &ld->aug_rng);
      md_augment_image(&ld->aug, img, s->choices[i], dst);
    } else {
      s->choices[i] = id;
      md_normalize_image(&ld->aug, img, dst);
    }
  }
  if (!ld->cfg.train) return;
  const md_augment_config *a = &ld->cfg.aug;
  const md_shape shape = md_shape4(size, a->channels, a->height, a->width);
  if (ld->have_cutout) {
    s->status = md_cutout_forward(&ld->cutout, shape, s->images, s->images, 1);
    if (s->status != MD_OK) return;
  }
  if (ld->have_erasing)
    s->status = md_erasing_forward(&ld->erasing, shape, s->images, s->images, 1);
}

static void *producer(void *arg) {
  md_loader *ld = arg;
  /* The batch-wide regularizers may open OpenMP regions; this thread keeps
   * them to itself so that it never competes with the training threads. */
  omp_set_num_threads(1);
  pthread_mutex_lock(&ld->mu);
  for (;;) {
    if (ld->quit) break;
    int free_slot = -1;
    if (ld->started && ld->next_fill < ld->nbatches) {
      for (int i = 0; i < N_SLOTS; ++i)
        if (ld->slots[i].state == SLOT_FREE) {
          free_slot = i;
          break;
        }
    }
    if (free_slot < 0) {
      pthread_cond_wait(&ld->cv_work, &ld->mu);
      continue;
    }
    slot *s = &ld->slots[free_slot];
    const int64_t k = ld->next_fill++;
    s->state = SLOT_FILLING;
    ld->busy = 1;
    pthread_mutex_unlock(&ld->mu);
    fill(ld, s, k);
    pthread_mutex_lock(&ld->mu);
    s->state = SLOT_READY;
    ld->busy = 0;
    pthread_cond_broadcast(&ld->cv_done);
  }
  pthread_mutex_unlock(&ld->mu);
  return NULL;
}

static void free_all(md_loader *ld) {
  for (int i = 0; i < N_SLOTS; ++i) {
    free(ld->slots[i].images);
    free(ld->slots[i].labels);
    free(ld->slots[i].sources);
    free(ld->slots[i].choices);
  }
  free(ld->perm);
  if (ld->have_cutout) md_cutout_free(&ld->cutout);
  if (ld->have_erasing) md_erasing_free(&ld->erasing);
  free(ld);
}

md_status md_loader_create(md_loader **out, const md_loader_config *cfg,
                           const uint8_t *images, const int32_t *labels, int64_t n,
                           md_errbuf *eb) {
  if (!out) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no place for the loader");
  *out = NULL;
  if (!cfg) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "no loader configuration");
  if (!images || !labels)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "the loader needs images and labels");
  if (n < 1) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "a dataset of %lld images",
                            (long long)n);
  if (cfg->batch_size < 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "batch size %lld; it must be >= 1",
                   (long long)cfg->batch_size);
  if (cfg->train != 0 && cfg->train != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "train must be 0 or 1, not %d", cfg->train);
  if (cfg->prefetch != 0 && cfg->prefetch != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "prefetch must be 0 or 1, not %d",
                   cfg->prefetch);
  if (cfg->cutout_holes < 0 || cfg->cutout_length < 0)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "Cutout with %d holes of side %d",
                   cfg->cutout_holes, cfg->cutout_length);
  if (cfg->erasing != 0 && cfg->erasing != 1)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "erasing must be 0 or 1, not %d",
                   cfg->erasing);
  if (cfg->erasing && md_erasing_config_check(&cfg->erasing_cfg) != MD_OK)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "invalid RandomErasing parameters");
  const int64_t image_elems = md_shape_numel(
      md_shape4(1, cfg->aug.channels, cfg->aug.height, cfg->aug.width));
  if (image_elems < 1 || image_elems > INT64_MAX / n)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "image shape %d x %d x %d",
                   cfg->aug.channels, cfg->aug.height, cfg->aug.width);
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0)
      return md_fail(eb, MD_ERR_RANGE, "label %d of image %lld is negative", labels[i],
                     (long long)i);

  md_loader *ld = calloc(1, sizeof *ld);
  if (!ld) return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory for the loader");
  ld->cfg = *cfg;
  md_status st = md_augment_init(&ld->aug, &cfg->aug, eb);
  if (st != MD_OK) {
    free(ld);
    return st;
  }
  ld->images = images;
  ld->labels = labels;
  ld->n = n;
  ld->image_elems = image_elems;
  ld->nbatches = (n + cfg->batch_size - 1) / cfg->batch_size;
  ld->held = -1;
  const int64_t B = cfg->batch_size < n ? cfg->batch_size : n;
  if ((uint64_t)B > SIZE_MAX / sizeof(float) / (uint64_t)image_elems) {
    free(ld);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "a batch of %lld images is too large",
                   (long long)B);
  }
  ld->perm = malloc((size_t)n * sizeof *ld->perm);
  int ok = ld->perm != NULL;
  for (int i = 0; i < N_SLOTS && ok; ++i) {
    slot *s = &ld->slots[i];
    s->images = malloc((size_t)(B * image_elems) * sizeof *s->images);
    s->labels = malloc((size_t)B * sizeof *s->labels);
    s->sources = malloc((size_t)B * sizeof *s->sources);
    s->choices = malloc((size_t)B * sizeof *s->choices);
    ok = s->images && s->labels && s->sources && s->choices;
    /* Only the producer thread fills in prefetch mode; synchronous mode uses slot 0. */
    if (!cfg->prefetch) break;
  }
  if (!ok) {
    free_all(ld);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory for the batch buffers");
  }
  const md_shape shape = md_shape4(B, cfg->aug.channels, cfg->aug.height, cfg->aug.width);
  if (cfg->train && cfg->cutout_holes > 0) {
    st = md_cutout_init(&ld->cutout, cfg->cutout_holes, cfg->cutout_length, cfg->seed,
                        MD_STREAM_CUTOUT);
    if (st == MD_OK) {
      ld->have_cutout = 1;
      st = md_cutout_reserve(&ld->cutout, shape);
    }
    if (st != MD_OK) {
      free_all(ld);
      return md_fail(eb, st, "cannot set up Cutout: %s", md_strerror(st));
    }
  }
  if (cfg->train && cfg->erasing) {
    st = md_erasing_init(&ld->erasing, &cfg->erasing_cfg, cfg->seed, MD_STREAM_ERASING);
    if (st == MD_OK) {
      ld->have_erasing = 1;
      st = md_erasing_reserve(&ld->erasing, shape);
    }
    if (st != MD_OK) {
      free_all(ld);
      return md_fail(eb, st, "cannot set up RandomErasing: %s", md_strerror(st));
    }
  }
  if (cfg->prefetch) {
    if (pthread_mutex_init(&ld->mu, NULL) != 0) {
      free_all(ld);
      return md_fail(eb, MD_ERR_STATE, "cannot create the loader's mutex");
    }
    if (pthread_cond_init(&ld->cv_work, NULL) != 0) {
      pthread_mutex_destroy(&ld->mu);
      free_all(ld);
      return md_fail(eb, MD_ERR_STATE, "cannot create the loader's condition variable");
    }
    if (pthread_cond_init(&ld->cv_done, NULL) != 0) {
      pthread_cond_destroy(&ld->cv_work);
      pthread_mutex_destroy(&ld->mu);
      free_all(ld);
      return md_fail(eb, MD_ERR_STATE, "cannot create the loader's condition variable");
    }
    const int e = pthread_create(&ld->thread, NULL, producer, ld);
    if (e != 0) {
      pthread_cond_destroy(&ld->cv_done);
      pthread_cond_destroy(&ld->cv_work);
      pthread_mutex_destroy(&ld->mu);
      free_all(ld);
      return md_fail(eb, MD_ERR_STATE, "cannot start the prefetch thread: %s", strerror(e));
    }
    ld->thread_started = 1;
  }
  *out = ld;
  return MD_OK;
}

void md_loader_destroy(md_loader *ld) {
  if (!ld) return;
  if (ld->thread_started) {
    pthread_mutex_lock(&ld->mu);
    ld->quit = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    pthread_cond_destroy(&ld->cv_done);
    pthread_cond_destroy(&ld->cv_work);
    pthread_mutex_destroy(&ld->mu);
  }
  free_all(ld);
}

/* Sets up epoch e; no fill may be in progress. */
static void setup_epoch(md_loader *ld, int64_t e) {
  const int64_t n = ld->n;
  for (int64_t i = 0; i < n; ++i) ld->perm[i] = i;
  const uint64_t seed = ld->cfg.seed;
  if (ld->cfg.train) {
    md_rng order = md_loader_epoch_rng(seed, MD_STREAM_DATA_ORDER, e);
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = (int64_t)md_rng_below(&order, (uint64_t)i + 1);
      const int64_t t = ld->perm[i];
      ld->perm[i] = ld->perm[j];
      ld->perm[j] = t;
    }
    ld->aug_rng = md_loader_epoch_rng(seed, MD_STREAM_AUGMENT, e);
    if (ld->have_cutout) ld->cutout.rng = md_loader_epoch_rng(seed, MD_STREAM_CUTOUT, e);
    if (ld->have_erasing)
      ld->erasing.rng = md_loader_epoch_rng(seed, MD_STREAM_ERASING, e);
  }
  for (int i = 0; i < N_SLOTS; ++i) ld->slots[i].state = SLOT_FREE;
  ld->held = -1;
  ld->epoch = e;
  ld->next_fill = 0;
  ld->next_take = 0;
  ld->started = 1;
}

md_status md_loader_start_epoch(md_loader *ld, int64_t epoch) {
  if (!ld) return MD_ERR_INVALID_ARGUMENT;
  if (epoch < 0 || (uint64_t)epoch > UINT64_MAX / MD_LOADER_EPOCH_BLOCKS)
    return MD_ERR_INVALID_ARGUMENT;
  if (!ld->thread_started) {
    setup_epoch(ld, epoch);
    return MD_OK;
  }
  pthread_mutex_lock(&ld->mu);
  ld->started = 0; /* the producer takes no new batch of the old epoch */
  while (ld->busy) pthread_cond_wait(&ld->cv_done, &ld->mu);
  setup_epoch(ld, epoch);
  pthread_cond_broadcast(&ld->cv_work);
  pthread_mutex_unlock(&ld->mu);
  return MD_OK;
}

static void hand_out(md_loader *ld, const slot *s, md_batch *batch) {
  batch->size = s->size;
  batch->index = s->index;
  batch->epoch = s->epoch;
  batch->images = s->images;
  batch->labels = s->labels;
  batch->sources = s->sources;
  batch->choices = s->choices;
  (void)ld;
}

static void empty_batch(const md_loader *ld, md_batch *batch) {
  memset(batch, 0, sizeof *batch);
  batch->index = ld->nbatches;
  batch->epoch = ld->epoch;
}

md_status md_loader_next(md_loader *ld, md_batch *batch) {
  if (!ld || !batch) return MD_ERR_INVALID_ARGUMENT;
  if (!ld->thread_started) {
    if (!ld->started) return MD_ERR_STATE;
    if (ld->next_take >= ld->nbatches) {
      empty_batch(ld, batch);
      return MD_OK;
    }
    slot *s = &ld->slots[0];
    fill(ld, s, ld->next_take++);
    ld->held = 0;
    if (s->status != MD_OK) {
      empty_batch(ld, batch);
      return s->status;
    }
    hand_out(ld, s, batch);
    return MD_OK;
  }

  pthread_mutex_lock(&ld->mu);
  if (!ld->started) {
    pthread_mutex_unlock(&ld->mu);
    return MD_ERR_STATE;
  }
  if (ld->held >= 0) {
    ld->slots[ld->held].state = SLOT_FREE;
    ld->held = -1;
    pthread_cond_broadcast(&ld->cv_work);
  }
  if (ld->next_take >= ld->nbatches) {
    pthread_mutex_unlock(&ld->mu);
    empty_batch(ld, batch);
    return MD_OK;
  }
  const int64_t k = ld->next_take;
  int found = -1;
  for (;;) {
    for (int i = 0; i < N_SLOTS; ++i)
      if (ld->slots[i].state == SLOT_READY && ld->slots[i].index == k) found = i;
    if (found >= 0) break;
    pthread_cond_wait(&ld->cv_done, &ld->mu);
  }
  slot *s = &ld->slots[found];
  s->state = SLOT_HELD;
  ld->held = found;
  ld->next_take++;
  pthread_mutex_unlock(&ld->mu);
  if (s->status != MD_OK) {
    empty_batch(ld, batch);
    return s->status;
  }
  hand_out(ld, s, batch);
  return MD_OK;
}
