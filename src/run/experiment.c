// experiment.c: loading an experiment file (its schema and defaults in
// schema.c), sweep expansion into grid points, and what a point needs (files,
// sampling options, architecture, cost).
#include "run/experiment.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffusion/diffusion.h"
#include "models/dit.h"
#include "nn/pyramid.h"

// -----------------------------------------------------------------------------
// Loading and sweeps

// Remove `key` from map n (no-op if absent).
static void map_remove(config_node *n, const char *key) {
    for (int i = 0; i < n->count; i++) {
        if (strcmp(n->keys[i], key)) continue;
        free(n->keys[i]);
        config_free(n->items[i]);
        n->count--;
        memmove(&n->keys[i], &n->keys[i + 1], (size_t)(n->count - i) * sizeof *n->keys);
        memmove(&n->items[i], &n->items[i + 1], (size_t)(n->count - i) * sizeof *n->items);
        memmove(&n->key_lines[i], &n->key_lines[i + 1], (size_t)(n->count - i) * sizeof *n->key_lines);
        return;
    }
}

static msf_status add_point(msf_experiment *e, config_node *cfg, const char *sweep) {
    if (e->num_points >= MSF_RUN_MAX_POINTS) {
        config_free(cfg);
        return msf_fail(MSF_ERR_INVALID, "%s: more than %d grid points", e->path, MSF_RUN_MAX_POINTS);
    }
    msf_run_point *p = &e->points[e->num_points++];
    memset(p, 0, sizeof *p);
    p->config = cfg;
    const char *run = config_str(cfg, "name", "");
    snprintf(p->run, sizeof p->run, "%s", run);
    snprintf(p->sweep, sizeof p->sweep, "%s", sweep);
    snprintf(p->name, sizeof p->name, "%s%s%s", run, *sweep ? "," : "", sweep);
    // Hashed without a model.precision that says the default, fp32: writing
    // it out does not change a point, bf16 does.
    config_node *key = config_clone(cfg);
    if (!key) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    config_node *model = (config_node *)config_find(key, "model"),
                *evaluator = (config_node *)config_find(key, "evaluator");
    if (model && !strcmp(config_str(key, "model.precision", ""), "fp32")) map_remove(model, "precision");
    if (evaluator && !strcmp(config_str(key, "evaluator.precision", ""), "fp32")) map_remove(evaluator, "precision");
    // sampler.label_mode is hashed under its earlier name, labels, so points
    // finished before the rename are reused.
    config_node *sampler = (config_node *)config_find(key, "sampler");
    for (int i = 0; sampler && i < sampler->count; i++)
        if (!strcmp(sampler->keys[i], "label_mode")) {
            char *name = strdup("labels");
            if (!name) {
                config_free(key);
                return msf_fail(MSF_ERR_NOMEM, "out of memory");
            }
            free(sampler->keys[i]);
            sampler->keys[i] = name;
        }
    p->hash = config_hash(key);
    // What decides the samples (not num_samples: more samples extend a run).
    static const char *const ignore[] = {"name",      "series",   "num_samples", "grid",
                                         "evaluator", "spectrum", "reproduces",  "sweep"};
    for (size_t k = 0; k < sizeof ignore / sizeof ignore[0]; k++) map_remove(key, ignore[k]);
    p->sample_hash = config_hash(key);
    config_free(key);
    return MSF_OK;
}

// A swept value as it appears in a grid point's name, which is a directory
// name: a path gives its last component ("models/dit.h5" -> "dit.h5"), and
// spaces become '_'. Two values that still collide make the duplicate-name
// check below fail.
static const char *point_value_text(char *buf, size_t size, const char *text) {
    const char *slash = strrchr(text, '/');
    snprintf(buf, size, "%s", slash && slash[1] ? slash + 1 : text);
    for (char *c = buf; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '/') *c = '_';
    return buf;
}

// Expand sweep keys k.. of `sweep` over `cfg` (a resolved run without `sweep`).
static msf_status expand(msf_experiment *e, const config_node *cfg, const config_node *sweep, int k, const char *desc) {
    if (!sweep || k == sweep->count) {
        config_node *c = config_clone(cfg);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory");
        return add_point(e, c, desc);
    }
    const config_node *values = sweep->items[k];
    const char *leaf = strrchr(sweep->keys[k], '.');
    leaf = leaf ? leaf + 1 : sweep->keys[k];
    for (int i = 0; i < values->count; i++) {
        config_node *c = config_clone(cfg);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory");
        msf_status s = config_set(c, sweep->keys[k], values->items[i]);
        char d[160], v[160];
        int len = snprintf(d, sizeof d, "%s%s%s=%s", desc, *desc ? "," : "", leaf,
                           point_value_text(v, sizeof v, values->items[i]->text));
        if (!s && (len < 0 || (size_t)len >= sizeof d))
            s = msf_fail(MSF_ERR_INVALID, "%s:%d: the grid point name '%s...' is longer than %zu characters",
                         values->items[i]->file, values->items[i]->line, d, sizeof d - 1);
        if (!s) s = expand(e, c, sweep, k + 1, d);
        config_free(c);
        if (s) return s;
    }
    return MSF_OK;
}

// A run samples a model (model and num_samples required) or evaluates a given
// sample batch (samples): that one has no model, sampler or spectrum of its
// own, and drops those it inherits from `defaults`. `own` is the run as
// written, `run` with the defaults laid under it.
static msf_status check_run_source(config_node *run, const config_node *own, const config_node *sweep,
                                   const char *where) {
    int samples = config_get(run, "samples") != NULL;
    for (int k = 0; sweep && k < sweep->count; k++) samples |= !strcmp(sweep->keys[k], "samples");
    if (!samples) {
        static const char *const need[] = {"model", "num_samples"};
        for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
            if (!config_get(run, need[i]))
                return msf_fail(MSF_ERR_INVALID,
                                "%s:%d: %s: '%s' is missing (required unless the run evaluates "
                                "given samples)",
                                run->file, run->line, where, need[i]);
        return MSF_OK;
    }
    static const char *const unused[] = {"model", "sampler", "spectrum"};
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        const config_node *v = config_get(own, unused[i]);
        if (v)
            return msf_fail(MSF_ERR_INVALID,
                            "%s:%d: %s: '%s' does not apply to a run of given samples (it evaluates "
                            "the images of 'samples' as they are)",
                            v->file, v->line, where, unused[i]);
        map_remove(run, unused[i]);
        size_t len = strlen(unused[i]);
        for (int k = 0; sweep && k < sweep->count; k++)
            if (!strncmp(sweep->keys[k], unused[i], len) && sweep->keys[k][len] == '.')
                return msf_fail(MSF_ERR_INVALID, "%s:%d: %s.sweep: '%s' does not apply to a run of given samples",
                                sweep->file, sweep->key_lines[k], where, sweep->keys[k]);
    }
    return MSF_OK;
}

static msf_status check_sweep(const config_node *sweep, const char *where) {
    for (int k = 0; k < sweep->count; k++) {
        const config_field *f = config_schema_find(msf_run_schema, sweep->keys[k]);
        if (!f || f->type == CONFIG_T_MAP || f->type == CONFIG_T_MAPLIST || f->type == CONFIG_T_SWEEP ||
            !strcmp(sweep->keys[k], "name"))
            return msf_fail(MSF_ERR_INVALID,
                            "%s:%d: %s.sweep: '%s' is not a field that can be swept (e.g. "
                            "sampler.residual_steps, sampler.cfg_scale, seed)",
                            sweep->file, sweep->key_lines[k], where, sweep->keys[k]);
        char path[256];
        snprintf(path, sizeof path, "%s.sweep.%s", where, sweep->keys[k]);
        for (int i = 0; i < sweep->items[k]->count; i++) {
            const config_node *v = sweep->items[k]->items[i];
            msf_status s = v->kind == CONFIG_SCALAR
                               ? config_validate_value(v, f, path)
                               : msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' lists values, not %s", v->file, v->line, path,
                                          v->kind == CONFIG_MAP ? "mappings" : "lists");
            if (s) return s;
        }
    }
    return MSF_OK;
}

// A folder name msf run may create: 1..size-1 letters, digits, '-', '_' and
// '.', not starting with '.' (so never "", ".", ".." or a path).
static int safe_name(const char *s, size_t size) {
    size_t len = strlen(s);
    if (len == 0 || len >= size || s[0] == '.') return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            return 0;
    return 1;
}

// The counts of a point, capped as the CLI caps them.
static const struct {
    const char *key;
    int64_t min, max;
    const char *as;
} count_limits[] = {
    {"num_samples", 1, MSF_RUN_MAX_SAMPLES, "as msf sample --num"},
    {"batch", 1, MSF_RUN_MAX_BATCH, "as msf sample --batch"},
    {"shard_size", 1, MSF_RUN_MAX_SHARD, "samples per shard file"},
    {"grid", 0, MSF_RUN_MAX_GRID, "as msf decode --grid"},
    {"seed", 0, INT64_MAX, "as msf sample --seed"},
    {"evaluator.batch", 1, MSF_RUN_MAX_BATCH, "as msf features --batch"},
    {"spectrum.max", 0, (int64_t)1 << 40, "as msf spectrum --max"},
    {"model.input_size", 1, 4096, "as msf flops --input-size"},
    {"model.channels", 1, 4096, "latent channels"},
    {"model.scale", 2, 64, "the MSF scale factor"},
    {"model.levels", 2, MSF_MAX_LEVELS, "MSF levels"},
};

// Everything about a point's config that needs no file: counts in range,
// respacings that parse, residual_start, the spectrum's factorisation. The
// same checks for --dry-run and a run, with file:line of the value.
static msf_status check_point(const msf_run_point *p, const char *where) {
    for (size_t i = 0; i < sizeof count_limits / sizeof count_limits[0]; i++) {
        const config_node *v = config_find(p->config, count_limits[i].key);
        if (!v) continue;
        int64_t x = config_int(p->config, count_limits[i].key, 0);
        if (x < count_limits[i].min || x > count_limits[i].max)
            return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s.%s' must be an integer in [%lld, %lld] (%s), got %s", v->file,
                            v->line, where, count_limits[i].key, (long long)count_limits[i].min,
                            (long long)count_limits[i].max, count_limits[i].as, v->text);
    }
    static const char *const steps[] = {"sampler.steps", "sampler.base_steps", "sampler.residual_steps"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const config_node *v = config_find(p->config, steps[i]);
        if (!v) continue;
        int64_t *map = NULL;
        int count;
        msf_status s = diff_space_timesteps(1000, v->text, &map, &count);
        free(map);
        if (s)
            return msf_fail_context(MSF_ERR_INVALID, "%s:%d: '%s.%s' is '%s'", v->file, v->line, where, steps[i],
                                    v->text);
    }
    const config_node *v = config_find(p->config, "sampler.residual_start");
    if (v && strcmp(v->text, "noise")) {
        char *end;
        long t0 = strtol(v->text, &end, 10);
        if (*end || end == v->text || t0 < 1 || t0 > 999)
            return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s.sampler.residual_start' is 'noise' or a step 1..999, got '%s'",
                            v->file, v->line, where, v->text);
    }
    if ((v = config_find(p->config, "sampler.base_from")) && !strcmp(v->text, "real") &&
        !config_find(p->config, "evaluator"))
        return msf_fail(MSF_ERR_INVALID,
                        "%s:%d: '%s.sampler.base_from: real' takes the bases of the evaluator's "
                        "reference images; the point has no evaluator",
                        v->file, v->line, where);
    static const char *const prec_keys[] = {"model.precision", "evaluator.precision"};
    for (size_t i = 0; i < 2; i++)
        if ((v = config_find(p->config, prec_keys[i])) && !strcmp(v->text, "bf16") && !nn_bf16_available())
            return msf_fail(MSF_ERR_INVALID,
                            "%s:%d: '%s.%s: bf16' needs oneDNN, and this msf was built without it "
                            "(install libdnnl-dev and rebuild: make deps && make)",
                            v->file, v->line, where, prec_keys[i]);
    if ((v = config_find(p->config, "spectrum.factorize"))) {
        nn_pyramid_opts fo = nn_pyramid_defaults();
        if (nn_pyramid_opts_parse(&fo, v->text))
            return msf_fail_context(MSF_ERR_INVALID, "%s:%d: '%s.spectrum.factorize' is '%s'", v->file, v->line, where,
                                    v->text);
    }
    return MSF_OK;
}

const char *msf_run_point_precision(const msf_run_point *p) { return msf_run_str(p->config, "model.precision"); }

const char *msf_run_point_eval_precision(const msf_run_point *p) {
    return msf_run_str(p->config, "evaluator.precision");
}

msf_status msf_experiment_load(msf_experiment *e, const char *path) {
    memset(e, 0, sizeof *e);
    msf_status s;
    if (!(e->path = strdup(path))) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    if ((s = config_parse_file(&e->root, path)) || (s = config_resolve_uses(e->root)) ||
        (s = config_validate(e->root, msf_experiment_schema, "")))
        goto fail;
    const config_node *name_node = config_get(e->root, "experiment");
    const char *name = name_node->text;
    if (!safe_name(name, sizeof e->name)) {
        s = msf_fail(MSF_ERR_INVALID,
                     "%s:%d: 'experiment' must be a folder name (results go to RESULTS_DIR/NAME/): "
                     "1 to %zu letters, digits, '-', '_' or '.', not starting with '.'; got '%s'",
                     name_node->file, name_node->line, sizeof e->name - 1, name);
        goto fail;
    }
    snprintf(e->name, sizeof e->name, "%s", name);
    if (!(e->points = calloc(MSF_RUN_MAX_POINTS, sizeof *e->points))) {
        s = msf_fail(MSF_ERR_NOMEM, "out of memory");
        goto fail;
    }
    const config_node *defaults = config_get(e->root, "defaults"), *runs = config_get(e->root, "runs");
    for (int r = 0; r < runs->count; r++) {
        char where[32];
        snprintf(where, sizeof where, "runs[%d]", r);
        config_node *run = defaults ? config_clone(defaults) : NULL;
        if (defaults && !run) {
            s = msf_fail(MSF_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (run) {
            // The run's own file:line for a missing key.
            free(run->file);
            run->file = strdup(runs->items[r]->file);
            run->line = runs->items[r]->line;
            s = run->file ? config_merge(run, runs->items[r]) : msf_fail(MSF_ERR_NOMEM, "out of memory");
        } else if (!(run = config_clone(runs->items[r]))) {
            s = msf_fail(MSF_ERR_NOMEM, "out of memory");
        }
        if (!s) s = config_validate(run, msf_run_schema, where);
        const char *rn = s ? "" : config_str(run, "name", "");
        if (!s && !safe_name(rn, sizeof e->points[0].run)) {
            const config_node *n = config_get(run, "name");
            s = msf_fail(MSF_ERR_INVALID,
                         "%s:%d: %s.name must be a folder name: 1 to %zu letters, digits, '-', '_' "
                         "or '.', not starting with '.'; got '%s'",
                         n->file, n->line, where, sizeof e->points[0].run - 1, rn);
        }
        const config_node *sweep = s ? NULL : config_get(run, "sweep");
        if (sweep) s = check_sweep(sweep, where);
        if (!s) s = check_run_source(run, runs->items[r], sweep, where);
        int first_point = e->num_points;
        if (!s) {
            // Expand without the sweep key itself.
            config_node *base = config_clone(run), *sw = sweep ? config_clone(sweep) : NULL;
            if (!base || (sweep && !sw)) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
            if (base) map_remove(base, "sweep");
            if (!s) s = expand(e, base, sw, 0, "");
            config_free(base), config_free(sw);
        }
        config_free(run);
        for (int i = first_point; i < e->num_points && !s; i++) s = check_point(&e->points[i], where);
        if (s) goto fail;
    }
    for (int i = 0; i < e->num_points; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(e->points[i].name, e->points[j].name)) {
                s = msf_fail(MSF_ERR_INVALID,
                             "%s: two grid points are both named '%s' (give the runs different "
                             "names)",
                             path, e->points[i].name);
                goto fail;
            }
    return MSF_OK;
fail:
    msf_experiment_free(e);
    return s;
}

void msf_experiment_free(msf_experiment *e) {
    for (int i = 0; i < e->num_points; i++) config_free(e->points[i].config);
    free(e->points);
    config_free(e->root);
    free(e->path);
    memset(e, 0, sizeof *e);
}

// -----------------------------------------------------------------------------
// What a point needs

static int file_missing(const char *path) { return access(path, R_OK) != 0; }

const char *msf_run_point_kind(const msf_run_point *p) {
    return config_find(p->config, "samples") ? "samples" : config_str(p->config, "model.kind", "dit");
}

int msf_run_point_missing(const msf_run_point *p, msf_missing_fn fn, void *user) {
    static const struct {
        const char *key, *how, *what;
    } files[] = {{"model.weights", "model.obtain", "model weights"},
                 {"samples", NULL, "sample batch"},
                 {"sampler.base_from", NULL, "bases file"},
                 {"model.vae", "model.vae_obtain", "VAE weights"},
                 {"evaluator.featnet", "evaluator.featnet_obtain", "feature network weights"},
                 {"evaluator.reference", "evaluator.reference_obtain", "reference batch"}};
    int count = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *path = config_str(p->config, files[i].key, NULL);
        if (!path || !file_missing(path) || (!strcmp(files[i].key, "sampler.base_from") && !strcmp(path, "real")))
            continue;
        count++;
        if (fn) fn(user, path, files[i].what, files[i].how ? config_str(p->config, files[i].how, NULL) : NULL);
    }
    return count;
}

static msf_status named_arch(dit_config *c, const char *arch, int side, int in_c, int out_c) {
    msf_status s = dit_config_named(c, arch, side);
    if (s) return s;
    c->in_channels = in_c;
    c->out_channels = out_c;
    return MSF_OK;
}

msf_status msf_run_point_arch(msf_model *m, const msf_run_point *p) {
    memset(m, 0, sizeof *m);
    const config_node *c = p->config;
    const char *weights = config_str(c, "model.weights", ""), *group = msf_run_str(c, "model.group");
    int msf = !strcmp(config_str(c, "model.kind", "dit"), "msf");
    msf_status s = MSF_OK;
    if (!file_missing(weights)) {
        msf_h5_reader *w;
        if ((s = msf_h5_open(&w, weights))) return s;
        if (!msf) {
            m->num_stages = 1;
            s = dit_config_read(&m->stage[0].config, w, group);
            m->size = m->stage[0].config.input_size, m->channels = m->stage[0].config.in_channels;
        } else {
            int64_t levels = 0, size = 0, channels = 0;
            if ((s = msf_h5_get_attr_int(w, group, "levels", &levels)) ||
                (s = msf_h5_get_attr_int(w, group, "input_size", &size)) ||
                (s = msf_h5_get_attr_int(w, group, "channels", &channels)) || levels < 2 || levels > MSF_MAX_LEVELS) {
                msf_h5_close(w);
                return msf_fail(MSF_ERR_FORMAT,
                                "%s%s%s: not an MSF model (attributes levels 2..%d, input_size, "
                                "channels; model.kind is msf)",
                                weights, group ? ":" : "", group ? group : "", MSF_MAX_LEVELS);
            }
            m->num_stages = (int)levels, m->size = (int)size, m->channels = (int)channels;
            for (int k = 0; k < m->num_stages && !s; k++) {
                char g[MSF_MAX_LEVELS * 4], full[256];
                msf_stage_group(g, sizeof g, m->num_stages, k);
                snprintf(full, sizeof full, "%s%s%s", group ? group : "", group ? "/" : "", g);
                s = dit_config_read(&m->stage[k].config, w, full);
            }
        }
        msf_h5_close(w);
        return s;
    }
    const char *arch = msf_run_str(c, "model.arch");
    if (!arch)
        return msf_fail(MSF_ERR_INVALID, "%s is missing and the model has no 'arch' to estimate its cost from",
                        weights);
    int size = (int)msf_run_int(c, "model.input_size"), C = (int)msf_run_int(c, "model.channels");
    m->size = size, m->channels = C;
    if (!msf) {
        m->num_stages = 1;
        return named_arch(&m->stage[0].config, arch, size, C, 2 * C);
    }
    int scale = (int)msf_run_int(c, "model.scale"), levels = (int)msf_run_int(c, "model.levels");
    if (levels < 2 || levels > MSF_MAX_LEVELS || scale < 2)
        return msf_fail(MSF_ERR_INVALID, "model.levels must be 2..%d and model.scale >= 2", MSF_MAX_LEVELS);
    m->num_stages = levels;
    int side = size;
    for (int k = 1; k < levels; k++) side /= scale;
    s = named_arch(&m->stage[0].config, arch, side, C, 2 * C);
    for (int k = 1; k < levels && !s; k++) {
        side *= scale;
        s = named_arch(&m->stage[k].config, config_str(c, "model.residual_arch", arch), side, 2 * C, 2 * C);
    }
    return s;
}

// The key a stage reads for sampler.LEAF: its own sampler.base_LEAF or
// sampler.residual_LEAF when given, else the shared sampler.LEAF.
static const char *stage_key(char key[64], const config_node *c, const char *prefix, const char *leaf) {
    snprintf(key, 64, "sampler.%s_%s", prefix, leaf);
    if (!config_find(c, key)) snprintf(key, 64, "sampler.%s", leaf);
    return key;
}

msf_status msf_run_sampling_make(msf_run_sampling *o, const msf_run_point *p, int num_stages, const int *learn_sigma) {
    memset(o, 0, sizeof *o);
    const config_node *c = p->config;
    o->num_stages = num_stages;
    char key[64];
    // The per-stage keys (base_*, residual*) apply to MSF models only.
    const config_node *sampler = config_find(c, "sampler");
    for (int i = 0; num_stages == 1 && sampler && i < sampler->count; i++)
        if (!strncmp(sampler->keys[i], "base_", 5) || !strncmp(sampler->keys[i], "residual", 8))
            return msf_fail(MSF_ERR_INVALID, "%s:%d: %s: 'sampler.%s' applies to MSF models; %s is a DiT",
                            sampler->file, sampler->key_lines[i], p->name, sampler->keys[i],
                            config_str(c, "model.weights", ""));
    const config_node *old_labels = config_find(c, "sampler.labels");
    if (old_labels && config_find(c, "sampler.label_mode"))
        return msf_fail(MSF_ERR_INVALID,
                        "%s:%d: %s: 'sampler.labels' is the earlier name of 'sampler.label_mode': give one",
                        old_labels->file, old_labels->line, p->name);
    const config_node *var = config_find(c, "sampler.variance");
    if (var && num_stages > 1)
        return msf_fail(MSF_ERR_INVALID,
                        "%s:%d: %s: 'sampler.variance' applies to DiT models; MSF stages use their "
                        "model's variance",
                        var->file, var->line, p->name);
    o->variance_given = var != NULL;
    int start_t = 0;
    const char *start = msf_run_str(c, "sampler.residual_start");
    if (strcmp(start, "noise")) {
        char *end;
        long t0 = strtol(start, &end, 10);
        const config_node *v = config_find(c, "sampler.residual_start");
        if (*end || t0 < 1 || t0 > 999)
            return msf_fail(MSF_ERR_INVALID, "%s:%d: 'sampler.residual_start' is 'noise' or a step 1..999, got '%s'",
                            v->file, v->line, start);
        start_t = (int)t0;
    }
    msf_status s =
        diff_label_mode_parse(old_labels ? old_labels->text : msf_run_str(c, "sampler.label_mode"), &o->labels);
    for (int k = 0; k < num_stages && !s; k++) {
        const char *prefix = k == 0 ? "base" : "residual";
        diff_stage_opts *st = &o->stage[k];
        snprintf(o->steps[k], sizeof o->steps[k], "%s", msf_run_str(c, stage_key(key, c, prefix, "steps")));
        st->steps = o->steps[k];
        st->cfg_scale = (float)msf_run_num(c, stage_key(key, c, prefix, "cfg_scale"));
        s = diff_sampler_parse(msf_run_str(c, stage_key(key, c, prefix, "sampler")), &st->sampler);
        if (!s) s = diff_cfg_mode_parse(msf_run_str(c, stage_key(key, c, prefix, "cfg_mode")), &st->cfg_mode);
        st->eta = (float)msf_run_num(c, stage_key(key, c, prefix, "eta"));
        if (!s && !(st->eta >= 0)) {
            const config_node *v = config_find(c, key);
            return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' is %g; expected >= 0 (0 is deterministic DDIM)", v->file,
                            v->line, key, st->eta);
        }
        st->var = learn_sigma[k] ? DIFF_VAR_LEARNED_RANGE : DIFF_VAR_FIXED_LARGE;
        if (!s && var) s = diff_var_type_parse(var->text, &st->var);
        st->start_t = k > 0 ? start_t : 0;
        st->clip_x0 = msf_run_bool(c, stage_key(key, c, prefix, "clip_x0"));
        if (k > 0) {
            int64_t level = msf_run_int(c, "sampler.residual_cond_noise");
            if (level < 0 || level > 1000) {
                const config_node *v = config_find(c, "sampler.residual_cond_noise");
                return msf_fail(MSF_ERR_INVALID, "%s:%d: 'sampler.residual_cond_noise' is a level 0..1000, got %lld",
                                v->file, v->line, (long long)level);
            }
            st->cond_noise = (int)level;
        }
        // Check the respacing (and that a truncated start leaves a step) now
        // rather than after loading the model.
        int count;
        if (!s && (s = diff_stage_count_steps(st, &count))) msf_fail_context(s, "%s: stage %d steps", p->name, k);
        else if (!s && count < 1)
            s = msf_fail(MSF_ERR_INVALID, "%s: sampler.residual_start %d leaves no step of '%s'", p->name, start_t,
                         st->steps);
    }
    return s;
}

msf_status msf_run_point_gflops(double *gflops, const msf_run_point *p) {
    *gflops = NAN;
    if (!strcmp(msf_run_point_kind(p), "samples")) return MSF_OK;  // made elsewhere: the cost is not known
    msf_model m;
    msf_status s = msf_run_point_arch(&m, p);
    if (s) return s;
    int ls[MSF_MAX_LEVELS];
    for (int k = 0; k < m.num_stages; k++) ls[k] = m.stage[k].config.learn_sigma;
    msf_run_sampling o;
    if ((s = msf_run_sampling_make(&o, p, m.num_stages, ls))) return s;
    double per_stage[MSF_MAX_LEVELS];
    *gflops = msf_sample_gflops(&m, o.stage, per_stage);
    // The stages a point skips: the base stage with given bases, the residual ones with residual: none.
    if (m.num_stages > 1) {
        int base = !config_find(p->config, "sampler.base_from");
        int residual = strcmp(msf_run_str(p->config, "sampler.residual"), "none") != 0;
        *gflops = 0;
        for (int k = 0; k < m.num_stages; k++)
            if (k == 0 ? base : residual) *gflops += per_stage[k];
    }
    return MSF_OK;
}
