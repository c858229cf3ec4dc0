/* maxdrop/api.h - symbol export macro shared by every public header. */
#ifndef MAXDROP_API_H
#define MAXDROP_API_H

#if defined(MD_BUILDING_LIBRARY)
#define MD_API __attribute__((visibility("default")))
#else
#define MD_API
#endif

#endif /* MAXDROP_API_H */
