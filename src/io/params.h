// params.h: parameter tables, the one loader of model weights.
//
// A model lists its tensors once: state_dict key, shape and the pointer that
// receives the tensor's address. From that table msf_params_alloc lays out
// one zeroed, 64-byte aligned slab (every tensor starting on a 64-byte
// boundary) and points each entry into it, and msf_params_load fills it from
// a weight file (any number type is converted to float32: float16 is widened
// exactly), checking in one place that
//   - every tensor is present (MSF_ERR_NOT_FOUND: "tensor 'K' not found in
//     FILE (expected [..])"),
//   - has the table's shape (MSF_ERR_SHAPE: "tensor 'K' in FILE has shape
//     [..], expected [..]"),
//   - is finite where the entry asks for it (MSF_ERR_NUMERIC),
//   - and that the model's group holds no other tensor (MSF_ERR_FORMAT:
//     "tensor 'K' in FILE is not part of WHAT", naming up to four more).
// The first failure in table order is reported; unknown tensors after all
// entries. Tensors in sub-groups of the model's group (e.g. check/ beside a
// model stored at the root) are not the model's and are left alone.
//
// The same table serves random initialisation and saving (dit_save,
// vae_save): its order is the state_dict order.
#ifndef MSF_IO_PARAMS_H
#define MSF_IO_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5read.h"

#define MSF_PARAM_MAX_DIMS 4
#define MSF_PARAM_NAME_MAX 128

// Entry flags.
enum {
    MSF_PARAM_SKIP = 1,      // checked in the file (present, shape) but not loaded: no slab space, *dst = NULL
    MSF_PARAM_OPTIONAL = 2,  // may be absent; then *dst = NULL (a present one is checked as usual)
    // (Every loaded tensor is checked for NaN and infinity; no flag needed.)
};

typedef struct {
    char name[MSF_PARAM_NAME_MAX];  // state_dict key, relative to the model's group
    int ndim;
    int64_t shape[MSF_PARAM_MAX_DIMS];
    float **dst;     // receives the tensor's address in the slab (may be NULL for SKIP)
    unsigned flags;  // MSF_PARAM_*
    int tag;         // free for the caller (e.g. which half of a model an entry belongs to)
} msf_param;

typedef struct {
    msf_param *entries;
    int count, capacity;
    msf_status error;  // a failed add (out of memory, bad entry), reported by alloc and load
    char error_msg[160];
    char what[160];     // the model, for messages: "a DiT with depth 28"
    int allow_unknown;  // do not check for unknown tensors (a part of a model: one Inception block)
} msf_params;

// An empty table; `what` (printf format) names the model in messages.
void msf_params_init(msf_params *t, const char *what, ...) __attribute__((format(printf, 2, 3)));
void msf_params_free(msf_params *t);

// Append an entry named by printf(fmt, ...); MSF_SHAPE(d0, d1, ...) gives
// ndim and shape. A failure (out of memory, a name longer than
// MSF_PARAM_NAME_MAX, a bad rank) is kept in t->error and returned by
// msf_params_alloc / msf_params_load; NULL is returned then.
msf_param *msf_params_add(msf_params *t, float **dst, unsigned flags, int ndim, const int64_t *shape, const char *fmt,
                          ...) __attribute__((format(printf, 6, 7)));
#define MSF_SHAPE(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

size_t msf_param_numel(const msf_param *p);
// Floats of the slab: every entry but SKIP ones, each rounded up to 64 bytes.
size_t msf_params_slab_floats(const msf_params *t);

// Allocate the zeroed slab (free with msf_aligned_free) and point every
// entry's *dst into it, in table order (NULL for SKIP entries).
// *floats (may be NULL) gets msf_params_slab_floats.
msf_status msf_params_alloc(msf_params *t, float **slab, size_t *floats);

// Fill the slab from the tensors of `group` (NULL or "" = the file root;
// "base" and "base/" are the same), with the checks above.
msf_status msf_params_load(msf_params *t, msf_h5_reader *w, const char *group);

#endif
