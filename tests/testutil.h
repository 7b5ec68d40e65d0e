// testutil.h: helpers shared by the Check suites: tensor comparison with a
// stated error measure, and access to golden HDF5 files.
//
// Error measure used throughout: rel = max_i |got_i - want_i| / max_i |want_i|
// (max abs error normalised by the reference's largest magnitude; for an
// all-zero reference, the max abs error itself), and NMSE = sum (got-want)^2 /
// sum want^2. A comparison passes when rel <= tol.
#ifndef MSF_TESTUTIL_H
#define MSF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "diffusion/sampler.h"
#include "io/h5read.h"

typedef struct {
    double max_abs;  // max |got - want|
    double rel;      // max_abs / max |want|
    double nmse;
    size_t worst;      // index of the element with the largest |got - want|
    size_t nonfinite;  // elements of `got` that are NaN or Inf
} tu_cmp;

tu_cmp tu_compare(const float *got, const float *want, size_t n);

// Compare and, on failure, print the measure and the worst element (index,
// got, want) to stderr; returns 1 if within tolerance. Use as
// ck_assert(tu_expect_close("conv2d case3", got, want, n, 1e-5)).
int tu_expect_close(const char *what, const float *got, const float *want, size_t n, double tol);

// Golden files: path of tests/golden/<file>, or of $MSF_GOLDEN_DIR/<file> when
// that variable is set (make check-full points it at full-size files).
// Returns a static buffer.
const char *tu_golden_path(const char *file);

// 1 when the golden files are the full-size ones of make check-full
// ($MSF_GOLDEN_DIR set), whose generators leave out some cases of the
// committed small files (tools/golden/gen_*.py --full).
int tu_golden_full(void);

// A part of a test that cannot run here: prints "SKIP: <what>" and returns;
// under CI (CI=true, where .ci/run installs every dependency) it fails the
// test instead, as `skip` of tests/testlib.sh does.
void tu_skip(const char *what);

// Open a golden file; aborts the test with a message naming the file and the
// generator to run when it cannot be opened.
msf_h5_reader *tu_golden_open(const char *file);

// Load a dataset of any shape as float32 (malloc'd, caller frees); *n gets
// the element count, and shape/ndim if non-NULL. Aborts the test if absent.
float *tu_golden_load(msf_h5_reader *g, const char *name, size_t *n, int *ndim, int64_t *shape);

// The same in float64.
double *tu_golden_load_f64(msf_h5_reader *g, const char *name, size_t *n);

// The cases of a golden group written as <group>/case0, case1, ... with an
// integer attribute `cases` on the group (group NULL: the root and case0,
// ...): returns that count after checking that it is at least 1, that each
// case holds `dataset` and that no case follows the last; aborts otherwise,
// so that no case can go unchecked.
int tu_golden_cases(msf_h5_reader *g, const char *group, const char *dataset);

// Integer attribute of a group (aborts if absent).
int64_t tu_golden_int(msf_h5_reader *g, const char *obj, const char *name);
double tu_golden_double(msf_h5_reader *g, const char *obj, const char *name);

// A stage's sampling options from the attributes PREFIX_steps, _sampler,
// _cfg_mode, _variance, _eta, _cfg_scale, _clip_x0 of golden object `obj`
// (tools/golden/gen_msf.py's stage_attrs); o->steps points at `steps` (16 chars).
void tu_stage_opts(msf_h5_reader *g, const char *obj, const char *prefix, diff_stage_opts *o, char *steps);

// Replayed noise of a 2-stage MSF golden trajectory, as msf_noise_fn: x_T at
// step -1, z[step] (rows per step) otherwise, and the condition's noise at
// step -2 (conditioning augmentation; cond_eps NULL when the case has none).
typedef struct {
    const float *x_T[2], *z[2], *cond_eps;
    int rows[2];
    size_t numel[2];
} tu_msf_replay;
msf_status tu_msf_replay_noise(void *user, int stage, int step, int64_t first, int n, float *out);

#endif
