// config.c: YAML files (libyaml) to a tree with file:line, `use:` pieces,
// schema validation, typed reads and JSON output.
#include "config/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/hash.h"

#define CFG_MAX_DEPTH 64
#define CFG_MAX_USE_DEPTH 16

// -----------------------------------------------------------------------------
// Nodes

static cfg_node *node_new(cfg_kind kind, const char *file, int line) {
    cfg_node *n = calloc(1, sizeof *n);
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

void cfg_free(cfg_node *n) {
    if (!n) return;
    for (int i = 0; i < n->count; i++) {
        if (n->keys) free(n->keys[i]);
        cfg_free(n->items[i]);
    }
    free(n->keys), free(n->key_lines), free(n->items), free(n->text), free(n->file);
    free(n);
}

// Append an entry (key NULL for a sequence); takes ownership of value.
static msf_status node_append(cfg_node *n, const char *key, int key_line, cfg_node *value) {
    int c = n->count + 1;
    cfg_node **items = realloc(n->items, (size_t)c * sizeof *items);
    if (!items) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
    n->items = items;
    if (n->kind == CFG_MAP) {
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

cfg_node *cfg_clone(const cfg_node *n) {
    cfg_node *c = node_new(n->kind, n->file, n->line);
    if (!c) return NULL;
    c->quoted = n->quoted;
    if (n->text && !(c->text = strdup(n->text))) goto fail;
    for (int i = 0; i < n->count; i++) {
        cfg_node *v = cfg_clone(n->items[i]);
        if (!v || node_append(c, n->keys ? n->keys[i] : NULL, n->key_lines ? n->key_lines[i] : 0, v)) {
            cfg_free(v);
            goto fail;
        }
    }
    return c;
fail:
    cfg_free(c);
    return NULL;
}

static int map_index(const cfg_node *n, const char *key) {
    if (!n || n->kind != CFG_MAP) return -1;
    for (int i = 0; i < n->count; i++)
        if (!strcmp(n->keys[i], key)) return i;
    return -1;
}

const cfg_node *cfg_get(const cfg_node *n, const char *key) {
    int i = map_index(n, key);
    return i < 0 ? NULL : n->items[i];
}

const cfg_node *cfg_find(const cfg_node *n, const char *path) {
    char key[128];
    while (n && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        n = cfg_get(n, key);
        path += len + (dot ? 1 : 0);
    }
    return n;
}

// Replace the contents of dst by those of src (src is consumed).
static void node_take(cfg_node *dst, cfg_node *src) {
    cfg_node tmp = *dst;
    *dst = *src;
    *src = tmp;
    cfg_free(src);
}

msf_status cfg_merge(cfg_node *dst, const cfg_node *over) {
    if (dst->kind != CFG_MAP || over->kind != CFG_MAP) {
        cfg_node *c = cfg_clone(over);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        node_take(dst, c);
        return MSF_OK;
    }
    for (int i = 0; i < over->count; i++) {
        int j = map_index(dst, over->keys[i]);
        msf_status s;
        if (j >= 0) {
            if ((s = cfg_merge(dst->items[j], over->items[i]))) return s;
            dst->key_lines[j] = over->key_lines[i];
            continue;
        }
        cfg_node *c = cfg_clone(over->items[i]);
        if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        if ((s = node_append(dst, over->keys[i], over->key_lines[i], c))) {
            cfg_free(c);
            return s;
        }
    }
    return MSF_OK;
}

msf_status cfg_set(cfg_node *root, const char *path, const cfg_node *value) {
    char key[128];
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    if (len == 0 || len >= sizeof key || root->kind != CFG_MAP)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: cannot set '%s' here", root->file, root->line, path);
    memcpy(key, path, len);
    key[len] = '\0';
    int i = map_index(root, key);
    if (i < 0) {
        cfg_node *m = dot ? node_new(CFG_MAP, value->file, value->line) : cfg_clone(value);
        msf_status s;
        if (!m) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
        if ((s = node_append(root, key, value->line, m))) {
            cfg_free(m);
            return s;
        }
        i = root->count - 1;
        if (!dot) return MSF_OK;
    }
    if (dot) return cfg_set(root->items[i], dot + 1, value);
    cfg_node *c = cfg_clone(value);
    if (!c) return msf_fail(MSF_ERR_NOMEM, "out of memory for a config");
    node_take(root->items[i], c);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Parsing

static msf_status convert(cfg_node **out, yaml_document_t *doc, yaml_node_t *yn, const char *file, int depth) {
    *out = NULL;
    int line = (int)yn->start_mark.line + 1;
    if (depth > CFG_MAX_DEPTH) return msf_fail(MSF_ERR_FORMAT, "%s:%d: nesting deeper than %d", file, line, CFG_MAX_DEPTH);
    cfg_node *n = NULL;
    msf_status s = MSF_OK;
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        n = node_new(CFG_SCALAR, file, line);
        if (!n || !(n->text = strndup((const char *)yn->data.scalar.value, yn->data.scalar.length))) goto nomem;
        n->quoted = yn->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    yn->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE:
        if (!(n = node_new(CFG_SEQ, file, line))) goto nomem;
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
            cfg_node *v;
            if ((s = convert(&v, doc, yaml_document_get_node(doc, *it), file, depth + 1))) goto fail;
            if ((s = node_append(n, NULL, 0, v))) {
                cfg_free(v);
                goto fail;
            }
        }
        break;
    case YAML_MAPPING_NODE:
        if (!(n = node_new(CFG_MAP, file, line))) goto nomem;
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            int kline = (int)k->start_mark.line + 1;
            if (k->type != YAML_SCALAR_NODE) {
                s = msf_fail(MSF_ERR_FORMAT, "%s:%d: a key must be a plain name", file, kline);
                goto fail;
            }
            const char *key = (const char *)k->data.scalar.value;
            int prev = map_index(n, key);
            if (prev >= 0) {
                s = msf_fail(MSF_ERR_FORMAT, "%s:%d: duplicate key '%s' (first at line %d)", file, kline, key,
                             n->key_lines[prev]);
                goto fail;
            }
            cfg_node *v;
            if ((s = convert(&v, doc, yaml_document_get_node(doc, p->value), file, depth + 1))) goto fail;
            if ((s = node_append(n, key, kline, v))) {
                cfg_free(v);
                goto fail;
            }
        }
        break;
    default:
        s = msf_fail(MSF_ERR_FORMAT, "%s:%d: empty YAML node", file, line);
        goto fail;
    }
    *out = n;
    return MSF_OK;
nomem:
    s = msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", file);
fail:
    cfg_free(n);
    return s;
}

static msf_status parse(cfg_node **out, yaml_parser_t *parser, const char *name) {
    yaml_document_t doc;
    *out = NULL;
    if (!yaml_parser_load(parser, &doc)) {
        msf_status s = msf_fail(MSF_ERR_FORMAT, "%s:%d: YAML syntax error: %s%s%s", name,
                                (int)parser->problem_mark.line + 1, parser->problem ? parser->problem : "unknown",
                                parser->context ? " " : "", parser->context ? parser->context : "");
        return s;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    msf_status s;
    if (!root) s = msf_fail(MSF_ERR_FORMAT, "%s:1: the file holds no YAML document", name);
    else if (root->type != YAML_MAPPING_NODE)
        s = msf_fail(MSF_ERR_FORMAT, "%s:%d: expected a mapping (key: value lines) at the top", name,
                     (int)root->start_mark.line + 1);
    else s = convert(out, &doc, root, name, 0);
    yaml_document_delete(&doc);
    return s;
}

msf_status cfg_parse_text(cfg_node **out, const char *text, const char *name) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return msf_fail(MSF_ERR_NOMEM, "cannot start the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    msf_status s = parse(out, &parser, name);
    yaml_parser_delete(&parser);
    return s;
}

msf_status cfg_parse_file(cfg_node **out, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open config %s: %s", path, strerror(errno));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return msf_fail(MSF_ERR_NOMEM, "cannot start the YAML parser");
    }
    yaml_parser_set_input_file(&parser, f);
    msf_status s = parse(out, &parser, path);
    yaml_parser_delete(&parser);
    fclose(f);
    return s;
}

// -----------------------------------------------------------------------------
// use:

static msf_status resolve(cfg_node *n, int depth) {
    if (n->kind == CFG_SCALAR) return MSF_OK;
    for (int i = 0; i < n->count; i++) {
        msf_status s = resolve(n->items[i], depth);
        if (s) return s;
    }
    int u = map_index(n, "use");
    if (u < 0) return MSF_OK;
    const cfg_node *use = n->items[u];
    if (use->kind != CFG_SCALAR || !use->text[0])
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use' expects the path of a config file", use->file, use->line);
    if (depth >= CFG_MAX_USE_DEPTH)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: 'use: %s' nests more than %d files deep (a cycle?)", use->file,
                        use->line, use->text, CFG_MAX_USE_DEPTH);
    // Relative to the directory of the file that names it.
    char path[4096];
    const char *slash = strrchr(use->file, '/');
    if (use->text[0] == '/' || !slash) snprintf(path, sizeof path, "%s", use->text);
    else snprintf(path, sizeof path, "%.*s/%s", (int)(slash - use->file), use->file, use->text);
    cfg_node *piece;
    msf_status s = cfg_parse_file(&piece, path);
    if (s) return msf_fail_context(s, "%s:%d: use", use->file, use->line);
    if ((s = resolve(piece, depth + 1))) {
        cfg_free(piece);
        return s;
    }
    // The piece, then every key of n but `use` over it.
    for (int i = 0; i < n->count && !s; i++) {
        if (i == u) continue;
        cfg_node one = {.kind = CFG_MAP, .count = 1, .keys = &n->keys[i], .key_lines = &n->key_lines[i],
                        .items = &n->items[i], .file = n->file, .line = n->line};
        s = cfg_merge(piece, &one);
    }
    if (s) {
        cfg_free(piece);
        return s;
    }
    node_take(n, piece);
    return MSF_OK;
}

msf_status cfg_resolve_uses(cfg_node *root) { return resolve(root, 0); }

// -----------------------------------------------------------------------------
// Scalars

static int is_null(const cfg_node *v) {
    return v->kind == CFG_SCALAR && !v->quoted && (!v->text[0] || !strcmp(v->text, "~") || !strcmp(v->text, "null"));
}

static int parse_int(const cfg_node *v, int64_t *out) {
    if (v->kind != CFG_SCALAR || v->quoted || !v->text[0]) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v->text, &end, 10);
    if (errno || *end) return 0;
    *out = x;
    return 1;
}

static int parse_num(const cfg_node *v, double *out) {
    if (v->kind != CFG_SCALAR || v->quoted || !v->text[0]) return 0;
    char *end;
    errno = 0;
    double x = strtod(v->text, &end);
    if (errno || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int parse_bool(const cfg_node *v, int *out) {
    if (v->kind != CFG_SCALAR || v->quoted) return 0;
    if (!strcmp(v->text, "true")) *out = 1;
    else if (!strcmp(v->text, "false")) *out = 0;
    else return 0;
    return 1;
}

const char *cfg_str(const cfg_node *n, const char *path, const char *def) {
    const cfg_node *v = cfg_find(n, path);
    return v && v->kind == CFG_SCALAR && !is_null(v) ? v->text : def;
}

int64_t cfg_int(const cfg_node *n, const char *path, int64_t def) {
    const cfg_node *v = cfg_find(n, path);
    int64_t x;
    return v && parse_int(v, &x) ? x : def;
}

double cfg_num(const cfg_node *n, const char *path, double def) {
    const cfg_node *v = cfg_find(n, path);
    double x;
    return v && parse_num(v, &x) ? x : def;
}

int cfg_bool(const cfg_node *n, const char *path, int def) {
    const cfg_node *v = cfg_find(n, path);
    int x;
    return v && parse_bool(v, &x) ? x : def;
}

// -----------------------------------------------------------------------------
// Schema

static const char *type_text(cfg_type t) {
    switch (t) {
    case CFG_T_STRING: return "a string";
    case CFG_T_INT: return "an integer";
    case CFG_T_NUMBER: return "a number";
    case CFG_T_BOOL: return "true or false";
    case CFG_T_MAP: return "a mapping (key: value lines)";
    case CFG_T_MAPLIST: return "a list of mappings";
    case CFG_T_SWEEP: return "a mapping of field paths to lists of values";
    }
    return "?";
}

static const char *kind_text(const cfg_node *v) {
    if (v->kind == CFG_MAP) return "a mapping";
    if (v->kind == CFG_SEQ) return "a list";
    return is_null(v) ? "nothing" : v->quoted ? "a quoted string" : "a scalar";
}

static msf_status wrong_type(const cfg_node *v, const cfg_field *f, const char *path) {
    if (v->kind == CFG_SCALAR)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' expects %s, got %s '%s'", v->file, v->line, path,
                        type_text(f->type), kind_text(v), v->text);
    return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' expects %s, got %s", v->file, v->line, path, type_text(f->type),
                    kind_text(v));
}

msf_status cfg_validate_value(const cfg_node *v, const cfg_field *f, const char *path) {
    int64_t i;
    double d;
    int b;
    switch (f->type) {
    case CFG_T_STRING:
        if (v->kind != CFG_SCALAR || is_null(v)) return wrong_type(v, f, path);
        if (f->choices) {
            char list[256] = "";
            for (const char *const *c = f->choices; *c; c++) {
                if (!strcmp(*c, v->text)) return MSF_OK;
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", *c);
            }
            return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' is '%s'; expected one of: %s", v->file, v->line, path,
                            v->text, list);
        }
        return MSF_OK;
    case CFG_T_INT: return parse_int(v, &i) ? MSF_OK : wrong_type(v, f, path);
    case CFG_T_NUMBER: return parse_num(v, &d) ? MSF_OK : wrong_type(v, f, path);
    case CFG_T_BOOL: return parse_bool(v, &b) ? MSF_OK : wrong_type(v, f, path);
    case CFG_T_MAP:
        if (v->kind != CFG_MAP) return wrong_type(v, f, path);
        return f->fields ? cfg_validate(v, f->fields, path) : MSF_OK;
    case CFG_T_MAPLIST:
        if (v->kind != CFG_SEQ || v->count == 0) return wrong_type(v, f, path);
        for (int k = 0; k < v->count; k++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", path, k);
            if (v->items[k]->kind != CFG_MAP) return wrong_type(v->items[k], f, sub);
            msf_status s = f->fields ? cfg_validate(v->items[k], f->fields, sub) : MSF_OK;
            if (s) return s;
        }
        return MSF_OK;
    case CFG_T_SWEEP:
        if (v->kind != CFG_MAP) return wrong_type(v, f, path);
        for (int k = 0; k < v->count; k++)
            if (v->items[k]->kind != CFG_SEQ || v->items[k]->count == 0)
                return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s.%s' expects a non-empty list of values", v->file,
                                v->key_lines[k], path, v->keys[k]);
        return MSF_OK;
    }
    return MSF_OK;
}

msf_status cfg_validate(const cfg_node *n, const cfg_field *fields, const char *where) {
    char path[256];
    for (int i = 0; i < n->count; i++) {
        const cfg_field *f = fields;
        while (f->key && strcmp(f->key, n->keys[i])) f++;
        snprintf(path, sizeof path, "%s%s%s", where && *where ? where : "", where && *where ? "." : "", n->keys[i]);
        if (!f->key) {
            char list[512] = "";
            for (const cfg_field *g = fields; g->key; g++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", g->key);
            }
            return msf_fail(MSF_ERR_INVALID, "%s:%d: unknown key '%s' (known here: %s)", n->file, n->key_lines[i],
                            path, list);
        }
        msf_status s = cfg_validate_value(n->items[i], f, path);
        if (s) return s;
    }
    for (const cfg_field *f = fields; f->key; f++)
        if (f->required && map_index(n, f->key) < 0)
            return msf_fail(MSF_ERR_INVALID, "%s:%d: %s%s'%s' is missing (required: %s)", n->file, n->line,
                            where && *where ? where : "", where && *where ? ": " : "", f->key,
                            f->doc ? f->doc : type_text(f->type));
    return MSF_OK;
}

const cfg_field *cfg_schema_find(const cfg_field *fields, const char *path) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    for (const cfg_field *f = fields; f && f->key; f++) {
        if (strlen(f->key) != len || strncmp(f->key, path, len)) continue;
        if (!dot) return f;
        return f->type == CFG_T_MAP ? cfg_schema_find(f->fields, dot + 1) : NULL;
    }
    return NULL;
}

// -----------------------------------------------------------------------------
// JSON

void cfg_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void newline(FILE *f, int indent, int depth) {
    if (indent < 0) return;
    fputc('\n', f);
    for (int i = 0; i < indent * depth; i++) fputc(' ', f);
}

static void write_json(FILE *f, const cfg_node *n, int indent, int depth) {
    double d;
    int b;
    if (n->kind == CFG_SCALAR) {
        if (is_null(n)) fputs("null", f);
        else if (parse_num(n, &d) || parse_bool(n, &b)) fputs(n->text, f);
        else cfg_json_string(f, n->text);
        return;
    }
    int map = n->kind == CFG_MAP;
    fputc(map ? '{' : '[', f);
    for (int i = 0; i < n->count; i++) {
        if (i) fputc(',', f);
        newline(f, indent, depth + 1);
        if (map) {
            cfg_json_string(f, n->keys[i]);
            fputs(indent < 0 ? ":" : ": ", f);
        }
        write_json(f, n->items[i], indent, depth + 1);
    }
    if (n->count) newline(f, indent, depth);
    fputc(map ? '}' : ']', f);
}

void cfg_write_json(FILE *f, const cfg_node *n, int indent) { write_json(f, n, indent, 0); }

uint64_t cfg_hash(const cfg_node *n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return 0;
    write_json(f, n, -1, 0);
    fclose(f);
    uint64_t h = msf_fnv1a(MSF_FNV1A_INIT, buf, len);
    free(buf);
    return h;
}
