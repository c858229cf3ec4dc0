/* Image-folder data sets: class subfolders listed in strcmp order, their
 * image files decoded (stb_image through maxdrop/image.h), checked or resized
 * to 32 x 32 and stored as CIFAR-layout planes. */
#include "maxdrop/image_folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/errbuf.h"
#include "maxdrop/image.h"

enum { SIDE = MD_IMAGE_FOLDER_SIDE, PLANE = SIDE * SIDE, IMAGE_BYTES = 3 * PLANE };

static const char *const image_exts[] = {"png", "jpg", "jpeg", "bmp", "gif",
                                         "tga", "ppm", "pgm", "pnm"};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

int md_image_folder_is_image_name(const char *name) {
  if (!name) return 0;
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name || strchr(dot, '/')) return 0;
  const char *ext = dot + 1;
  for (size_t k = 0; k < sizeof image_exts / sizeof image_exts[0]; ++k) {
    const char *e = image_exts[k];
    size_t i = 0;
    while (e[i] && ext[i] && lower((unsigned char)ext[i]) == e[i]) ++i;
    if (!e[i] && !ext[i]) return 1;
  }
  return 0;
}

/* ---- small helpers ------------------------------------------------------- */

static void free_strings(char **s, size_t n) {
  if (!s) return;
  for (size_t i = 0; i < n; ++i) free(s[i]);
  free(s);
}

/* "dir/name" (one slash), malloc'd; NULL when out of memory. */
static char *join(const char *dir, const char *name) {
  const size_t a = strlen(dir), b = strlen(name);
  const int slash = a > 0 && dir[a - 1] != '/';
  char *p = malloc(a + (size_t)slash + b + 1);
  if (!p) return NULL;
  memcpy(p, dir, a);
  if (slash) p[a] = '/';
  memcpy(p + a + (size_t)slash, name, b + 1);
  return p;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of folder `dir` not starting with '.', strcmp-sorted. */
static md_status list_folder(const char *dir, char ***names, size_t *count, md_errbuf *eb) {
  *names = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) return md_fail(eb, MD_ERR_IO, "cannot open folder %s: %s", dir, strerror(errno));
  char **out = NULL;
  size_t n = 0, cap = 0;
  md_status st = MD_OK;
  for (;;) {
    errno = 0;
    const struct dirent *e = readdir(d);
    if (!e) {
      if (errno) st = md_fail(eb, MD_ERR_IO, "cannot list folder %s: %s", dir, strerror(errno));
      break;
    }
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(out, cap * sizeof *grown);
      if (!grown) {
        st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", dir);
        break;
      }
      out = grown;
    }
    out[n] = strdup(e->d_name);
    if (!out[n]) {
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", dir);
      break;
    }
    ++n;
  }
  closedir(d);
  if (st != MD_OK) {
    free_strings(out, n);
    return st;
  }
  if (n > 1) qsort(out, n, sizeof *out, cmp_str);
  *names = out;
  *count = n;
  return MD_OK;
}

/* The files to load, in data-set order. */
typedef struct file_list {
  char **paths;
  int32_t *labels;
  size_t n, cap;
} file_list;

static int push_file(file_list *f, char *path, int32_t label) {
  if (f->n == f->cap) {
    const size_t cap = f->cap ? 2 * f->cap : 256;
    char **p = realloc(f->paths, cap * sizeof *p);
    if (!p) return -1;
    f->paths = p;
    int32_t *l = realloc(f->labels, cap * sizeof *l);
    if (!l) return -1;
    f->labels = l;
    f->cap = cap;
  }
  f->paths[f->n] = path;
  f->labels[f->n] = label;
  ++f->n;
  return 0;
}

static void free_file_list(file_list *f) {
  free_strings(f->paths, f->n);
  free(f->labels);
  memset(f, 0, sizeof *f);
}

/* ---- listing ------------------------------------------------------------- */

/* The class subfolders of dir into out->class_names / num_classes. */
static md_status find_classes(const char *dir, md_image_folder *out, md_errbuf *eb) {
  char **names = NULL;
  size_t n = 0;
  md_status st = list_folder(dir, &names, &n, eb);
  if (st != MD_OK) return st;
  char **classes = calloc(n ? n : 1, sizeof *classes);
  if (!classes) {
    free_strings(names, n);
    return md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", dir);
  }
  size_t n_classes = 0, n_images = 0;
  for (size_t i = 0; i < n && st == MD_OK; ++i) {
    char *p = join(dir, names[i]);
    if (!p) {
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", dir);
      break;
    }
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      classes[n_classes++] = names[i];
      names[i] = NULL;
      free(p);
      continue;
    }
    if (md_image_folder_is_image_name(names[i])) ++n_images;
    ++out->n_skipped;
    if (!out->first_skipped) out->first_skipped = p;
    else free(p);
  }
  free_strings(names, n);
  if (st == MD_OK && n_classes == 0) {
    if (n_images > 0)
      st = md_fail(eb, MD_ERR_FORMAT,
                   "%s has no class subfolders but %zu image files directly; put the images "
                   "of each class in a subfolder named after the class",
                   dir, n_images);
    else
      st = md_fail(eb, MD_ERR_FORMAT,
                   "%s has no class subfolders; an image folder holds one subfolder per class, "
                   "each with that class's images",
                   dir);
  }
  if (st == MD_OK && n_classes > MD_IMAGE_FOLDER_MAX_CLASSES)
    st = md_fail(eb, MD_ERR_UNSUPPORTED, "%s has %zu class subfolders; at most %d are supported",
                 dir, n_classes, (int)MD_IMAGE_FOLDER_MAX_CLASSES);
  if (st != MD_OK) {
    free_strings(classes, n_classes);
    return st;
  }
  out->class_names = classes;
  out->num_classes = (int)n_classes;
  return MD_OK;
}

/* Appends the image files of class `label` (folder cdir) to files. */
static md_status find_images(const char *cdir, int32_t label, file_list *files,
                             md_image_folder *out, md_errbuf *eb) {
  char **names = NULL;
  size_t n = 0;
  md_status st = list_folder(cdir, &names, &n, eb);
  if (st != MD_OK) return st;
  const size_t before = files->n;
  int64_t skipped = 0;
  char *skipped_here = NULL; /* the first file skipped in this folder */
  for (size_t i = 0; i < n && st == MD_OK; ++i) {
    char *p = join(cdir, names[i]);
    if (!p) {
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", cdir);
      break;
    }
    struct stat sb;
    if (stat(p, &sb) != 0) {
      st = md_fail(eb, MD_ERR_IO, "cannot read %s: %s", p, strerror(errno));
      free(p);
    } else if (S_ISDIR(sb.st_mode)) {
      st = md_fail(eb, MD_ERR_FORMAT,
                   "%s is a folder inside the class folder %s; a class folder holds image "
                   "files only (classes are not nested)",
                   p, cdir);
      free(p);
    } else if (S_ISREG(sb.st_mode) && md_image_folder_is_image_name(names[i])) {
      if (push_file(files, p, label) != 0) {
        free(p);
        st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", cdir);
      }
    } else {
      ++skipped;
      if (!skipped_here) skipped_here = p;
      else free(p);
    }
  }
  free_strings(names, n);
  if (st == MD_OK && files->n == before) {
    if (skipped > 0)
      st = md_fail(eb, MD_ERR_FORMAT,
                   "the class folder %s holds no image file (.png, .jpg, .jpeg, .bmp, .gif, "
                   ".tga, .ppm, .pgm, .pnm), only %lld other file%s such as %s",
                   cdir, (long long)skipped, skipped == 1 ? "" : "s", skipped_here);
    else
      st = md_fail(eb, MD_ERR_FORMAT,
                   "the class folder %s is empty; every class needs at least one image", cdir);
  }
  if (st == MD_OK) {
    out->n_skipped += skipped;
    if (skipped_here && !out->first_skipped) {
      out->first_skipped = skipped_here;
      skipped_here = NULL;
    }
  }
  free(skipped_here);
  return st;
}

/* ---- decoding ------------------------------------------------------------ */

/* Decodes `path` into dst (3, 32, 32) planes R, G, B. *resized is set when the
 * image was not 32 x 32. */
static md_status decode_one(const char *path, md_folder_size_policy policy, uint8_t *dst,
                            int *resized, md_errbuf *eb) {
  *resized = 0;
  md_image img;
  md_status st = md_image_load(path, 3, &img, eb);
  if (st != MD_OK) return st;
  if (img.width != SIDE || img.height != SIDE) {
    if (policy == MD_FOLDER_SIZE_REJECT) {
      const int w = img.width, h = img.height;
      md_image_free(&img);
      return md_fail(eb, MD_ERR_SHAPE,
                     "image %s is %d x %d pixels, not %d x %d (the first such image in folder "
                     "order)",
                     path, w, h, SIDE, SIDE);
    }
    md_image sq;
    md_errbuf why;
    st = md_image_center_square(&img, SIDE, &sq, &why);
    md_image_free(&img);
    if (st != MD_OK) return md_fail(eb, st, "cannot resize image %s: %s", path, why.msg);
    img = sq;
    *resized = 1;
  }
  /* Interleaved RGB (H, W, 3) -> planes (3, H, W). */
  for (int p = 0; p < PLANE; ++p)
    for (int c = 0; c < 3; ++c) dst[c * PLANE + p] = img.data[3 * p + c];
  md_image_free(&img);
  return MD_OK;
}

/* ---- the data set -------------------------------------------------------- */

void md_image_folder_free(md_image_folder *d) {
  if (!d) return;
  free(d->images);
  free(d->labels);
  free_strings(d->class_names, (size_t)d->num_classes);
  free(d->first_skipped);
  memset(d, 0, sizeof *d);
}

md_status md_image_folder_load(const char *dir, md_folder_size_policy policy,
                               md_image_folder *out, md_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (!dir || !*dir) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty image folder path");
  if (policy != MD_FOLDER_SIZE_REJECT && policy != MD_FOLDER_SIZE_RESIZE)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "unknown size policy %d for %s", (int)policy,
                   dir);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return md_fail(eb, MD_ERR_IO, "cannot open image folder %s: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return md_fail(eb, MD_ERR_IO,
                   "%s is not a folder; an image folder holds one subfolder per class", dir);

  md_status st = find_classes(dir, out, eb);
  file_list files = {0};
  for (int c = 0; c < out->num_classes && st == MD_OK; ++c) {
    char *cdir = join(dir, out->class_names[c]);
    if (!cdir) {
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory listing %s", dir);
      break;
    }
    st = find_images(cdir, c, &files, out, eb);
    free(cdir);
  }
  if (st == MD_OK && files.n > SIZE_MAX / IMAGE_BYTES)
    st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "%s: %zu images are too many for memory", dir,
                 files.n);
  if (st == MD_OK) {
    out->images = malloc(files.n * IMAGE_BYTES);
    if (!out->images)
      st = md_fail(eb, MD_ERR_OUT_OF_MEMORY, "out of memory for the %zu images of %s (%zu bytes)",
                   files.n, dir, files.n * IMAGE_BYTES);
  }
  for (size_t i = 0; i < files.n && st == MD_OK; ++i) {
    int resized = 0;
    st = decode_one(files.paths[i], policy, out->images + i * IMAGE_BYTES, &resized, eb);
    out->n_resized += resized;
  }
  if (st == MD_OK) {
    out->labels = files.labels;
    files.labels = NULL;
    out->n = (int64_t)files.n;
  }
  free_file_list(&files);
  if (st != MD_OK) md_image_folder_free(out);
  return st;
}
