/* Internal helper: fill an md_errbuf with printf-style text and return a code. */
#ifndef MD_CORE_ERRBUF_H
#define MD_CORE_ERRBUF_H

#include "maxdrop/status.h"

/* Writes the formatted message into eb (when eb is not NULL) and returns st,
 * so that callers can write `return md_fail(eb, MD_ERR_FORMAT, "...", ...);`. */
md_status md_fail(md_errbuf *eb, md_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
