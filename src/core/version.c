/* Library version, from the CMake project version. */
#include "maxdrop/version.h"

#include "md_version_config.h"

const char *md_version(void) { return MD_VERSION_STRING; }
