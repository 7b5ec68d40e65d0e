// params.c: parameter tables (see params.h).
#include "io/params.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/tensor.h"

#define UNKNOWN_NAMED 4  // unknown tensors named besides the first

void msf_params_init(msf_params *t, const char *what, ...) {
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, what);
    vsnprintf(t->what, sizeof t->what, what, ap);
    va_end(ap);
}

void msf_params_free(msf_params *t) {
    free(t->entries);
    t->entries = NULL;
    t->count = t->capacity = 0;
}

// Keep the first failure of an add.
static void add_failed(msf_params *t, msf_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_failed(msf_params *t, msf_status code, const char *fmt, ...) {
    if (t->error) return;
    t->error = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error_msg, sizeof t->error_msg, fmt, ap);
    va_end(ap);
}

msf_param *msf_params_add(msf_params *t, float **dst, unsigned flags, int ndim, const int64_t *shape, const char *fmt,
                          ...) {
    if (t->error) return NULL;
    if (t->count == t->capacity) {
        int cap = t->capacity ? 2 * t->capacity : 64;
        msf_param *grown = realloc(t->entries, (size_t)cap * sizeof *grown);
        if (!grown) {
            add_failed(t, MSF_ERR_NOMEM, "out of memory for the tensor table of %s", t->what);
            return NULL;
        }
        t->entries = grown;
        t->capacity = cap;
    }
    msf_param *e = &t->entries[t->count];
    memset(e, 0, sizeof *e);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof e->name) {
        add_failed(t, MSF_ERR_INVALID, "tensor name '%.60s...' of %s is longer than %d characters", e->name, t->what,
                   MSF_PARAM_NAME_MAX - 1);
        return NULL;
    }
    if (ndim < 0 || ndim > MSF_PARAM_MAX_DIMS || (!dst && !(flags & MSF_PARAM_SKIP))) {
        add_failed(t, MSF_ERR_INVALID, "tensor '%s' of %s: bad table entry (rank %d%s)", e->name, t->what, ndim,
                   dst ? "" : ", no destination");
        return NULL;
    }
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            add_failed(t, MSF_ERR_INVALID, "tensor '%s' of %s: negative size %lld", e->name, t->what,
                       (long long)shape[d]);
            return NULL;
        }
        e->shape[d] = shape[d];
    }
    e->ndim = ndim;
    e->dst = dst;
    e->flags = flags;
    t->count++;
    return e;
}

size_t msf_param_numel(const msf_param *p) {
    size_t n = 1;
    for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
    return n;
}

static size_t slab_floats_of(const msf_param *p) {
    return p->flags & MSF_PARAM_SKIP ? 0 : msf_align_up(msf_param_numel(p) * sizeof(float)) / sizeof(float);
}

size_t msf_params_slab_floats(const msf_params *t) {
    size_t total = 0;
    for (int i = 0; i < t->count; i++) total += slab_floats_of(&t->entries[i]);
    return total;
}

static msf_status table_error(const msf_params *t) { return msf_fail(t->error, "%s", t->error_msg); }

msf_status msf_params_alloc(msf_params *t, float **slab, size_t *floats) {
    *slab = NULL;
    if (floats) *floats = 0;
    if (t->error) return table_error(t);
    size_t total = msf_params_slab_floats(t);
    float *p = msf_aligned_alloc(total * sizeof(float));
    if (!p) return msf_fail(MSF_ERR_NOMEM, "out of memory: the weights of %s need %zu MB", t->what, total * 4 >> 20);
    // Zeroed: the padding between tensors is then defined, and two models
    // with the same weights have the same slab bytes.
    memset(p, 0, total * sizeof(float));
    float *next = p;
    for (int i = 0; i < t->count; i++) {
        msf_param *e = &t->entries[i];
        if (e->dst) *e->dst = e->flags & MSF_PARAM_SKIP ? NULL : next;
        next += slab_floats_of(e);
    }
    assert((size_t)(next - p) == total && "every entry laid out in the slab it was sized for");
    *slab = p;
    if (floats) *floats = total;
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Loading

static int name_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static msf_status check_entry(const msf_params *t, const msf_param *e, const msf_h5_reader *w, const char *full,
                              const msf_h5_tensor **found) {
    *found = msf_h5_find(w, full);
    char want[128], got[128];
    msf_shape_str(want, sizeof want, e->ndim, e->shape);
    if (!*found) {
        if (e->flags & MSF_PARAM_OPTIONAL) return MSF_OK;
        return msf_fail(MSF_ERR_NOT_FOUND, "tensor '%s' not found in %s (expected %s)", full, msf_h5_path(w), want);
    }
    const msf_h5_tensor *info = *found;
    int same = info->ndim == e->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = info->shape[d] == e->shape[d];
    if (!same)
        return msf_fail(MSF_ERR_SHAPE, "tensor '%s' in %s has shape %s, expected %s", full, msf_h5_path(w),
                        msf_shape_str(got, sizeof got, info->ndim, info->shape), want);
    return MSF_OK;
}

static msf_status check_finite(const msf_param *e, const msf_h5_reader *w, const char *full) {
    const float *x = *e->dst;
    size_t n = msf_param_numel(e);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return msf_fail(MSF_ERR_NUMERIC, "tensor '%s' in %s holds a non-finite value (%g) at element %zu", full,
                            msf_h5_path(w), (double)x[i], i);
    return MSF_OK;
}

// Tensors directly in the group (not in its sub-groups) that no entry names.
static msf_status check_unknown(const msf_params *t, const msf_h5_reader *w, const char *prefix) {
    size_t plen = strlen(prefix);
    const char **names = malloc((size_t)(t->count ? t->count : 1) * sizeof *names);
    if (!names) return msf_fail(MSF_ERR_NOMEM, "out of memory checking the tensors of %s", msf_h5_path(w));
    for (int i = 0; i < t->count; i++) names[i] = t->entries[i].name;
    qsort(names, (size_t)t->count, sizeof *names, name_cmp);
    const char *first = NULL, *more[UNKNOWN_NAMED];
    int unknown = 0;
    for (int i = 0; i < msf_h5_count(w); i++) {
        const char *name = msf_h5_tensor_at(w, i)->name;
        if (strncmp(name, prefix, plen) || strchr(name + plen, '/')) continue;
        const char *key = name + plen;
        if (bsearch(&key, names, (size_t)t->count, sizeof *names, name_cmp)) continue;
        if (!first) first = name;
        else if (unknown - 1 < UNKNOWN_NAMED) more[unknown - 1] = name;
        unknown++;
    }
    free(names);
    if (!unknown) return MSF_OK;
    if (unknown == 1)
        return msf_fail(MSF_ERR_FORMAT, "tensor '%s' in %s is not part of %s", first, msf_h5_path(w), t->what);
    char list[4 * MSF_PARAM_NAME_MAX + 64] = "";
    size_t len = 0;
    for (int i = 0; i < unknown - 1 && i < UNKNOWN_NAMED; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", i ? ", " : "", more[i]);
    if (unknown - 1 > UNKNOWN_NAMED && len < sizeof list) snprintf(list + len, sizeof list - len, ", ...");
    return msf_fail(MSF_ERR_FORMAT, "tensor '%s' in %s is not part of %s (%d more unknown tensor%s: %s)", first,
                    msf_h5_path(w), t->what, unknown - 1, unknown > 2 ? "s" : "", list);
}

msf_status msf_params_load(msf_params *t, msf_h5_reader *w, const char *group) {
    if (t->error) return table_error(t);
    char prefix[MSF_PARAM_NAME_MAX + 1] = "";
    if (group && *group) {
        size_t glen = strlen(group);
        if (glen + 1 >= sizeof prefix) return msf_fail(MSF_ERR_INVALID, "group name '%.40s...' is too long", group);
        snprintf(prefix, sizeof prefix, "%s%s", group, group[glen - 1] == '/' ? "" : "/");
    }
    for (int i = 0; i < t->count; i++) {
        const msf_param *e = &t->entries[i];
        char full[sizeof prefix + MSF_PARAM_NAME_MAX];
        snprintf(full, sizeof full, "%s%s", prefix, e->name);
        const msf_h5_tensor *info;
        msf_status s = check_entry(t, e, w, full, &info);
        if (s) return s;
        if (e->flags & MSF_PARAM_SKIP) continue;
        if (!info) {  // an optional tensor the file lacks
            *e->dst = NULL;
            continue;
        }
        if (!*e->dst)
            return msf_fail(MSF_ERR_INVALID, "tensor '%s' of %s has no place in the slab (msf_params_alloc first)",
                            e->name, t->what);
        if ((s = msf_h5_read(w, full, *e->dst, e->ndim, e->shape))) return s;
        // Every tensor is checked once here: a NaN or infinity in a weight
        // would otherwise surface steps later, far from its cause.
        if ((s = check_finite(e, w, full))) return s;
    }
    return t->allow_unknown ? MSF_OK : check_unknown(t, w, prefix);
}
