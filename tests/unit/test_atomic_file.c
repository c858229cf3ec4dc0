/* Atomic file replacement: new files, replacement, abort, and refusal to
 * replace anything that is not a regular file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "md_test_util.h"
#include "maxdrop/atomic_file.h"

static void write_text(const char *path, const char *text) {
  md_atomic_file af;
  md_errbuf eb;
  assert_int_equal(md_atomic_open(&af, path, &eb), MD_OK);
  fputs(text, af.f);
  assert_int_equal(md_atomic_commit(&af, &eb), MD_OK);
}

static void read_text(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  const size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void test_create_replace_abort(void **state) {
  (void)state;
  char path[512], buf[64];
  snprintf(path, sizeof path, "%s/file.txt", md_test_tmpdir());
  write_text(path, "first");
  read_text(path, buf, sizeof buf);
  assert_string_equal(buf, "first");
  write_text(path, "second");
  read_text(path, buf, sizeof buf);
  assert_string_equal(buf, "second");

  md_atomic_file af;
  assert_int_equal(md_atomic_open(&af, path, NULL), MD_OK);
  fputs("never", af.f);
  char tmp[sizeof af.tmp];
  strcpy(tmp, af.tmp);
  md_atomic_abort(&af);
  read_text(path, buf, sizeof buf);
  assert_string_equal(buf, "second");
  struct stat st;
  assert_int_not_equal(stat(tmp, &st), 0); /* the temporary file is gone */
}

static void test_missing_folder(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/no/such/folder/f.txt", md_test_tmpdir());
  md_atomic_file af;
  md_errbuf eb;
  assert_int_equal(md_atomic_open(&af, path, &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "no/such/folder"));
}

static void test_refuses_non_regular_files(void **state) {
  (void)state;
  md_atomic_file af;
  md_errbuf eb;
  /* a character device: root could otherwise replace /dev/null by a file */
  assert_int_equal(md_atomic_open(&af, "/dev/null", &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "not a regular file"));
  struct stat st;
  assert_int_equal(stat("/dev/null", &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  /* a folder */
  const char *dir = md_test_tmpdir();
  assert_int_equal(md_atomic_open(&af, dir, &eb), MD_ERR_IO);
  assert_non_null(strstr(eb.msg, "not a regular file"));
  assert_int_equal(stat(dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_replace_abort),
      cmocka_unit_test(test_missing_folder),
      cmocka_unit_test(test_refuses_non_regular_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
