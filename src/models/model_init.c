/* Initial values of a model's tensors (see maxdrop/model.h): each parameter
 * and statistic carries its rule from the moment it is registered; the
 * random ones draw, in table order, from one stream (MD_STREAM_INIT). */
#include "maxdrop/rng.h"
#include "models/model_internal.h"

static void fill(float *dst, const md_tensor_entry *e, md_rng *r) {
  const int64_t n = e->t.numel;
  switch (e->init) {
    case MD_INIT_UNIFORM:
      /* (2u - 1) * a with u in [0, 1) of 53 bits: U[-a, a) */
      for (int64_t i = 0; i < n; ++i)
        dst[i] = (float)((2.0 * md_rng_uniform_double(r) - 1.0) * e->init_a);
      break;
    case MD_INIT_NORMAL:
      for (int64_t i = 0; i < n; ++i) dst[i] = (float)(md_rng_normal(r) * e->init_a);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) dst[i] = (float)e->init_a;
      break;
  }
}

void md_init_tensors(md_model *m, uint64_t seed) {
  md_rng r;
  md_rng_init(&r, seed, MD_STREAM_INIT);
  for (size_t i = 0; i < m->n_tensors; ++i) {
    const md_tensor_entry *e = &m->tensors[i];
    switch (e->t.kind) {
      case MD_MT_PARAM:
        fill(m->params + e->t.offset, e, &r);
        break;
      case MD_MT_BUFFER:
        fill(m->buffers + e->t.offset, e, &r);
        break;
      default:
        m->counters[e->t.offset] = (int64_t)e->init_a;
        break;
    }
  }
}
