// bases.h: bases for the residual stage(s) of an MSF model that do not come
// from its base stage: the bases an earlier `msf sample` drew (so the residual
// stage can be sampled again on exactly those bases), tensors at the base's
// side, or full-size tensors, real data for instance, factorised with the
// model's down operator (base = D^(L-1)(z), as src/nn/pyramid.h factorises).
//
// A bases file is HDF5 (`msf sample` output, `msf encode` output, or any file
// with these datasets):
//   base     [N, C, hb, hb]  float: what `msf sample` writes for an MSF model
//   latents  [N, C, hb, hb]  used when there is no `base`: bases as they are,
//            [N, C, H, H]    or full-size latents, factorised
//   labels   [N]             integers, optional: the class of each row
//   first_index (root attribute, optional, default 0): row r holds the base
//            of sample first_index + r (`msf sample --first-index` writes it)
// with C, hb and H the model's channels, base side and full side. Every value
// is checked finite when read.
#ifndef MSF_MSF_BASES_H
#define MSF_MSF_BASES_H

#include <stdint.h>

#include "core/status.h"
#include "msf/msf_model.h"

typedef struct {
    int64_t n;            // rows
    int channels, side;   // a row is (channels, side, side): the model's base
    float *base;          // [n, channels, side, side], 64-byte aligned
    int64_t *labels;      // [n] from the file's `labels`; NULL when it has none
    int64_t first_index;  // the sample index of row 0
    char source[48];      // where the bases came from: "base", "latents", "latents (factorised)", ...
    char *path;           // the file, for messages
} msf_bases;

// The layout of the bases file `path` for model m (its channels, size and
// factorisation; msf_model_read_layout suffices), without reading the
// values: the dataset used, its rows, the first index, whether it has labels.
// MSF_ERR_SHAPE / MSF_ERR_FORMAT naming the file and what was expected.
msf_status msf_bases_probe(msf_bases *b, const char *path, const msf_model *m);
// The bases file `path` for model m, read whole and checked: finite values,
// labels [n] of integers.
msf_status msf_bases_read(msf_bases *b, const char *path, const msf_model *m);
// Bases of the full-size tensors z (n, C, H, H) of model m: D applied L-1
// times. `what` names the source in messages and b->path.
msf_status msf_bases_factorise(msf_bases *b, const float *z, int64_t n, const msf_model *m, const char *what);
void msf_bases_free(msf_bases *b);

// The row of sample `first` when b holds samples first..first+count-1, else
// MSF_ERR_SHAPE naming the file, the samples it holds and those asked for.
msf_status msf_bases_row(const msf_bases *b, int64_t first, int64_t count, int64_t *row);
// Every label of b in [0, num_classes) (MSF_ERR_INVALID naming the row).
msf_status msf_bases_check_labels(const msf_bases *b, int num_classes);

#endif
