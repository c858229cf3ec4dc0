/* maxdrop/checkpoint.h - what a maxdrop training checkpoint holds.
 *
 * A checkpoint is a safetensors file (maxdrop/safetensors.h) with:
 *   - the model's tensors under their PyTorch state_dict names
 *     ("conv1.weight", "layer2.0.shortcut.1.running_var", "bn1.num_batches_tracked"
 *     as an I64 scalar, ...), so that tools/checkpoint_torch.py turns the file
 *     into a state_dict that loads with load_state_dict(strict=True);
 *   - the SGD momentum buffer of each parameter under MD_CKPT_MOMENTUM_PREFIX
 *     followed by the parameter's name (float32, the parameter's shape);
 *   - each random stream's state under MD_CKPT_RNG_PREFIX followed by a
 *     stream name, as a U64 vector of MD_CKPT_RNG_WORDS words
 *     (md_ckpt_rng_pack);
 *   - string metadata under the MD_CKPT_KEY_* keys; numbers are written with
 *     md_ckpt_format_double / md_ckpt_format_int so that they read back
 *     exactly.
 * Model code owns its parameter table; it builds an md_st_tensor list whose
 * data pointers go into its contiguous buffers and hands it to
 * md_safetensors_write / md_safetensors_load. */
#ifndef MAXDROP_CHECKPOINT_H
#define MAXDROP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/rng.h"
#include "maxdrop/safetensors.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_CKPT_MOMENTUM_PREFIX "optimizer.momentum_buffer."
#define MD_CKPT_RNG_PREFIX "rng."

/* Metadata keys. */
#define MD_CKPT_KEY_FORMAT "format"          /* "maxdrop" */
#define MD_CKPT_FORMAT_NAME "maxdrop"
#define MD_CKPT_KEY_MODEL "model"            /* model configuration, a JSON object as text */
#define MD_CKPT_KEY_EPOCH "epoch"            /* epochs completed (integer) */
#define MD_CKPT_KEY_LR "lr"                  /* learning rate of the last epoch run */
#define MD_CKPT_KEY_SGD_STEPS "optimizer.steps" /* md_sgd.steps (integer) */
#define MD_CKPT_KEY_SGD_CONFIG "optimizer"   /* SGD settings, a JSON object as text */
#define MD_CKPT_KEY_LR_SCHEDULE "lr_schedule" /* schedule settings, a JSON object as text */

/* An md_rng as words: key[0], key[1], block, pos, buf[0..3]. */
enum { MD_CKPT_RNG_WORDS = 8 };

/* A file whose metadata says it is a maxdrop checkpoint (format "maxdrop")
 * must carry the checksums maxdrop writes (maxdrop/safetensors.h): without
 * them the header was damaged (its checksum entry renamed or lost) or the
 * file was not written by maxdrop or tools/checkpoint_torch.py.
 * MD_ERR_FORMAT then, naming `path`; MD_OK otherwise. */
MD_API md_status md_ckpt_require_checksums(const md_safetensors *f, const char *path,
                                           md_errbuf *eb);

MD_API void md_ckpt_rng_pack(const md_rng *r, uint64_t out[MD_CKPT_RNG_WORDS]);

/* Restores a stream packed by md_ckpt_rng_pack. MD_ERR_FORMAT when the words
 * cannot come from a stream: pos > 4, or a partly read block (pos < 4) whose
 * words are not block `block - 1` of the stream. */
MD_API md_status md_ckpt_rng_unpack(const uint64_t in[MD_CKPT_RNG_WORDS], md_rng *r,
                                    md_errbuf *eb);

/* Shortest decimal text that reads back as the same double ("%.17g" at most);
 * buf holds at least 32 bytes. Returns buf. */
MD_API const char *md_ckpt_format_double(char *buf, size_t cap, double v);
MD_API const char *md_ckpt_format_int(char *buf, size_t cap, int64_t v);

/* Strict parsing of metadata numbers: the whole string must be one number.
 * MD_ERR_FORMAT otherwise (the message names the key given). */
MD_API md_status md_ckpt_parse_double(const char *key, const char *text, double *out,
                                      md_errbuf *eb);
MD_API md_status md_ckpt_parse_int(const char *key, const char *text, int64_t *out,
                                   md_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif /* MAXDROP_CHECKPOINT_H */
