/* Atomic file replacement: temporary file, fsync, rename, fsync of the folder. */
#include "maxdrop/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"

md_status md_atomic_open(md_atomic_file *af, const char *path, md_errbuf *eb) {
  af->f = NULL;
  af->tmp[0] = '\0';
  if (!path || !*path) return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "empty output path");
  if (strlen(path) + 16 >= sizeof af->path)
    return md_fail(eb, MD_ERR_INVALID_ARGUMENT, "output path too long: %s", path);
  strcpy(af->path, path);
  /* Replacing a device, a folder or a FIFO by a regular file would be a
   * disaster (think of /dev/null written by root): only regular files, or
   * names that do not exist yet, are written. */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return md_fail(eb, MD_ERR_IO, "%s exists and is not a regular file; refusing to replace it",
                   path);
  snprintf(af->tmp, sizeof af->tmp, "%s.tmpXXXXXX", path);
  const int fd = mkstemp(af->tmp);
  if (fd < 0) {
    const int e = errno;
    af->tmp[0] = '\0';
    return md_fail(eb, MD_ERR_IO, "cannot create a temporary file beside %s: %s", path,
                   strerror(e));
  }
  (void)fchmod(fd, 0644);
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    const int e = errno;
    close(fd);
    unlink(af->tmp);
    af->tmp[0] = '\0';
    return md_fail(eb, MD_ERR_IO, "cannot open %s: %s", af->tmp, strerror(e));
  }
  return MD_OK;
}

void md_atomic_abort(md_atomic_file *af) {
  if (af->f) fclose(af->f);
  af->f = NULL;
  if (af->tmp[0]) unlink(af->tmp);
  af->tmp[0] = '\0';
}

static void fsync_parent(const char *path) {
  char dir[4096];
  strncpy(dir, path, sizeof dir - 1);
  dir[sizeof dir - 1] = '\0';
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else strcpy(dir, ".");
  const int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

md_status md_atomic_commit(md_atomic_file *af, md_errbuf *eb) {
  if (!af->f) return md_fail(eb, MD_ERR_STATE, "atomic file is not open");
  int e = 0;
  if (ferror(af->f)) e = errno ? errno : EIO;
  if (!e && fflush(af->f) != 0) e = errno;
  if (!e && fsync(fileno(af->f)) != 0) e = errno;
  if (fclose(af->f) != 0 && !e) e = errno;
  af->f = NULL;
  if (!e && rename(af->tmp, af->path) != 0) e = errno;
  if (e) {
    unlink(af->tmp);
    af->tmp[0] = '\0';
    return md_fail(eb, MD_ERR_IO, "cannot write %s: %s (any earlier file is unchanged)",
                   af->path, strerror(e));
  }
  af->tmp[0] = '\0';
  fsync_parent(af->path);
  return MD_OK;
}
