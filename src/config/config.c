// config.c: YAML files (libyaml) to a tree with file:line, `use:` pieces and
// typed reads (schema validation and JSON output in schema.c).
#include "config/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config_internal.h"

// -----------------------------------------------------------------------------
// Nodes

static config_node *node_new(config_kind kind, const char *file, int line) {
    config_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->line = line;
    n->file = strdup(file ? file : "");
    if (!n->file) {
        free(n);
        return NULL;
    }
    return n;
}

void config_free(config_node *n) {
    if (!n) return;
    for (int i = 0; i < n->count; i++) {
        if (n->keys) free(n->keys[i]);
        config_free(n->items[i]);
    }
    free(n->keys), free(n->key_lines), free(n->items), free(n->text), free(n->file);
    free(n);
}

// Append an entry (key NULL for a sequence); takes ownership of value.
static msf_status node_append(config_node *n, const char *key, int key_line, config_node *value) {
    int c = n->count + 1;
    config_node **items = realloc(n->items, (size_t)c * sizeof *items);
    if (!items) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
    n->items = items;
    if (n->kind == CONFIG_MAP) {
        char **keys = realloc(n->keys, (size_t)c * sizeof *keys);
        if (keys) n->keys = keys;
        int *lines = realloc(n->key_lines, (size_t)c * sizeof *lines);
        if (lines) n->key_lines = lines;
        char *k = strdup(key);
        if (!keys || !lines || !k) {
            free(k);
            return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        }
        n->keys[n->count] = k;
        n->key_lines[n->count] = key_line;
    }
    n->items[n->count] = value;
    n->count = c;
    return MSF_OK;
}

config_node *config_clone(const config_node *n) {
    config_node *c = node_new(n->kind, n->file, n->line);
    if (!c) return NULL;
    c->quoted = n->quoted;
    if (n->text && !(c->text = strdup(n->text))) goto fail;
    for (int i = 0; i < n->count; i++) {
        config_node *v = config_clone(n->items[i]);
        if (!v || node_append(c, n->keys ? n->keys[i] : NULL, n->key_lines ? n->key_lines[i] : 0, v)) {
            config_free(v);
            goto fail;
        }
    }
    return c;
fail:
    config_free(c);
    return NULL;
}

int config_map_index(const config_node *n, const char *key) {
    if (!n || n->kind != CONFIG_MAP) return -1;
    for (int i = 0; i < n->count; i++)
        if (!strcmp(n->keys[i], key)) return i;
    return -1;
}

const config_node *config_get(const config_node *n, const char *key) {
    int i = config_map_index(n, key);
    return i < 0 ? NULL : n->items[i];
}

const config_node *config_find(const config_node *n, const char *path) {
    char key[128];
    while (n && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        n = config_get(n, key);
        path += len + (dot ? 1 : 0);
    }
    return n;
}

// Replace the contents of dst by those of src (src is consumed).
static void node_take(config_node *dst, config_node *src) {
    config_node tmp = *dst;
    *dst = *src;
    *src = tmp;
    config_free(src);
}

msf_status config_merge(config_node *dst, const config_node *over) {
    if (dst->kind != CONFIG_MAP || over->kind != CONFIG_MAP) {
        config_node *c = config_clone(over);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        node_take(dst, c);
        return MSF_OK;
    }
    for (int i = 0; i < over->count; i++) {
        int j = config_map_index(dst, over->keys[i]);
        msf_status s;
        if (j >= 0) {
            if ((s = config_merge(dst->items[j], over->items[i]))) return s;
            dst->key_lines[j] = over->key_lines[i];
            continue;
        }
        config_node *c = config_clone(over->items[i]);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        if ((s = node_append(dst, over->keys[i], over->key_lines[i], c))) {
            config_free(c);
            return s;
        }
    }
    return MSF_OK;
}

msf_status config_set(config_node *root, const char *path, const config_node *value) {
    char key[128];
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    if (len == 0 || len >= sizeof key || root->kind != CONFIG_MAP)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: cannot set '%s' here", root->file, root->line, path);
    memcpy(key, path, len);
    key[len] = '\0';
    int i = config_map_index(root, key);
    if (i < 0) {
        config_node *m = dot ? node_new(CONFIG_MAP, value->file, value->line) : config_clone(value);
        msf_status s;
        if (!m) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        if ((s = node_append(root, key, value->line, m))) {
            config_free(m);
            return s;
        }
        i = root->count - 1;
        if (!dot) return MSF_OK;
    }
    if (dot) return config_set(root->items[i], dot + 1, value);
    config_node *c = config_clone(value);
    if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
    node_take(root->items[i], c);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Parsing
//
// libyaml's events are turned into the tree directly (not through
// yaml_parser_load), so the limits below stop a hostile file at the event
// that crosses them: nesting deeper than CONFIG_MAX_DEPTH, more than
// CONFIG_MAX_ALIASES aliases, more than CONFIG_MAX_NODES values in all (aliases
// expanded; an alias bomb), more than CONFIG_MAX_ENTRIES entries in one mapping
// or list, or a file over CONFIG_MAX_FILE_BYTES.

typedef struct {
    char *name;
    config_node *node;
    int open;  // the anchored node is still being read (an alias to it would be a cycle)
} anchor;

typedef struct {
    config_node *node;
    char *key;  // a mapping's key waiting for its value
    int key_line;
    int anchor;  // index in anchors of the node's anchor, or -1
} frame;

typedef struct {
    const char *name;
    frame stack[CONFIG_MAX_DEPTH + 1];
    int depth;
    anchor *anchors;
    int num_anchors, cap_anchors;
    int aliases;
    int64_t nodes;
    config_node *root;
} builder;

static void builder_free(builder *b) {
    for (int i = 0; i < b->depth; i++) free(b->stack[i].key);
    for (int i = 0; i < b->num_anchors; i++) free(b->anchors[i].name);
    free(b->anchors);
    config_free(b->root);
}

// Levels of mappings and lists in n (0 for a scalar).
static int node_height(const config_node *n) {
    int h = 0;
    for (int i = 0; i < n->count; i++) {
        int k = node_height(n->items[i]);
        if (k > h) h = k;
    }
    return n->kind == CONFIG_SCALAR ? 0 : h + 1;
}

// Nodes of the tree n, counting no further than `limit`.
static int64_t count_nodes(const config_node *n, int64_t limit) {
    int64_t c = 1;
    for (int i = 0; i < n->count && c <= limit; i++) c += count_nodes(n->items[i], limit - c);
    return c;
}

static msf_status too_many_nodes(const char *file, int line) {
    return msf_fail(MSF_ERR_FORMAT,
                    "%s:%d: the config holds more than %d values once aliases are expanded (an "
                    "alias bomb?)",
                    file, line, CONFIG_MAX_NODES);
}

static msf_status add_anchor(builder *b, const yaml_char_t *name, config_node *n, int open) {
    if (b->num_anchors == b->cap_anchors) {
        int cap = b->cap_anchors ? 2 * b->cap_anchors : 16;
        anchor *a = realloc(b->anchors, (size_t)cap * sizeof *a);
        if (!a) return msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", b->name);
        b->anchors = a, b->cap_anchors = cap;
    }
    char *copy = strdup((const char *)name);
    if (!copy) return msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", b->name);
    b->anchors[b->num_anchors++] = (anchor){.name = copy, .node = n, .open = open};
    return MSF_OK;
}

// A new value v (a scalar, an alias's copy or a collection just opened) at
// `line`: the root, a list item, a mapping's key or its value. Takes v.
// *key_taken: v was a key (a scalar, freed here) rather than a value.
static msf_status attach(builder *b, config_node *v, int line, int *key_taken) {
    *key_taken = 0;
    if (b->depth == 0) {
        if (v->kind != CONFIG_MAP) {
            config_free(v);
            return msf_fail(MSF_ERR_FORMAT, "%s:%d: expected a mapping (key: value lines) at the top", b->name, line);
        }
        b->root = v;
        return MSF_OK;
    }
    frame *f = &b->stack[b->depth - 1];
    config_node *parent = f->node;
    if (parent->count >= CONFIG_MAX_ENTRIES) {
        config_free(v);
        return msf_fail(MSF_ERR_FORMAT, "%s:%d: a %s with more than %d entries", b->name, line,
                        parent->kind == CONFIG_MAP ? "mapping" : "list", CONFIG_MAX_ENTRIES);
    }
    if (parent->kind == CONFIG_MAP && !f->key) {
        if (v->kind != CONFIG_SCALAR) {
            config_free(v);
            return msf_fail(MSF_ERR_FORMAT, "%s:%d: a key must be a plain name", b->name, line);
        }
        int prev = config_map_index(parent, v->text);
        if (prev >= 0) {
            msf_status s = msf_fail(MSF_ERR_FORMAT, "%s:%d: duplicate key '%s' (first at line %d)", b->name, line,
                                    v->text, parent->key_lines[prev]);
            config_free(v);
            return s;
        }
        f->key = v->text;
        v->text = NULL;
        f->key_line = line;
        config_free(v);
        *key_taken = 1;
        return MSF_OK;
    }
    msf_status s = node_append(parent, f->key, f->key_line, v);
    if (s) config_free(v);
    free(f->key);
    f->key = NULL;
    return s;
}

static msf_status on_event(builder *b, const yaml_event_t *ev, int *done) {
    int line = (int)ev->start_mark.line + 1, key_taken;
    msf_status s;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (++b->nodes > CONFIG_MAX_NODES) return too_many_nodes(b->name, line);
        config_node *n = node_new(ev->type == YAML_SCALAR_EVENT           ? CONFIG_SCALAR
                                  : ev->type == YAML_SEQUENCE_START_EVENT ? CONFIG_SEQ
                                                                          : CONFIG_MAP,
                                  b->name, line);
        if (!n) return msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", b->name);
        const yaml_char_t *anchor_name;
        if (ev->type == YAML_SCALAR_EVENT) {
            anchor_name = ev->data.scalar.anchor;
            n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                        ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            if (!(n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length))) {
                config_free(n);
                return msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", b->name);
            }
        } else {
            anchor_name =
                ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
            if (b->depth >= CONFIG_MAX_DEPTH) {
                config_free(n);
                return msf_fail(MSF_ERR_FORMAT, "%s:%d: nesting deeper than %d levels", b->name, line,
                                CONFIG_MAX_DEPTH);
            }
        }
        int is_scalar = n->kind == CONFIG_SCALAR;
        if ((s = attach(b, n, line, &key_taken))) return s;
        if (key_taken) {
            if (anchor_name)
                return msf_fail(MSF_ERR_FORMAT, "%s:%d: an anchor on a key is not supported", b->name, line);
            return MSF_OK;
        }
        if (anchor_name && (s = add_anchor(b, anchor_name, n, !is_scalar))) return s;
        if (!is_scalar)
            b->stack[b->depth++] = (frame){.node = n, .key = NULL, .anchor = anchor_name ? b->num_anchors - 1 : -1};
        return MSF_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        frame *f = &b->stack[--b->depth];
        if (f->anchor >= 0) b->anchors[f->anchor].open = 0;
        free(f->key);
        f->key = NULL;
        return MSF_OK;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        int a = b->num_anchors - 1;
        while (a >= 0 && strcmp(b->anchors[a].name, name)) a--;
        if (a < 0) return msf_fail(MSF_ERR_FORMAT, "%s:%d: alias *%s names no earlier anchor", b->name, line, name);
        if (b->anchors[a].open)
            return msf_fail(MSF_ERR_FORMAT, "%s:%d: alias *%s refers to a value that contains it", b->name, line, name);
        if (++b->aliases > CONFIG_MAX_ALIASES)
            return msf_fail(MSF_ERR_FORMAT, "%s:%d: more than %d aliases (an alias bomb?)", b->name, line,
                            CONFIG_MAX_ALIASES);
        int64_t size = count_nodes(b->anchors[a].node, CONFIG_MAX_NODES - b->nodes);
        if (b->nodes + size > CONFIG_MAX_NODES) return too_many_nodes(b->name, line);
        b->nodes += size;
        if (b->depth + node_height(b->anchors[a].node) > CONFIG_MAX_DEPTH)
            return msf_fail(MSF_ERR_FORMAT, "%s:%d: nesting deeper than %d levels (alias *%s)", b->name, line,
                            CONFIG_MAX_DEPTH, name);
        config_node *n = config_clone(b->anchors[a].node);
        if (!n) return msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", b->name);
        return attach(b, n, line, &key_taken);
    }
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT: *done = 1; return MSF_OK;
    default: return MSF_OK;
    }
}

// Reads at most CONFIG_MAX_FILE_BYTES of a file for libyaml.
typedef struct {
    FILE *f;
    size_t read;
    int too_big;
} file_input;

static int read_file_input(void *data, unsigned char *buffer, size_t size, size_t *size_read) {
    file_input *in = data;
    if (in->read + size > (size_t)CONFIG_MAX_FILE_BYTES + 1) size = (size_t)CONFIG_MAX_FILE_BYTES + 1 - in->read;
    *size_read = fread(buffer, 1, size, in->f);
    in->read += *size_read;
    if (in->read > (size_t)CONFIG_MAX_FILE_BYTES) {
        in->too_big = 1;
        return 0;
    }
    return !ferror(in->f);
}

static msf_status parse(config_node **out, yaml_parser_t *parser, const char *name, const file_input *in) {
    *out = NULL;
    builder b = {.name = name};
    msf_status s = MSF_OK;
    int done = 0, started = 0;
    while (!done && !s) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            if (in && in->too_big)
                s = msf_fail(MSF_ERR_FORMAT, "%s: larger than %d bytes (a config file is a few kB)", name,
                             CONFIG_MAX_FILE_BYTES);
            else
                s = msf_fail(MSF_ERR_FORMAT, "%s:%d: YAML syntax error: %s%s%s", name,
                             (int)parser->problem_mark.line + 1, parser->problem ? parser->problem : "unknown",
                             parser->context ? " " : "", parser->context ? parser->context : "");
            break;
        }
        started |= ev.type == YAML_DOCUMENT_START_EVENT;
        s = on_event(&b, &ev, &done);
        yaml_event_delete(&ev);
    }
    if (!s && (!started || !b.root)) s = msf_fail(MSF_ERR_FORMAT, "%s:1: the file holds no YAML document", name);
    // One document per file: a second one (after '---') would be ignored
    // silently otherwise.
    while (!s) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) break;  // trailing garbage after the document: libyaml's own error later
        yaml_event_type_t type = ev.type;
        int line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) break;
        if (type == YAML_DOCUMENT_START_EVENT)
            s = msf_fail(MSF_ERR_FORMAT,
                         "%s:%d: a second YAML document (a file holds one; the first ends before "
                         "this line)",
                         name, line);
    }
    if (s) {
        builder_free(&b);
        return s;
    }
    *out = b.root;
    b.root = NULL;
    builder_free(&b);
    return MSF_OK;
}

msf_status config_parse_text(config_node **out, const char *text, const char *name) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return msf_fail(MSF_ERR_NOMEM, "cannot start the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    msf_status s = parse(out, &parser, name, NULL);
    yaml_parser_delete(&parser);
    return s;
}

msf_status config_parse_file(config_node **out, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return msf_fail(MSF_ERR_NOMEM, "cannot start the YAML parser");
    }
    file_input in = {.f = f};
    yaml_parser_set_input(&parser, read_file_input, &in);
    msf_status s = parse(out, &parser, path, &in);
    yaml_parser_delete(&parser);
    fclose(f);
    return s;
}

// -----------------------------------------------------------------------------
// use:

typedef struct {
    int files;      // pieces read
    int64_t nodes;  // values read, the top file's included
} use_budget;

static msf_status resolve(config_node *n, int depth, use_budget *budget) {
    if (n->kind == CONFIG_SCALAR) return MSF_OK;
    for (int i = 0; i < n->count; i++) {
        msf_status s = resolve(n->items[i], depth, budget);
        if (s) return s;
    }
    int u = config_map_index(n, "use");
    if (u < 0) return MSF_OK;
    const config_node *use = n->items[u];
    if (use->kind != CONFIG_SCALAR || !use->text[0])
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use' expects the path of a config file", use->file, use->line);
    if (depth >= CONFIG_MAX_USE_DEPTH)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use: %s' nests more than %d files deep (a cycle?)", use->file,
                        use->line, use->text, CONFIG_MAX_USE_DEPTH);
    // Relative to the directory of the file that names it.
    char path[4096];
    const char *slash = strrchr(use->file, '/');
    if (use->text[0] == '/' || !slash) snprintf(path, sizeof path, "%s", use->text);
    else snprintf(path, sizeof path, "%.*s/%s", (int)(slash - use->file), use->file, use->text);
    if (++budget->files > CONFIG_MAX_USE_FILES)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use: %s': more than %d files pulled in with use:", use->file,
                        use->line, use->text, CONFIG_MAX_USE_FILES);
    config_node *piece;
    msf_status s = config_parse_file(&piece, path);
    if (s) return msf_fail_context(s, "%s:%d: use", use->file, use->line);
    budget->nodes += count_nodes(piece, CONFIG_MAX_NODES);
    if (budget->nodes > CONFIG_MAX_NODES) {
        config_free(piece);
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use: %s': the config and its pieces hold more than %d values",
                        use->file, use->line, use->text, CONFIG_MAX_NODES);
    }
    if ((s = resolve(piece, depth + 1, budget))) {
        config_free(piece);
        return s;
    }
    // The piece, then every key of n but `use` over it.
    for (int i = 0; i < n->count && !s; i++) {
        if (i == u) continue;
        config_node one = {.kind = CONFIG_MAP,
                           .count = 1,
                           .keys = &n->keys[i],
                           .key_lines = &n->key_lines[i],
                           .items = &n->items[i],
                           .file = n->file,
                           .line = n->line};
        s = config_merge(piece, &one);
    }
    if (s) {
        config_free(piece);
        return s;
    }
    node_take(n, piece);
    return MSF_OK;
}

msf_status config_resolve_uses(config_node *root) {
    use_budget budget = {.nodes = count_nodes(root, CONFIG_MAX_NODES)};
    return resolve(root, 0, &budget);
}

// -----------------------------------------------------------------------------
// Scalars

int config_is_null(const config_node *v) {
    return v->kind == CONFIG_SCALAR && !v->quoted && (!v->text[0] || !strcmp(v->text, "~") || !strcmp(v->text, "null"));
}

int config_parse_int(const config_node *v, int64_t *out) {
    if (v->kind != CONFIG_SCALAR || v->quoted || !v->text[0]) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v->text, &end, 10);
    if (errno || *end) return 0;
    *out = x;
    return 1;
}

int config_parse_num(const config_node *v, double *out) {
    if (v->kind != CONFIG_SCALAR || v->quoted || !v->text[0]) return 0;
    char *end;
    errno = 0;
    double x = strtod(v->text, &end);
    if (errno || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

int config_parse_bool(const config_node *v, int *out) {
    if (v->kind != CONFIG_SCALAR || v->quoted) return 0;
    if (!strcmp(v->text, "true")) *out = 1;
    else if (!strcmp(v->text, "false")) *out = 0;
    else return 0;
    return 1;
}

const char *config_str(const config_node *n, const char *path, const char *def) {
    const config_node *v = config_find(n, path);
    return v && v->kind == CONFIG_SCALAR && !config_is_null(v) ? v->text : def;
}

int64_t config_int(const config_node *n, const char *path, int64_t def) {
    const config_node *v = config_find(n, path);
    int64_t x;
    return v && config_parse_int(v, &x) ? x : def;
}

double config_num(const config_node *n, const char *path, double def) {
    const config_node *v = config_find(n, path);
    double x;
    return v && config_parse_num(v, &x) ? x : def;
}

int config_bool(const config_node *n, const char *path, int def) {
    const config_node *v = config_find(n, path);
    int x;
    return v && config_parse_bool(v, &x) ? x : def;
}
