/* maxdrop/version.h - library version. */
#ifndef MAXDROP_VERSION_H
#define MAXDROP_VERSION_H

#include "maxdrop/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
MD_API const char *md_version(void);

#ifdef __cplusplus
}
#endif

#endif
