/* maxdrop/image_folder.h - a data set of one's own images: one subfolder per
 * class.
 *
 *   DIR/cat/0001.png  DIR/cat/0002.jpg ...  DIR/dog/a.png ...
 *
 * The classes are the subfolders of DIR, in strcmp (byte) order: the first is
 * label 0. The images of a class are the regular files of its folder whose
 * name ends in an image extension (.png .jpg .jpeg .bmp .gif .tga .ppm .pgm
 * .pnm, any case), in strcmp order of their names; the data set lists class 0's
 * images first, then class 1's, and so on. Names starting with '.' (hidden
 * files and folders) are ignored everywhere; files directly in DIR and files
 * of a class folder without an image extension are skipped and counted
 * (n_skipped, first_skipped). Symbolic links are followed.
 *
 * Every image is decoded by stb_image (maxdrop/image.h), converted to RGB
 * (grayscale is replicated, alpha is dropped) and kept in the CIFAR layout
 * (maxdrop/cifar.h): three 32 x 32 planes R, G, B, so image i is a
 * (3, 32, 32) uint8 tensor, ready for md_train_data. An image that is not
 * 32 x 32 is an error under MD_FOLDER_SIZE_REJECT; under MD_FOLDER_SIZE_RESIZE
 * its central square is scaled to 32 x 32 (md_image_center_square: the aspect
 * ratio is kept, the longer side trimmed).
 *
 * Errors name the path concerned:
 *   MD_ERR_IO           DIR or a folder in it cannot be opened or listed,
 *                       DIR is not a folder, an image cannot be opened
 *   MD_ERR_FORMAT       DIR has no class subfolders; a class folder holds no
 *                       image file; a class folder holds a folder; an image
 *                       stb_image cannot decode (with stb_image's reason)
 *   MD_ERR_SHAPE        an image is not 32 x 32 under MD_FOLDER_SIZE_REJECT
 *                       (the message gives its width x height)
 *   MD_ERR_UNSUPPORTED  more than MD_IMAGE_FOLDER_MAX_CLASSES classes, an image
 *                       larger than MD_IMAGE_MAX_SIDE
 *   MD_ERR_OUT_OF_MEMORY
 *   MD_ERR_INVALID_ARGUMENT  an empty path or an unknown policy */
#ifndef MAXDROP_IMAGE_FOLDER_H
#define MAXDROP_IMAGE_FOLDER_H

#include <stdint.h>

#include "maxdrop/api.h"
#include "maxdrop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum md_folder_size_policy {
  MD_FOLDER_SIZE_REJECT = 0, /* an image that is not 32 x 32 is an error */
  MD_FOLDER_SIZE_RESIZE = 1  /* its central square is scaled to 32 x 32 */
} md_folder_size_policy;

enum {
  MD_IMAGE_FOLDER_SIDE = 32,
  MD_IMAGE_FOLDER_MAX_CLASSES = 65535
};

/* A loaded image folder. Release with md_image_folder_free. */
typedef struct md_image_folder {
  int num_classes;        /* >= 1 */
  int64_t n;              /* number of images, >= num_classes */
  uint8_t *images;        /* (n, 3, 32, 32), planes R, G, B */
  int32_t *labels;        /* (n,) in [0, num_classes), ascending */
  char **class_names;     /* num_classes subfolder names, strcmp order */
  int64_t n_resized;      /* images that were not 32 x 32 (MD_FOLDER_SIZE_RESIZE) */
  int64_t n_skipped;      /* files skipped: in DIR itself, or not named as images */
  char *first_skipped;    /* the path of the first of them, or NULL */
} md_image_folder;

/* Whether a file name ends in one of the image extensions above. */
MD_API int md_image_folder_is_image_name(const char *name);

/* Loads every image of `dir` (layout above). *out is zeroed on failure. */
MD_API md_status md_image_folder_load(const char *dir, md_folder_size_policy policy,
                                      md_image_folder *out, md_errbuf *eb);

/* Releases everything d owns and zeroes it. Accepts a zeroed struct. */
MD_API void md_image_folder_free(md_image_folder *d);

#ifdef __cplusplus
}
#endif

#endif
