/* Model checkpoints: the tensor table as a safetensors table (names of the
 * reference state_dict, momentum buffers and regularizer streams under the
 * maxdrop/checkpoint.h prefixes), saving and loading. */
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "maxdrop/checkpoint.h"
#include "models/model_internal.h"

static md_rng *reg_rng(md_model *m, int i) {
  return m->maxdrop ? &m->maxdrop[i].rng : &m->dropout[i].rng;
}

size_t md_model_st_count(const md_model *m, int with_optimizer) {
  if (!m) return 0;
  size_t n = m->n_tensors;
  if (with_optimizer) {
    for (size_t i = 0; i < m->n_tensors; ++i) n += m->tensors[i].t.kind == MD_MT_PARAM;
    n += (size_t)m->n_reg;
  }
  return n;
}

static void fill_entry(md_st_tensor *t, const char *name, md_st_dtype dt, const md_model_tensor *mt,
                       void *data) {
  memset(t, 0, sizeof *t);
  t->name = name;
  t->dtype = dt;
  t->ndim = mt->ndim;
  for (int d = 0; d < mt->ndim; ++d) t->shape[d] = mt->shape[d];
  t->data = data;
}

md_status md_model_st_table(md_model *m, int with_optimizer, md_st_tensor *table, size_t cap,
                            size_t *n) {
  if (!m || !table || !n) return MD_ERR_INVALID_ARGUMENT;
  if (cap < md_model_st_count(m, with_optimizer)) return MD_ERR_RANGE;
  size_t k = 0;
  for (size_t i = 0; i < m->n_tensors; ++i) {
    const md_tensor_entry *e = &m->tensors[i];
    switch (e->t.kind) {
      case MD_MT_PARAM:
        fill_entry(&table[k++], e->name, MD_ST_F32, &e->t, m->params + e->t.offset);
        break;
      case MD_MT_BUFFER:
        fill_entry(&table[k++], e->name, MD_ST_F32, &e->t, m->buffers + e->t.offset);
        break;
      default:
        fill_entry(&table[k++], e->name, MD_ST_I64, &e->t, m->counters + e->t.offset);
        break;
    }
  }
  if (with_optimizer) {
    for (size_t i = 0; i < m->n_tensors; ++i) {
      const md_tensor_entry *e = &m->tensors[i];
      if (e->t.kind == MD_MT_PARAM)
        fill_entry(&table[k++], e->mom_name, MD_ST_F32, &e->t, m->momentum + e->t.offset);
    }
    for (int i = 0; i < m->n_reg; ++i) {
      uint64_t *w = m->rng_words + (size_t)i * MD_CKPT_RNG_WORDS;
      md_ckpt_rng_pack(reg_rng(m, i), w);
      md_st_tensor *t = &table[k++];
      memset(t, 0, sizeof *t);
      t->name = m->rng_names[i];
      t->dtype = MD_ST_U64;
      t->ndim = 1;
      t->shape[0] = MD_CKPT_RNG_WORDS;
      t->data = w;
    }
  }
  *n = k;
  return MD_OK;
}

md_status md_model_save(md_model *m, const char *path, int with_optimizer,
                        const md_st_meta *meta, size_t n_meta, md_errbuf *eb) {
  if (!m || !path || (n_meta && !meta))
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "md_model_save: missing argument");
  const size_t cap = md_model_st_count(m, with_optimizer);
  md_st_tensor *table = malloc(cap * sizeof *table);
  md_st_meta *all = malloc((n_meta + 2) * sizeof *all);
  if (!table || !all) {
    free(table);
    free(all);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory writing %s", path);
  }
  char json[1024];
  md_model_config_json(&m->cfg, json, sizeof json);
  all[0].key = MD_CKPT_KEY_FORMAT;
  all[0].value = MD_CKPT_FORMAT_NAME;
  all[1].key = MD_CKPT_KEY_MODEL;
  all[1].value = json;
  for (size_t i = 0; i < n_meta; ++i) all[2 + i] = meta[i];
  size_t n = 0;
  md_status st = md_model_st_table(m, with_optimizer, table, cap, &n);
  if (st == MD_OK) st = md_safetensors_write(path, table, n, all, n_meta + 2, eb);
  free(table);
  free(all);
  return st;
}

md_status md_model_load(md_model *m, const char *path, int with_optimizer, md_errbuf *eb) {
  if (!m || !path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "md_model_load: missing argument");
  const size_t cap = md_model_st_count(m, with_optimizer);
  md_st_tensor *table = malloc((cap ? cap : 1) * sizeof *table);
  md_rng *rngs = malloc((size_t)(m->n_reg ? m->n_reg : 1) * sizeof *rngs);
  if (!table || !rngs) {
    free(table);
    free(rngs);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
  }
  size_t n = 0;
  md_safetensors *sf = NULL;
  md_status st = md_model_st_table(m, with_optimizer, table, cap, &n);
  if (st == MD_OK) st = md_safetensors_open(path, &sf, eb);
  if (st == MD_OK) st = md_ckpt_require_checksums(sf, path, eb);
  /* the random streams first, into staging words, so that a bad stream
   * leaves the model untouched */
  const size_t n_rng = with_optimizer ? (size_t)m->n_reg : 0;
  if (st == MD_OK && n_rng)
    st = md_safetensors_load(sf, table + (n - n_rng), n_rng, MD_ST_LOAD_IGNORE_UNEXPECTED, eb);
  for (size_t i = 0; st == MD_OK && i < n_rng; ++i)
    st = md_ckpt_rng_unpack(m->rng_words + i * MD_CKPT_RNG_WORDS, &rngs[i], eb);
  if (st == MD_OK)
    st = md_safetensors_load(sf, table, n - n_rng, MD_ST_LOAD_IGNORE_UNEXPECTED, eb);
  if (st == MD_OK) {
    for (size_t i = 0; i < n_rng; ++i) *reg_rng(m, (int)i) = rngs[i];
    m->state = MD_STATE_NONE;
  }
  md_safetensors_close(sf);
  free(table);
  free(rngs);
  return st;
}
