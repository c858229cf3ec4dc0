/* MultiStepLR: the learning rate of chosen epochs in both stepping modes, as
 * PyTorch computes it (chained products in the standard mode, base *
 * gamma ** k in the reference mode), and argument checks. PyTorch is the live
 * oracle for all 200 epochs in tests/parity/test_sgd_schedule_parity.py. */
#include <math.h>
#include <string.h>

#include "md_test_util.h"
#include "maxdrop/lr_schedule.h"

static const int paper_milestones[3] = {60, 120, 160};

static void assert_lr(const md_multistep_lr *s, int epoch, double want) {
  const double got = md_multistep_lr_at(s, epoch);
  if (got != want) fail_msg("epoch %d: lr %.17g, want %.17g", epoch, got, want);
}

static void test_standard_mode(void **state) {
  (void)state;
  md_multistep_lr s;
  assert_int_equal(md_multistep_lr_init(&s, 0.1, paper_milestones, 3, 0.2, MD_LR_STEP_STANDARD,
                                        NULL), MD_OK);
  const double d1 = 0.1 * 0.2, d2 = d1 * 0.2, d3 = d2 * 0.2;
  assert_lr(&s, 0, 0.1);
  assert_lr(&s, 59, 0.1);
  assert_lr(&s, 60, d1);
  assert_lr(&s, 119, d1);
  assert_lr(&s, 120, d2);
  assert_lr(&s, 159, d2);
  assert_lr(&s, 160, d3);
  assert_lr(&s, 199, d3);
  assert_lr(&s, -1, 0.1);
}

static void test_reference_mode(void **state) {
  (void)state;
  md_multistep_lr s;
  assert_int_equal(md_multistep_lr_init(&s, 0.1, paper_milestones, 3, 0.2, MD_LR_STEP_REFERENCE,
                                        NULL), MD_OK);
  assert_lr(&s, 0, 0.1);
  assert_lr(&s, 1, 0.1 * pow(0.2, 0));
  assert_lr(&s, 60, 0.1);
  assert_lr(&s, 61, 0.1 * pow(0.2, 1));
  assert_lr(&s, 120, 0.1 * pow(0.2, 1));
  assert_lr(&s, 121, 0.1 * pow(0.2, 2));
  assert_lr(&s, 160, 0.1 * pow(0.2, 2));
  assert_lr(&s, 161, 0.1 * pow(0.2, 3));
  assert_lr(&s, 199, 0.1 * pow(0.2, 3));
}

/* Unsorted and repeated milestones count like PyTorch's Counter; a milestone
 * at 0 already applies to epoch 0 (the scheduler's constructor steps once). */
static void test_unsorted_repeated_zero(void **state) {
  (void)state;
  const int ms[4] = {30, 0, 30, 10};
  md_multistep_lr s, r;
  assert_int_equal(md_multistep_lr_init(&s, 1.0, ms, 4, 0.5, MD_LR_STEP_STANDARD, NULL), MD_OK);
  assert_int_equal(md_multistep_lr_init(&r, 1.0, ms, 4, 0.5, MD_LR_STEP_REFERENCE, NULL), MD_OK);
  assert_int_equal(s.milestones[0], 0);
  assert_int_equal(s.milestones[3], 30);
  assert_lr(&s, 0, 0.5);
  assert_lr(&s, 9, 0.5);
  assert_lr(&s, 10, 0.25);
  assert_lr(&s, 30, 0.0625);
  assert_lr(&r, 0, 0.5);
  assert_lr(&r, 10, 0.5);
  assert_lr(&r, 11, 0.25);
  assert_lr(&r, 30, 0.25);
  assert_lr(&r, 31, 0.0625);
}

static void test_no_milestones(void **state) {
  (void)state;
  md_multistep_lr s;
  assert_int_equal(md_multistep_lr_init(&s, 0.05, NULL, 0, 0.2, MD_LR_STEP_REFERENCE, NULL),
                   MD_OK);
  assert_lr(&s, 0, 0.05);
  assert_lr(&s, 1000, 0.05);
}

static void test_invalid(void **state) {
  (void)state;
  md_multistep_lr s;
  md_errbuf eb;
  const int neg[2] = {5, -1};
  assert_int_equal(md_multistep_lr_init(&s, 0.1, neg, 2, 0.2, MD_LR_STEP_STANDARD, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(eb.msg, "-1"));
  assert_int_equal(md_multistep_lr_init(&s, NAN, paper_milestones, 3, 0.2,
                                        MD_LR_STEP_STANDARD, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_multistep_lr_init(&s, 0.1, paper_milestones, 3, -0.2,
                                        MD_LR_STEP_STANDARD, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_multistep_lr_init(&s, 0.1, paper_milestones, MD_LR_MAX_MILESTONES + 1,
                                        0.2, MD_LR_STEP_STANDARD, &eb), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_multistep_lr_init(&s, 0.1, NULL, 2, 0.2, MD_LR_STEP_STANDARD, &eb),
                   MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_multistep_lr_init(&s, 0.1, paper_milestones, 3, 0.2, (md_lr_step_mode)7,
                                        &eb), MD_ERR_INVALID_ARGUMENT);
}

static void test_mode_names(void **state) {
  (void)state;
  md_lr_step_mode m;
  assert_int_equal(md_lr_step_mode_parse("reference", &m), MD_OK);
  assert_int_equal(m, MD_LR_STEP_REFERENCE);
  assert_string_equal(md_lr_step_mode_name(m), "reference");
  assert_int_equal(md_lr_step_mode_parse("standard", &m), MD_OK);
  assert_int_equal(m, MD_LR_STEP_STANDARD);
  assert_string_equal(md_lr_step_mode_name(m), "standard");
  assert_int_equal(md_lr_step_mode_parse("Standard", &m), MD_ERR_INVALID_ARGUMENT);
  assert_int_equal(md_lr_step_mode_parse(NULL, &m), MD_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_standard_mode),          cmocka_unit_test(test_reference_mode),
      cmocka_unit_test(test_unsorted_repeated_zero), cmocka_unit_test(test_no_milestones),
      cmocka_unit_test(test_invalid),                cmocka_unit_test(test_mode_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
