// cmd_info.c: `msf info FILE.h5` prints a weight file's attributes and tensors,
// or with --tensor one tensor's statistics (checked against --shape).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/tensor.h"
#include "io/h5read.h"

const char cmd_info_usage[] =
    "usage: msf info FILE.h5 [--tensor NAME [--shape D0,D1,...]]\n\n"
    "Print the config attributes of an msf HDF5 weight file and every tensor\n"
    "with its shape and dtype, then the tensor and value counts. A weight file\n"
    "holds one dataset per PyTorch state_dict tensor, named by its key, plus\n"
    "attributes for the model config.\n\n"
    "  --tensor NAME   print only this tensor: shape, dtype, min, max, mean, std\n"
    "                  and the number of NaN/Inf values\n"
    "  --shape DIMS    fail unless the tensor has this shape (-1 = any size)\n\n"
    "Exit status: 0 on success, 1 if the file is missing or not an HDF5 file,\n"
    "the tensor is absent or has another shape, 2 on a usage error.\n";

static void print_attr(void *user, const char *name, const char *value) {
    (void)user;
    printf("  %s = %s\n", name, value);
}

static void print_attr_indented(void *user, const char *name, const char *value) {
    (void)user;
    printf("    %s = %s\n", name, value);
}

// Attributes of every group that holds tensors (a multi-model file keeps each
// model's config on its group), each group once, in name order.
static int print_group_attrs(msf_h5_reader *w) {
    char last[256] = "";
    for (int i = 0; i < msf_h5_count(w); i++) {
        const char *name = msf_h5_tensor_at(w, i)->name, *slash = strrchr(name, '/');
        if (!slash || (size_t)(slash - name) >= sizeof last) continue;
        char group[256];
        memcpy(group, name, (size_t)(slash - name));
        group[slash - name] = '\0';
        if (!strcmp(group, last)) continue;
        strcpy(last, group);
        printf("  %s/\n", group);
        if (msf_h5_visit_attrs(w, group, print_attr_indented, NULL) != MSF_OK) return cli_fail("info");
    }
    return 0;
}

static int print_all(msf_h5_reader *w, const char *path) {
    printf("file: %s\nattributes:\n", path);
    if (msf_h5_visit_attrs(w, NULL, print_attr, NULL) != MSF_OK || print_group_attrs(w)) return cli_fail("info");
    int n = msf_h5_count(w);
    int64_t values = 0;
    printf("tensors:\n");
    for (int i = 0; i < n; i++) {
        const msf_h5_tensor *t = msf_h5_tensor_at(w, i);
        char shape[160];
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        values += numel;
        printf("  %-48s %-24s %s\n", t->name, msf_shape_str(shape, sizeof shape, t->ndim, t->shape), t->dtype);
    }
    printf("%d tensors, %lld values\n", n, (long long)values);
    return 0;
}

// "3456,1152" -> shape; returns the rank, or -1 if malformed.
static int parse_shape(const char *text, int64_t *shape) {
    int ndim = 0;
    const char *p = text;
    while (*p && ndim < MSF_WEIGHTS_MAX_DIMS) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < -1) return -1;
        shape[ndim++] = v;
        if (*end == ',') p = end + 1;
        else if (*end == '\0') return ndim;
        else return -1;
    }
    return -1;
}

static int print_tensor(msf_h5_reader *w, const char *name, const char *shape_text) {
    const msf_h5_tensor *t = msf_h5_find(w, name);
    int64_t shape[MSF_WEIGHTS_MAX_DIMS];
    int ndim;
    if (shape_text) {
        ndim = parse_shape(shape_text, shape);
        if (ndim < 0) {
            fprintf(stderr, "msf info: --shape '%s' is not a comma-separated list of sizes\n", shape_text);
            return 2;
        }
    } else {
        ndim = t ? t->ndim : 0;
        for (int d = 0; d < ndim; d++) shape[d] = t->shape[d];
    }
    float *x = NULL;
    if (msf_h5_load(w, name, ndim, shape, &x) != MSF_OK) return cli_fail("info");
    t = msf_h5_find(w, name);
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    double lo = INFINITY, hi = -INFINITY, sum = 0, sum2 = 0;
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        finite++;
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
        sum += x[i];
        sum2 += (double)x[i] * x[i];
    }
    double mean = finite ? sum / (double)finite : NAN;
    double var = finite ? sum2 / (double)finite - mean * mean : NAN;
    char s[160];
    printf("%s %s %s\n  min %.8g  max %.8g  mean %.8g  std %.8g  non-finite %zu\n", name,
           msf_shape_str(s, sizeof s, t->ndim, t->shape), t->dtype, lo, hi, mean, sqrt(fmax(var, 0)), n - finite);
    msf_aligned_free(x);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL, *tensor = NULL, *shape = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tensor") && i + 1 < argc) tensor = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) shape = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "msf info: unexpected argument '%s'\n\n%s", argv[i], cmd_info_usage);
            return 2;
        }
    }
    if (!path || (shape && !tensor)) {
        fputs(cmd_info_usage, stderr);
        return 2;
    }
    msf_h5_reader *w;
    if (msf_h5_open_as(&w, path, "HDF5 file") != MSF_OK) return cli_fail("info");
    int rc = tensor ? print_tensor(w, tensor, shape) : print_all(w, path);
    msf_h5_close(w);
    return rc;
}
