// inputs.c: the content hashes of the files a point names (weights, VAE,
// given samples or bases, feature network, reference), and the run's cache
// of them.
#include "run/runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hash.h"

// FNV-1a of a file's bytes, remembered per path with its size and mtime.
#define INPUT_CACHE 16
struct msf_run_input_cache {
    struct {
        char path[4096];
        off_t size;
        struct timespec mtime;
        uint64_t hash;
    } entry[INPUT_CACHE];
    int next;
};

msf_status msf_run_input_cache_create(msf_run_input_cache **c) {
    *c = calloc(1, sizeof **c);
    return *c ? MSF_OK : msf_fail(MSF_ERR_NOMEM, "out of memory");
}

void msf_run_input_cache_free(msf_run_input_cache *c) { free(c); }

static msf_status file_content_hash(msf_run_input_cache *c, const char *path, uint64_t *hash) {
    struct stat st;
    if (stat(path, &st) != 0) return msf_fail(MSF_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    for (int i = 0; c && i < INPUT_CACHE; i++)
        if (!strcmp(c->entry[i].path, path) && c->entry[i].size == st.st_size &&
            c->entry[i].mtime.tv_sec == st.st_mtim.tv_sec && c->entry[i].mtime.tv_nsec == st.st_mtim.tv_nsec) {
            *hash = c->entry[i].hash;
            return MSF_OK;
        }
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);
    if (!f || !buf) {
        free(buf);
        if (f) fclose(f);
        return msf_fail(f ? MSF_ERR_NOMEM : MSF_ERR_IO, "cannot read %s: %s", path,
                        f ? "out of memory" : strerror(errno));
    }
    uint64_t h = MSF_FNV1A_INIT;
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) h = msf_fnv1a(h, buf, got);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) return msf_fail(MSF_ERR_IO, "error reading %s", path);
    if (c) {
        int slot = c->next++ % INPUT_CACHE;
        snprintf(c->entry[slot].path, sizeof c->entry[slot].path, "%s", path);
        c->entry[slot].size = st.st_size, c->entry[slot].mtime = st.st_mtim, c->entry[slot].hash = h;
    }
    *hash = h;
    return MSF_OK;
}

// Chain the config key and, when the config names it, the file's content hash.
static msf_status hash_input(msf_run_input_cache *c, uint64_t *h, const msf_run_point *p, const char *key) {
    const char *path = config_str(p->config, key, NULL);
    if (!path) return MSF_OK;
    uint64_t content = 0;
    msf_status s = file_content_hash(c, path, &content);
    if (s) return msf_fail_context(s, "%s", p->name);
    *h = msf_fnv1a(*h, key, strlen(key) + 1);
    *h = msf_fnv1a(*h, &content, sizeof content);
    return MSF_OK;
}

msf_status msf_run_point_hash_inputs(msf_run_point *p, msf_run_input_cache *cache) {
    uint64_t h = MSF_FNV1A_INIT;
    msf_status s;
    if ((s = hash_input(cache, &h, p, "model.weights")) || (s = hash_input(cache, &h, p, "model.vae")) ||
        (s = hash_input(cache, &h, p, "samples")))
        return s;
    // Given bases: a file's contents, or with `real` the reference images they are made of.
    const char *bases = msf_run_str(p->config, "sampler.base_from");
    if (bases && (s = hash_input(cache, &h, p, strcmp(bases, "real") ? "sampler.base_from" : "evaluator.reference")))
        return s;
    p->model_hash = h;
    if ((s = hash_input(cache, &h, p, "evaluator.featnet")) || (s = hash_input(cache, &h, p, "evaluator.reference")))
        return s;
    p->inputs_hash = h;
    return MSF_OK;
}
