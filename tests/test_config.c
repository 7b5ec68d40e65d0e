// test_config.c: YAML config trees (file:line), `use:` pieces and overrides,
// schema errors (unknown key, wrong type, missing field), sweep expansion
// into grid points, config hashes and JSON output; the limits of a file
// (aliases, nesting, values, use: pieces) and of an experiment (names, counts,
// respacings, factorisations).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "run/experiment.h"
#include "testutil.h"

// A temporary folder with files written by put().
static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/msf_test_config_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void put(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path_of(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

// msf_experiment_load must fail with a message containing `want`.
static void expect_load_error(const char *file, const char *want) {
    msf_experiment e;
    msf_status s = msf_experiment_load(&e, path_of(file));
    ck_assert_int_ne(s, MSF_OK);
    if (!strstr(msf_error_message(), want)) ck_abort_msg("error '%s' lacks '%s'", msf_error_message(), want);
}

// -----------------------------------------------------------------------------

START_TEST(test_tree_lines_and_types) {
    config_node *n;
    ck_assert_int_eq(config_parse_text(&n, "a: 1\nb:\n  c: \"x\"\n  d: [1, 2.5, three]\ne: true\n", "t.yaml"), MSF_OK);
    ck_assert_int_eq(n->kind, CONFIG_MAP);
    ck_assert_int_eq(n->count, 3);
    ck_assert_int_eq(config_find(n, "b.c")->line, 3);
    ck_assert_int_eq(config_find(n, "b.c")->quoted, 1);
    ck_assert_int_eq(config_find(n, "b.d")->count, 3);
    ck_assert_int_eq(config_find(n, "b.d")->items[2]->line, 4);
    ck_assert_str_eq(config_find(n, "b.d")->file, "t.yaml");
    ck_assert_int_eq(config_int(n, "a", -1), 1);
    ck_assert_int_eq(config_int(n, "b.c", -1), -1);  // quoted: a string, not a number
    ck_assert_int_eq(config_bool(n, "e", 0), 1);
    ck_assert_str_eq(config_str(n, "b.c", ""), "x");
    ck_assert_ptr_null(config_find(n, "b.zz"));
    config_free(n);
    // Syntax errors and duplicate keys name the line.
    ck_assert_int_eq(config_parse_text(&n, "a: 1\nb: [1, 2\n", "s.yaml"), MSF_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "s.yaml:3: YAML syntax error"));
    ck_assert_int_eq(config_parse_text(&n, "a: 1\nb: 2\na: 3\n", "d.yaml"), MSF_ERR_FORMAT);
    ck_assert_str_eq(msf_error_message(), "d.yaml:3: duplicate key 'a' (first at line 1)");
    ck_assert_int_eq(config_parse_text(&n, "- 1\n- 2\n", "l.yaml"), MSF_ERR_FORMAT);
    ck_assert_int_eq(config_parse_text(&n, "", "e.yaml"), MSF_ERR_FORMAT);
}
END_TEST

static const char *const colours[] = {"red", "blue", NULL};
static const config_field inner[] = {{"colour", CONFIG_T_STRING, 0, NULL, colours, NULL, NULL, NULL},
                                     {"size", CONFIG_T_NUMBER, 1, NULL, NULL, "a number", NULL, NULL},
                                     {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};
static const config_field outer[] = {{"count", CONFIG_T_INT, 1, NULL, NULL, "how many", NULL, NULL},
                                     {"flag", CONFIG_T_BOOL, 0, NULL, NULL, NULL, NULL, NULL},
                                     {"box", CONFIG_T_MAP, 0, inner, NULL, NULL, NULL, NULL},
                                     {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static void expect_invalid(const char *text, const char *want) {
    config_node *n;
    ck_assert_int_eq(config_parse_text(&n, text, "v.yaml"), MSF_OK);
    msf_status s = config_validate(n, outer, "top");
    config_free(n);
    ck_assert_int_eq(s, MSF_ERR_INVALID);
    ck_assert_str_eq(msf_error_message(), want);
}

START_TEST(test_schema_errors) {
    config_node *n;
    ck_assert_int_eq(config_parse_text(&n, "count: 3\nflag: false\nbox: {colour: red, size: 2.5}\n", "v.yaml"), MSF_OK);
    ck_assert_int_eq(config_validate(n, outer, "top"), MSF_OK);
    ck_assert(fabs(config_num(n, "box.size", 0) - 2.5) == 0);
    config_free(n);
    expect_invalid("count: 3\nbox:\n  size: 1\n  colr: red\n",
                   "v.yaml:4: unknown key 'top.box.colr' (known here: colour, size)");
    expect_invalid("count: 3.5\n", "v.yaml:1: 'top.count' expects an integer, got a scalar '3.5'");
    expect_invalid("count: \"3\"\n", "v.yaml:1: 'top.count' expects an integer, got a quoted string '3'");
    expect_invalid("count: 1\nflag: yes\n", "v.yaml:2: 'top.flag' expects true or false, got a scalar 'yes'");
    expect_invalid("count: 1\nbox: [1]\n", "v.yaml:2: 'top.box' expects a mapping (key: value lines), got a list");
    expect_invalid("count: 1\nbox: {colour: green, size: 1}\n",
                   "v.yaml:2: 'top.box.colour' is 'green'; expected one of: red, blue");
    expect_invalid("flag: true\n", "v.yaml:1: top: 'count' is missing (required: how many)");
    expect_invalid("count: 1\nbox:\n  colour: red\n", "v.yaml:3: top.box: 'size' is missing (required: a number)");
    expect_invalid("count:\n", "v.yaml:1: 'top.count' expects an integer, got nothing ''");
    ck_assert_ptr_eq(config_schema_find(outer, "box.size"), &inner[1]);
    ck_assert_ptr_null(config_schema_find(outer, "box.weight"));
    ck_assert_ptr_null(config_schema_find(outer, "count.x"));
}
END_TEST

START_TEST(test_merge_set_and_json) {
    config_node *a, *b;
    ck_assert_int_eq(config_parse_text(&a, "x: 1\nm: {p: 1, q: [1, 2]}\n", "a.yaml"), MSF_OK);
    ck_assert_int_eq(config_parse_text(&b, "m: {q: [3], r: \"s\\\"t\"}\ny: z\n", "b.yaml"), MSF_OK);
    ck_assert_int_eq(config_merge(a, b), MSF_OK);
    // Maps merge key by key, lists are replaced; each value keeps its file:line.
    ck_assert_int_eq(config_int(a, "m.p", 0), 1);
    ck_assert_int_eq(config_find(a, "m.q")->count, 1);
    ck_assert_str_eq(config_find(a, "m.q")->file, "b.yaml");
    ck_assert_str_eq(config_find(a, "m.p")->file, "a.yaml");
    ck_assert_str_eq(config_str(a, "y", ""), "z");
    ck_assert_int_eq(config_set(a, "n.deep.k", config_get(b, "y")), MSF_OK);
    ck_assert_str_eq(config_str(a, "n.deep.k", ""), "z");
    ck_assert_int_eq(config_set(a, "x", config_get(b, "y")), MSF_OK);
    ck_assert_str_eq(config_str(a, "x", ""), "z");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_json(f, a, -1);
    fclose(f);
    ck_assert_str_eq(
        buf, "{\"x\":\"z\",\"m\":{\"p\":1,\"q\":[3],\"r\":\"s\\\"t\"},\"y\":\"z\",\"n\":{\"deep\":{\"k\":\"z\"}}}");
    free(buf);
    // Equal configs hash equally wherever they were written; any change shows.
    config_node *c;
    ck_assert_int_eq(
        config_parse_text(&c, "x: z\nm:\n  p: 1\n  q: [3]\n  r: 's\"t'\ny: z\nn: {deep: {k: z}}\n", "c.yaml"), MSF_OK);
    ck_assert_uint_eq(config_hash(a), config_hash(c));
    ck_assert_int_eq(config_set(c, "m.p", config_get(b, "y")), MSF_OK);
    ck_assert_uint_ne(config_hash(a), config_hash(c));
    config_free(a), config_free(b), config_free(c);
}
END_TEST

static const char model_piece[] = "kind: msf\nweights: nowhere.h5\narch: DiT-S/2\ninput_size: 8\n";

START_TEST(test_use_and_sweep) {
    put("model.yaml", model_piece);
    put("exp.yaml",
        "experiment: demo\n"
        "defaults:\n"
        "  num_samples: 10\n"
        "  sampler: {steps: \"20\", cfg_scale: 1.5}\n"
        "runs:\n"
        "  - name: base\n"
        "    model: {use: model.yaml, arch: DiT-B/2}\n"
        "  - name: msf\n"
        "    model: {use: model.yaml}\n"
        "    seed: 4\n"
        "    sweep:\n"
        "      sampler.residual_steps: [1, 5, 25]\n"
        "      sampler.cfg_scale: [1.0, 4.0]\n");
    msf_experiment e;
    ck_assert_int_eq(msf_experiment_load(&e, path_of("exp.yaml")), MSF_OK);
    ck_assert_str_eq(e.name, "demo");
    ck_assert_int_eq(e.num_points, 7);
    ck_assert_str_eq(e.points[0].name, "base");
    // The piece with the run's override; defaults laid under each run.
    ck_assert_str_eq(config_str(e.points[0].config, "model.arch", ""), "DiT-B/2");
    ck_assert_str_eq(config_str(e.points[1].config, "model.arch", ""), "DiT-S/2");
    ck_assert_int_eq(config_int(e.points[1].config, "num_samples", 0), 10);
    // First sweep key varies slowest.
    static const char *names[] = {"msf,residual_steps=1,cfg_scale=1.0",  "msf,residual_steps=1,cfg_scale=4.0",
                                  "msf,residual_steps=5,cfg_scale=1.0",  "msf,residual_steps=5,cfg_scale=4.0",
                                  "msf,residual_steps=25,cfg_scale=1.0", "msf,residual_steps=25,cfg_scale=4.0"};
    for (int i = 0; i < 6; i++) {
        const msf_run_point *p = &e.points[1 + i];
        ck_assert_str_eq(p->name, names[i]);
        ck_assert_str_eq(p->run, "msf");
        ck_assert_ptr_null(config_find(p->config, "sweep"));
        ck_assert_int_eq(config_int(p->config, "seed", 0), 4);
        ck_assert_str_eq(config_str(p->config, "sampler.residual_steps", ""), i < 2 ? "1" : i < 4 ? "5" : "25");
        ck_assert(config_num(p->config, "sampler.cfg_scale", 0) == (i % 2 ? 4.0 : 1.0));
        for (int j = 0; j < i; j++) ck_assert_uint_ne(p->sample_hash, e.points[1 + j].sample_hash);
    }
    // Sampling options and costs of a point (no weights: from arch).
    msf_run_sampling o;
    int ls[2] = {1, 1};
    ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[6], 2, ls), MSF_OK);
    ck_assert_str_eq(o.stage[0].steps, "20");
    ck_assert_str_eq(o.stage[1].steps, "25");
    ck_assert(o.stage[1].cfg_scale == 4.0f);
    double g1, g2;
    ck_assert_int_eq(msf_run_point_gflops(&g1, &e.points[1]), MSF_OK);  // 20 + 1 steps, no guidance
    ck_assert_int_eq(msf_run_point_gflops(&g2, &e.points[3]), MSF_OK);  // 20 + 5 steps, no guidance
    msf_model arch;
    ck_assert_int_eq(msf_run_point_arch(&arch, &e.points[1]), MSF_OK);
    ck_assert_int_eq(arch.num_stages, 2);
    ck_assert_int_eq(arch.stage[0].config.input_size, 4);
    ck_assert_int_eq(arch.stage[1].config.in_channels, 8);
    double base = dit_gflops(&arch.stage[0].config), res = dit_gflops(&arch.stage[1].config);
    ck_assert(fabs(g1 - (20 * base + 1 * res)) <= 1e-9 * g1);
    ck_assert(fabs(g2 - (20 * base + 5 * res)) <= 1e-9 * g2);
    // Loading again gives the same hashes.
    msf_experiment e2;
    ck_assert_int_eq(msf_experiment_load(&e2, path_of("exp.yaml")), MSF_OK);
    for (int i = 0; i < 7; i++) ck_assert_uint_eq(e.points[i].hash, e2.points[i].hash);
    msf_experiment_free(&e2);
    msf_experiment_free(&e);

    // Swept paths name points by their last component (a point name is a
    // directory name); values that still collide are an error.
    put("paths.yaml",
        "experiment: paths\n"
        "runs:\n"
        "  - name: dit\n"
        "    num_samples: 4\n"
        "    model: {use: model.yaml}\n"
        "    sweep:\n"
        "      model.weights: [runs/a/dit.h5, \"b c.h5\"]\n");
    ck_assert_int_eq(msf_experiment_load(&e, path_of("paths.yaml")), MSF_OK);
    ck_assert_int_eq(e.num_points, 2);
    ck_assert_str_eq(e.points[0].name, "dit,weights=dit.h5");
    ck_assert_str_eq(e.points[1].name, "dit,weights=b_c.h5");
    ck_assert_str_eq(config_str(e.points[0].config, "model.weights", ""), "runs/a/dit.h5");
    msf_experiment_free(&e);
    put("paths2.yaml",
        "experiment: paths\n"
        "runs:\n"
        "  - name: dit\n"
        "    num_samples: 4\n"
        "    model: {use: model.yaml}\n"
        "    sweep:\n"
        "      model.weights: [a/dit.h5, b/dit.h5]\n");
    ck_assert_int_eq(msf_experiment_load(&e, path_of("paths2.yaml")), MSF_ERR_INVALID);
    ck_assert_msg(strstr(msf_error_message(), "both named 'dit,weights=dit.h5'"), "%s", msf_error_message());
}
END_TEST

// The sampler's start and clamp options (issue 22): "N@T" respacings, clip_x0
// per stage; each changes the point's sample hash (no reuse of old samples).
START_TEST(test_sampler_start_and_clip) {
    put("model.yaml", model_piece);
    put("clip.yaml",
        "experiment: clip\n"
        "runs:\n"
        "  - name: msf\n"
        "    num_samples: 4\n"
        "    model: {use: model.yaml}\n"
        "    sampler: {base_steps: \"4\", residual_steps: \"5@500\", clip_x0: true}\n"
        "    sweep:\n"
        "      sampler.residual_clip_x0: [false, true]\n"
        "  - name: plain\n"
        "    num_samples: 4\n"
        "    model: {use: model.yaml}\n"
        "    sampler: {base_steps: \"4\", residual_steps: \"5@500\", cfg_scale: 1.0}\n"
        "  - name: dit\n"
        "    num_samples: 4\n"
        "    model: {use: model.yaml}\n"
        "    sampler: {residual_clip_x0: true}\n");
    msf_experiment e;
    ck_assert_msg(msf_experiment_load(&e, path_of("clip.yaml")) == MSF_OK, "%s", msf_error_message());
    ck_assert_int_eq(e.num_points, 4);
    ck_assert_uint_ne(e.points[0].sample_hash, e.points[1].sample_hash);
    ck_assert_uint_ne(e.points[0].sample_hash, e.points[2].sample_hash);
    ck_assert_uint_ne(e.points[1].sample_hash, e.points[2].sample_hash);
    msf_run_sampling o;
    int ls[2] = {1, 1}, want[3][2] = {{1, 0}, {1, 1}, {0, 0}};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[i], 2, ls), MSF_OK);
        ck_assert_str_eq(o.stage[1].steps, "5@500");
        ck_assert_int_eq(o.stage[0].clip_x0, want[i][0]);
        ck_assert_int_eq(o.stage[1].clip_x0, want[i][1]);
    }
    // 4 base steps and 5 residual ones (0, 125, 250, 374, 499), no guidance.
    double g;
    msf_model arch;
    ck_assert_int_eq(msf_run_point_gflops(&g, &e.points[2]), MSF_OK);
    ck_assert_int_eq(msf_run_point_arch(&arch, &e.points[2]), MSF_OK);
    double want_g = 4 * dit_gflops(&arch.stage[0].config) + 5 * dit_gflops(&arch.stage[1].config);
    ck_assert(fabs(g - want_g) <= 1e-9 * want_g);
    // A DiT has one stage: the per-stage keys are MSF's.
    ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[3], 1, ls), MSF_ERR_INVALID);
    ck_assert_msg(strstr(msf_error_message(), "'sampler.residual_clip_x0' applies to MSF models"), "%s",
                  msf_error_message());
    msf_experiment_free(&e);
}
END_TEST

// The run schema's default column: every default a valid value of its key,
// every option named after its key; the accessors take the default from it;
// per-stage keys override the shared ones; label_mode and its earlier name
// labels give the same point (the same hashes).
START_TEST(test_schema_defaults_and_vocabulary) {
    ck_assert_msg(config_schema_check(msf_run_schema, "msf_run_schema") == MSF_OK, "%s", msf_error_message());
    static const config_field bad_default[] = {{"clip", CONFIG_T_BOOL, 0, NULL, NULL, NULL, "maybe", NULL},
                                               {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};
    ck_assert_int_eq(config_schema_check(bad_default, "t"), MSF_ERR_INVALID);
    ck_assert_str_eq(msf_error_message(),
                     "t: the default of 'clip': t:0: 'clip' expects true or false, got a scalar 'maybe'");
    static const config_field bad_flag[] = {{"cfg_scale", CONFIG_T_NUMBER, 0, NULL, NULL, NULL, "1", "--cfg_scale"},
                                            {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};
    ck_assert_int_eq(config_schema_check(bad_flag, "t"), MSF_ERR_INVALID);
    ck_assert_str_eq(msf_error_message(),
                     "t: 'cfg_scale' has the option --cfg_scale, expected -- and its key with '-' for '_'");
    ck_assert_str_eq(msf_run_default("sampler.steps"), "250");
    ck_assert_ptr_null(msf_run_default("sampler.base_steps"));
    config_node *n;
    ck_assert_int_eq(config_parse_text(&n, "name: a\nsampler: {cfg_scale: 4}\n", "r.yaml"), MSF_OK);
    ck_assert_int_eq(msf_run_int(n, "batch"), 8);
    ck_assert_int_eq(msf_run_int(n, "shard_size"), 1000);
    ck_assert(msf_run_num(n, "sampler.cfg_scale") == 4.0);
    ck_assert(msf_run_num(n, "sampler.eta") == 0.0);
    ck_assert(isnan(msf_run_num(n, "sampler.base_cfg_scale")));
    ck_assert_int_eq(msf_run_bool(n, "sampler.clip_x0"), 0);
    ck_assert_str_eq(msf_run_str(n, "sampler.residual"), "sample");
    ck_assert_ptr_null(msf_run_str(n, "sampler.base_from"));
    config_free(n);

    put("model.yaml", model_piece);
    put("vocab.yaml",
        "experiment: vocab\n"
        "defaults: {num_samples: 4, model: {use: model.yaml}}\n"
        "runs:\n"
        "  - name: new\n"
        "    sampler: {label_mode: balanced, sampler: ddim, eta: 0.5, residual_eta: 0.25, base_cfg_mode: all,\n"
        "              residual_sampler: ddpm}\n"
        "  - name: old\n"
        "    sampler: {labels: balanced, sampler: ddim, eta: 0.5, residual_eta: 0.25, base_cfg_mode: all,\n"
        "              residual_sampler: ddpm}\n"
        "  - name: both\n"
        "    sampler: {labels: balanced, label_mode: uniform}\n"
        "  - name: negative\n"
        "    sampler: {base_eta: -1}\n");
    msf_experiment e;
    ck_assert_msg(msf_experiment_load(&e, path_of("vocab.yaml")) == MSF_OK, "%s", msf_error_message());
    ck_assert_int_eq(e.num_points, 4);
    ck_assert_uint_eq(e.points[0].sample_hash, e.points[1].sample_hash);
    int ls[2] = {1, 1};
    for (int i = 0; i < 2; i++) {
        msf_run_sampling o;
        ck_assert_msg(msf_run_sampling_make(&o, &e.points[i], 2, ls) == MSF_OK, "%s", msf_error_message());
        ck_assert_int_eq(o.labels, DIFF_LABELS_BALANCED);
        ck_assert_int_eq(o.stage[0].sampler, DIFF_SAMPLER_DDIM);
        ck_assert_int_eq(o.stage[1].sampler, DIFF_SAMPLER_DDPM);
        ck_assert(o.stage[0].eta == 0.5f && o.stage[1].eta == 0.25f);
        ck_assert_int_eq(o.stage[0].cfg_mode, DIFF_CFG_ALL);
        ck_assert_int_eq(o.stage[1].cfg_mode, DIFF_CFG_DIT3);
        ck_assert(o.stage[0].cfg_scale == 1.5f && o.stage[1].cfg_scale == 1.5f);
        ck_assert_str_eq(o.stage[0].steps, "250");
    }
    msf_run_sampling o;
    ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[2], 2, ls), MSF_ERR_INVALID);
    ck_assert_msg(strstr(msf_error_message(), "'sampler.labels' is the earlier name of 'sampler.label_mode'"), "%s",
                  msf_error_message());
    ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[3], 2, ls), MSF_ERR_INVALID);
    ck_assert_msg(strstr(msf_error_message(), "'sampler.base_eta' is -1; expected >= 0"), "%s", msf_error_message());
    msf_experiment_free(&e);
}
END_TEST

START_TEST(test_experiment_errors) {
    put("model.yaml", model_piece);
    put("unknown.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: model.yaml}\n"
        "    samplr: {}\n");
    expect_load_error("unknown.yaml", "unknown.yaml:6: unknown key 'runs[0].samplr'");
    put("type.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: model.yaml}\n"
        "    sampler: {cfg_scale: lots}\n");
    expect_load_error("type.yaml", "type.yaml:6: 'runs[0].sampler.cfg_scale' expects a number, got a scalar 'lots'");
    put("missing.yaml", "experiment: x\nruns:\n  - name: a\n    model: {use: model.yaml}\n");
    expect_load_error("missing.yaml", "missing.yaml:3: runs[0]: 'num_samples' is missing");
    put("nomodel.yaml", "experiment: x\nruns:\n  - name: a\n    num_samples: 3\n    model: {arch: DiT-S/2}\n");
    expect_load_error("nomodel.yaml", "nomodel.yaml:5: runs[0].model: 'kind' is missing");
    // A bad key inside a piece names the piece's own file and line.
    put("badpiece.yaml", "kind: dit\nweights: w.h5\nwidth: 3\n");
    put("usebad.yaml", "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: badpiece.yaml}\n");
    expect_load_error("usebad.yaml", "badpiece.yaml:3: unknown key 'runs[0].model.width'");
    put("cycle.yaml", "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: loop.yaml}\n");
    put("loop.yaml", "use: loop.yaml\n");
    expect_load_error("cycle.yaml", "nests more than 16 files deep");
    put("sweep.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: model.yaml}\n"
        "    sweep: {model: [1, 2]}\n");
    expect_load_error("sweep.yaml", "sweep.yaml:6: runs[0].sweep: 'model' is not a field that can be swept");
    put("sweep2.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: model.yaml}\n"
        "    sweep:\n      seed: [1, x]\n");
    expect_load_error("sweep2.yaml", "sweep2.yaml:7: 'runs[0].sweep.seed' expects an integer, got a scalar 'x'");
    put("empty.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n    model: {use: model.yaml}\n"
        "    sweep: {seed: []}\n");
    expect_load_error("empty.yaml", "'runs[0].sweep.seed' expects a non-empty list of values");
    put("twice.yaml",
        "experiment: x\nruns:\n  - {name: a, num_samples: 2, model: {use: model.yaml}}\n"
        "  - {name: a, num_samples: 3, model: {use: model.yaml}}\n");
    expect_load_error("twice.yaml", "two grid points are both named 'a'");
    put("name.yaml", "experiment: ../up\nruns:\n  - {name: a, num_samples: 2, model: {use: model.yaml}}\n");
    expect_load_error("name.yaml", "name.yaml:1: 'experiment' must be a folder name");
    put("dit.yaml",
        "experiment: x\nruns:\n  - name: a\n    num_samples: 2\n"
        "    model: {kind: dit, weights: w.h5, arch: DiT-S/2}\n    sampler: {residual_steps: \"5\"}\n");
    msf_experiment e;
    ck_assert_int_eq(msf_experiment_load(&e, path_of("dit.yaml")), MSF_OK);
    msf_run_sampling o;
    int ls[1] = {1};
    ck_assert_int_eq(msf_run_sampling_make(&o, &e.points[0], 1, ls), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "dit.yaml:6: a: 'sampler.residual_steps' applies to MSF models"));
    msf_experiment_free(&e);
}
END_TEST

// A growing text buffer for generated YAML.
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} text_buf;
static void text_open(text_buf *t) { ck_assert_ptr_nonnull(t->f = open_memstream(&t->buf, &t->len)); }
static char *text_close(text_buf *t) {
    fclose(t->f);
    return t->buf;
}

static void expect_parse_error(const char *text, const char *want) {
    config_node *n = NULL;
    ck_assert_int_eq(config_parse_text(&n, text, "l.yaml"), MSF_ERR_FORMAT);
    ck_assert_ptr_null(n);
    if (!strstr(msf_error_message(), want)) ck_abort_msg("error '%s' lacks '%s'", msf_error_message(), want);
}

START_TEST(test_yaml_limits) {
    config_node *n;
    // Aliases are copies of their anchor's value, with its lines.
    ck_assert_int_eq(config_parse_text(&n, "a: &x {b: 1, c: [2, 3]}\nd: *x\ne: &s hi\nf: *s\n", "t.yaml"), MSF_OK);
    ck_assert_int_eq(config_int(n, "d.b", 0), 1);
    ck_assert_int_eq(config_find(n, "d.c")->count, 2);
    ck_assert_int_eq(config_find(n, "d.b")->line, 1);
    ck_assert_str_eq(config_str(n, "f", ""), "hi");
    config_free(n);
    expect_parse_error("a: *nothing\n", "l.yaml:1: alias *nothing names no earlier anchor");
    expect_parse_error("a: &x [1, *x]\n", "l.yaml:1: alias *x refers to a value that contains it");
    // Billion laughs: ten levels of ten aliases.
    text_buf t;
    text_open(&t);
    fprintf(t.f, "l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
    for (int k = 1; k < 10; k++) {
        fprintf(t.f, "l%d: &l%d [", k, k);
        for (int i = 0; i < 10; i++) fprintf(t.f, "%s*l%d", i ? ", " : "", k - 1);
        fprintf(t.f, "]\n");
    }
    char *bomb = text_close(&t);
    expect_parse_error(bomb, "the config holds more than 100000 values once aliases are expanded");
    free(bomb);
    // CONFIG_MAX_ALIASES aliases pass, one more does not.
    for (int extra = 0; extra < 2; extra++) {
        text_open(&t);
        fprintf(t.f, "a: &a 1\n");
        for (int i = 0; i < CONFIG_MAX_ALIASES + extra; i++) fprintf(t.f, "k%d: *a\n", i);
        char *text = text_close(&t);
        if (extra) {
            expect_parse_error(text, "l.yaml:1002: more than 1000 aliases");
        } else {
            ck_assert_int_eq(config_parse_text(&n, text, "l.yaml"), MSF_OK);
            ck_assert_int_eq(n->count, CONFIG_MAX_ALIASES + 1);
            config_free(n);
        }
        free(text);
    }
    // CONFIG_MAX_DEPTH levels pass, one more does not, however deep the file goes.
    int depths[] = {CONFIG_MAX_DEPTH - 1, CONFIG_MAX_DEPTH, 100000};
    for (int k = 0; k < 3; k++) {
        text_open(&t);
        fprintf(t.f, "a: ");
        for (int i = 0; i < depths[k]; i++) fputc('[', t.f);
        for (int i = 0; i < depths[k]; i++) fputc(']', t.f);
        fputc('\n', t.f);
        char *text = text_close(&t);
        if (k < 1) {
            ck_assert_int_eq(config_parse_text(&n, text, "l.yaml"), MSF_OK);
            config_free(n);
        } else {
            expect_parse_error(text, "l.yaml:1: nesting deeper than 64 levels");
        }
        free(text);
    }
    // An alias that would nest its value too deep.
    text_open(&t);
    fprintf(t.f, "a: &d ");
    for (int i = 0; i < 40; i++) fputc('[', t.f);
    for (int i = 0; i < 40; i++) fputc(']', t.f);
    fprintf(t.f, "\nb: ");
    for (int i = 0; i < 30; i++) fputc('[', t.f);
    fprintf(t.f, "*d");
    for (int i = 0; i < 30; i++) fputc(']', t.f);
    fputc('\n', t.f);
    char *text = text_close(&t);
    expect_parse_error(text, "l.yaml:2: nesting deeper than 64 levels (alias *d)");
    free(text);
    // Entries of one list.
    text_open(&t);
    fprintf(t.f, "a: [");
    for (int i = 0; i <= CONFIG_MAX_ENTRIES; i++) fprintf(t.f, "%s%d", i ? "," : "", i);
    fprintf(t.f, "]\n");
    text = text_close(&t);
    expect_parse_error(text, "l.yaml:1: a list with more than 10000 entries");
    free(text);
    // A file too large to be a config.
    FILE *f = fopen(path_of("huge.yaml"), "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "a: \"");
    for (int i = 0; i < CONFIG_MAX_FILE_BYTES / 64 + 1; i++)
        fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
    fprintf(f, "\"\n");
    fclose(f);
    ck_assert_int_eq(config_parse_file(&n, path_of("huge.yaml")), MSF_ERR_FORMAT);
    ck_assert_msg(strstr(msf_error_message(), "larger than 4194304 bytes"), "%s", msf_error_message());
    // use: pieces fanning out (each naming the next level ten times).
    for (int k = 0; k < 4; k++) {
        char name[32], body[512] = "";
        snprintf(name, sizeof name, "fan%d.yaml", k);
        for (int i = 0; i < 10; i++) {
            size_t len = strlen(body);
            if (k < 3) snprintf(body + len, sizeof body - len, "k%d: {use: fan%d.yaml}\n", i, k + 1);
            else snprintf(body + len, sizeof body - len, "k%d: leaf\n", i);
        }
        put(name, body);
    }
    ck_assert_int_eq(config_parse_file(&n, path_of("fan0.yaml")), MSF_OK);
    ck_assert_int_eq(config_resolve_uses(n), MSF_ERR_INVALID);
    ck_assert_msg(strstr(msf_error_message(), "more than 256 files pulled in with use:"), "%s", msf_error_message());
    config_free(n);
}
END_TEST

// An experiment file of one run: `experiment` and `name` as written (YAML),
// num_samples, and one more line of the run ("" for none).
static void put_run(const char *experiment, const char *name, const char *num, const char *extra) {
    char text[1024];
    snprintf(text, sizeof text,
             "experiment: %s\nruns:\n  - name: %s\n    num_samples: %s\n    model: {use: model.yaml}\n"
             "%s%s\n",
             experiment, name, num, *extra ? "    " : "", extra);
    put("x.yaml", text);
}

START_TEST(test_experiment_limits) {
    put("model.yaml", model_piece);
    static const struct {
        const char *experiment, *name, *num, *extra, *want;
    } bad[] = {
        {"\"\"", "a", "2", "", "x.yaml:1: 'experiment' must be a folder name"},
        {"../x", "a", "2", "", "x.yaml:1: 'experiment' must be a folder name"},
        {"a/b", "a", "2", "", "x.yaml:1: 'experiment' must be a folder name"},
        {"..", "a", "2", "", "x.yaml:1: 'experiment' must be a folder name"},
        {"\"a\\nb\"", "a", "2", "", "x.yaml:1: 'experiment' must be a folder name"},
        {"x", "\"\"", "2", "", "x.yaml:3: runs[0].name must be a folder name"},
        {"x", "a", "1000000000000", "",
         "x.yaml:4: 'runs[0].num_samples' must be an integer in [1, 100000000] (as msf sample --num), got 1000000000000"},
        {"x", "a", "0", "", "x.yaml:4: 'runs[0].num_samples' must be an integer in [1, 100000000]"},
        {"x", "a", "2", "seed: -2", "x.yaml:6: 'runs[0].seed' must be an integer in [0, 9223372036854775807]"},
        {"x", "a", "2", "batch: 5000", "x.yaml:6: 'runs[0].batch' must be an integer in [1, 4096]"},
        {"x", "a", "2", "shard_size: 0", "x.yaml:6: 'runs[0].shard_size' must be an integer in [1, 1048576]"},
        {"x", "a", "2", "grid: 1000", "x.yaml:6: 'runs[0].grid' must be an integer in [0, 256]"},
        {"x", "a", "2", "sampler: {steps: \"0\"}", "x.yaml:6: 'runs[0].sampler.steps' is '0'"},
        // The respacing's own message follows once, whole (it was formatted into itself).
        {"x", "a", "2", "sampler: {steps: \"2000\"}",
         "x.yaml:6: 'runs[0].sampler.steps' is '2000': respacing '2000': cannot divide section of 1000 steps into 2000"},
        {"x", "a", "2", "sampler: {residual_start: \"1000\"}",
         "x.yaml:6: 'runs[0].sampler.residual_start' is 'noise' or a step 1..999, got '1000'"},
        {"x", "a", "2", "sampler: {residual_steps: \"5@1001\"}",
         "x.yaml:6: 'runs[0].sampler.residual_steps' is '5@1001': respacing '5@1001': expected SPEC@T with T an "
         "integer in 1..1000"},
        {"x", "a", "2", "sampler: {steps: \"600@500\"}",
         "x.yaml:6: 'runs[0].sampler.steps' is '600@500': respacing '600@500' (over steps 0..499): respacing '600': "
         "cannot divide section of 500 steps into 600"},
        {"x", "a", "2", "sampler: {clip_x0: yes}", "runs[0].sampler.clip_x0"},
        {"x", "a", "2", "spectrum: {factorize: \"levels=x\"}", "x.yaml:6: 'runs[0].spectrum.factorize' is 'levels=x'"},
        {"x", "a", "2", "evaluator: {featnet: f.h5, reference: r.npz, batch: 0}",
         "x.yaml:6: 'runs[0].evaluator.batch' must be an integer in [1, 4096]"},
        {"x", "a", "2", "sweep: {num_samples: [2, 200000000]}",
         "x.yaml:6: 'runs[0].num_samples' must be an integer in [1, 100000000]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_run(bad[i].experiment, bad[i].name, bad[i].num, bad[i].extra);
        expect_load_error("x.yaml", bad[i].want);
    }
    // Names of letters, digits, '-', '_' and '.' are fine, as are counts at the caps.
    put_run("a-b_c.1", "run-1.x_y", "100000000", "seed: 9223372036854775807");
    msf_experiment e;
    ck_assert_int_eq(msf_experiment_load(&e, path_of("x.yaml")), MSF_OK);
    ck_assert_str_eq(e.name, "a-b_c.1");
    ck_assert_str_eq(e.points[0].name, "run-1.x_y");
    msf_experiment_free(&e);
}
END_TEST

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tree_lines_and_types);
    tcase_add_test(tc, test_schema_errors);
    tcase_add_test(tc, test_merge_set_and_json);
    tcase_add_test(tc, test_use_and_sweep);
    tcase_add_test(tc, test_sampler_start_and_clip);
    tcase_add_test(tc, test_schema_defaults_and_vocabulary);
    tcase_add_test(tc, test_experiment_errors);
    tcase_add_test(tc, test_yaml_limits);
    tcase_add_test(tc, test_experiment_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
