/* Parity driver for safetensors checkpoints.
 *
 *   driver_checkpoint ls FILE
 *     Validates FILE and prints one line per tensor, "name dtype d0,d1,...",
 *     then one line per metadata entry, "meta key=value".
 *   driver_checkpoint copy IN OUT
 *     Loads IN the way a model would: all F32 tensors into ONE contiguous
 *     buffer through a parameter table (name, shape, offset), the others into
 *     their own buffers, strict; then writes them to OUT with the C writer,
 *     same names and order, with IN's metadata plus "copied_by".
 * On failure prints the library's message on stderr and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maxdrop/safetensors.h"

static int fail(const md_errbuf *eb) {
  fprintf(stderr, "driver_checkpoint: %s\n", eb->msg);
  return 1;
}

static int cmd_ls(const char *path) {
  md_errbuf eb = {{0}};
  md_safetensors *st;
  if (md_safetensors_open(path, &st, &eb) != MD_OK) return fail(&eb);
  for (size_t i = 0; i < md_safetensors_count(st); ++i) {
    md_st_tensor t;
    md_safetensors_info(st, i, &t);
    printf("%s %s ", t.name, md_st_dtype_name(t.dtype));
    for (int d = 0; d < t.ndim; ++d) printf("%s%lld", d ? "," : "", (long long)t.shape[d]);
    printf("\n");
  }
  for (size_t i = 0; i < md_safetensors_meta_count(st); ++i) {
    md_st_meta m;
    md_safetensors_meta_at(st, i, &m);
    printf("meta %s=%s\n", m.key, m.value);
  }
  md_safetensors_close(st);
  return 0;
}

static int cmd_copy(const char *in, const char *out) {
  md_errbuf eb = {{0}};
  md_safetensors *st;
  if (md_safetensors_open(in, &st, &eb) != MD_OK) return fail(&eb);
  const size_t n = md_safetensors_count(st);
  md_st_tensor *table = calloc(n + 1, sizeof *table);
  int64_t *offset = calloc(n + 1, sizeof *offset);
  void **own = calloc(n + 1, sizeof *own);
  if (!table || !offset || !own) {
    fprintf(stderr, "driver_checkpoint: out of memory\n");
    return 1;
  }
  /* the parameter table: F32 tensors packed one after another */
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    md_safetensors_info(st, i, &table[i]);
    const int64_t numel = md_st_numel(&table[i]);
    if (table[i].dtype == MD_ST_F32) {
      offset[i] = total;
      total += numel;
    } else {
      own[i] = malloc((size_t)numel * md_st_dtype_size(table[i].dtype) + 1);
      if (!own[i]) {
        fprintf(stderr, "driver_checkpoint: out of memory\n");
        return 1;
      }
      table[i].data = own[i];
    }
  }
  float *params = malloc((size_t)total * sizeof *params + 1);
  if (!params) {
    fprintf(stderr, "driver_checkpoint: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < n; ++i)
    if (table[i].dtype == MD_ST_F32) table[i].data = params + offset[i];
  /* the table's names are owned by st: keep st open until the write */
  if (md_safetensors_load(st, table, n, MD_ST_LOAD_STRICT, &eb) != MD_OK) return fail(&eb);
  const size_t nm = md_safetensors_meta_count(st);
  md_st_meta *meta = calloc(nm + 1, sizeof *meta);
  if (!meta) {
    fprintf(stderr, "driver_checkpoint: out of memory\n");
    return 1;
  }
  size_t k = 0;
  for (size_t i = 0; i < nm; ++i) {
    md_safetensors_meta_at(st, i, &meta[k]);
    if (strcmp(meta[k].key, "copied_by")) ++k;
  }
  meta[k++] = (md_st_meta){"copied_by", "driver_checkpoint"};
  const md_status rc = md_safetensors_write(out, table, n, meta, k, &eb);
  md_safetensors_close(st);
  for (size_t i = 0; i < n; ++i) free(own[i]);
  free(own);
  free(offset);
  free(table);
  free(params);
  free(meta);
  return rc == MD_OK ? 0 : fail(&eb);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "ls")) return cmd_ls(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "copy")) return cmd_copy(argv[2], argv[3]);
  fprintf(stderr, "usage: driver_checkpoint ls FILE | copy IN OUT\n");
  return 2;
}
