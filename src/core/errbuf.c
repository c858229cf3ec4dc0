/* Formatting of error details into a caller-owned md_errbuf. */
#include "core/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

md_status md_fail(md_errbuf *eb, md_status st, const char *fmt, ...) {
  if (eb) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
  }
  return st;
}
