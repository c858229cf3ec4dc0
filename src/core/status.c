/* Status codes and their descriptions. */
#include "maxdrop/status.h"

const char *md_strerror(md_status status) {
  switch (status) {
  case MD_OK: return "success";
  case MD_ERR_INVALID_ARGUMENT: return "invalid argument";
  case MD_ERR_OUT_OF_MEMORY: return "out of memory";
  case MD_ERR_SHAPE: return "tensor shapes do not match";
  case MD_ERR_EMPTY: return "empty tensor";
  case MD_ERR_IO: return "input/output error";
  case MD_ERR_FORMAT: return "malformed, truncated or foreign file";
  case MD_ERR_UNSUPPORTED: return "unsupported request";
  case MD_ERR_RANGE: return "value out of range";
  case MD_ERR_NUMERIC: return "NaN or infinite value";
  case MD_ERR_STATE: return "invalid state for this call";
  }
  return "unknown status code";
}

void md_errbuf_clear(md_errbuf *eb) {
  if (eb) eb->msg[0] = '\0';
}
