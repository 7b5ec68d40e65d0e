// schema.c: checking a config tree against a schema (file:line, the key path,
// what was expected), the schema table's own checks and walks, and the
// tree as JSON (and its hash).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/hash.h"

// -----------------------------------------------------------------------------
// Schema

static const char *type_text(config_type t) {
    switch (t) {
    case CONFIG_T_STRING: return "a string";
    case CONFIG_T_INT: return "an integer";
    case CONFIG_T_NUMBER: return "a number";
    case CONFIG_T_BOOL: return "true or false";
    case CONFIG_T_MAP: return "a mapping (key: value lines)";
    case CONFIG_T_MAPLIST: return "a list of mappings";
    case CONFIG_T_SWEEP: return "a mapping of field paths to lists of values";
    }
    return "?";
}

static const char *kind_text(const config_node *v) {
    if (v->kind == CONFIG_MAP) return "a mapping";
    if (v->kind == CONFIG_SEQ) return v->count ? "a list" : "an empty list";
    return config_is_null(v) ? "nothing" : v->quoted ? "a quoted string" : "a scalar";
}

static msf_status wrong_type(const config_node *v, const config_field *f, const char *path) {
    if (v->kind == CONFIG_SCALAR)
        return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' expects %s, got %s '%s'", v->file, v->line, path,
                        type_text(f->type), kind_text(v), v->text);
    return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s' expects %s, got %s", v->file, v->line, path, type_text(f->type),
                    kind_text(v));
}

msf_status config_validate_value(const config_node *v, const config_field *f, const char *path) {
    int64_t i;
    double d;
    int b;
    switch (f->type) {
    case CONFIG_T_STRING:
        if (v->kind != CONFIG_SCALAR || config_is_null(v)) return wrong_type(v, f, path);
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
    case CONFIG_T_INT: return config_parse_int(v, &i) ? MSF_OK : wrong_type(v, f, path);
    case CONFIG_T_NUMBER: return config_parse_num(v, &d) ? MSF_OK : wrong_type(v, f, path);
    case CONFIG_T_BOOL: return config_parse_bool(v, &b) ? MSF_OK : wrong_type(v, f, path);
    case CONFIG_T_MAP:
        if (v->kind != CONFIG_MAP) return wrong_type(v, f, path);
        return f->fields ? config_validate(v, f->fields, path) : MSF_OK;
    case CONFIG_T_MAPLIST:
        if (v->kind != CONFIG_SEQ || v->count == 0) return wrong_type(v, f, path);
        for (int k = 0; k < v->count; k++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", path, k);
            if (v->items[k]->kind != CONFIG_MAP) return wrong_type(v->items[k], f, sub);
            msf_status s = f->fields ? config_validate(v->items[k], f->fields, sub) : MSF_OK;
            if (s) return s;
        }
        return MSF_OK;
    case CONFIG_T_SWEEP:
        if (v->kind != CONFIG_MAP) return wrong_type(v, f, path);
        for (int k = 0; k < v->count; k++)
            if (v->items[k]->kind != CONFIG_SEQ || v->items[k]->count == 0)
                return msf_fail(MSF_ERR_INVALID, "%s:%d: '%s.%s' expects a non-empty list of values", v->file,
                                v->key_lines[k], path, v->keys[k]);
        return MSF_OK;
    }
    return MSF_OK;
}

msf_status config_validate(const config_node *n, const config_field *fields, const char *where) {
    char path[256];
    for (int i = 0; i < n->count; i++) {
        const config_field *f = fields;
        while (f->key && strcmp(f->key, n->keys[i])) f++;
        snprintf(path, sizeof path, "%s%s%s", where && *where ? where : "", where && *where ? "." : "", n->keys[i]);
        if (!f->key) {
            char list[512] = "";
            for (const config_field *g = fields; g->key; g++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", g->key);
            }
            return msf_fail(MSF_ERR_INVALID, "%s:%d: unknown key '%s' (known here: %s)", n->file, n->key_lines[i], path,
                            list);
        }
        msf_status s = config_validate_value(n->items[i], f, path);
        if (s) return s;
    }
    for (const config_field *f = fields; f->key; f++)
        if (f->required && config_map_index(n, f->key) < 0)
            return msf_fail(MSF_ERR_INVALID, "%s:%d: %s%s'%s' is missing (required: %s)", n->file, n->line,
                            where && *where ? where : "", where && *where ? ": " : "", f->key,
                            f->doc ? f->doc : type_text(f->type));
    return MSF_OK;
}

const config_field *config_schema_find(const config_field *fields, const char *path) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    for (const config_field *f = fields; f && f->key; f++) {
        if (strlen(f->key) != len || strncmp(f->key, path, len)) continue;
        if (!dot) return f;
        return f->type == CONFIG_T_MAP ? config_schema_find(f->fields, dot + 1) : NULL;
    }
    return NULL;
}

const char *config_type_name(config_type t) {
    switch (t) {
    case CONFIG_T_STRING: return "string";
    case CONFIG_T_INT: return "integer";
    case CONFIG_T_NUMBER: return "number";
    case CONFIG_T_BOOL: return "bool";
    case CONFIG_T_MAP: return "mapping";
    case CONFIG_T_MAPLIST: return "list of mappings";
    case CONFIG_T_SWEEP: return "sweep";
    }
    return "?";
}

void config_schema_visit(const config_field *fields, const char *where, void *user,
                         void (*fn)(void *user, const char *path, const config_field *f)) {
    for (const config_field *f = fields; f && f->key; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", where && *where ? where : "", where && *where ? "." : "", f->key);
        if (f->type == CONFIG_T_MAP && f->fields) config_schema_visit(f->fields, path, user, fn);
        else fn(user, path, f);
    }
}

typedef struct {
    const char *where;
    msf_status status;
} schema_check;

static void check_field(void *user, const char *path, const config_field *f) {
    schema_check *c = user;
    if (c->status) return;
    if (f->def) {
        config_node v = {.kind = CONFIG_SCALAR, .text = (char *)f->def, .file = (char *)c->where, .line = 0};
        if ((c->status = config_validate_value(&v, f, path)))
            msf_fail_context(c->status, "%s: the default of '%s'", c->where, path);
    }
    if (f->flag) {
        const char *key = strrchr(path, '.');
        key = key ? key + 1 : path;
        int same = !strncmp(f->flag, "--", 2) && strlen(f->flag) == strlen(key) + 2;
        for (size_t i = 0; same && key[i]; i++) same = f->flag[i + 2] == (key[i] == '_' ? '-' : key[i]);
        if (!c->status && !same)
            c->status =
                msf_fail(MSF_ERR_INVALID, "%s: '%s' has the option %s, expected -- and its key with '-' for '_'",
                         c->where, path, f->flag);
    }
}

msf_status config_schema_check(const config_field *fields, const char *where) {
    schema_check c = {where, MSF_OK};
    config_schema_visit(fields, NULL, &c, check_field);
    return c.status;
}

// -----------------------------------------------------------------------------
// JSON

void config_json_string(FILE *f, const char *s) {
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

static void write_json(FILE *f, const config_node *n, int indent, int depth) {
    double d;
    int b;
    if (n->kind == CONFIG_SCALAR) {
        if (config_is_null(n)) fputs("null", f);
        else if (config_parse_num(n, &d) || config_parse_bool(n, &b)) fputs(n->text, f);
        else config_json_string(f, n->text);
        return;
    }
    int map = n->kind == CONFIG_MAP;
    fputc(map ? '{' : '[', f);
    for (int i = 0; i < n->count; i++) {
        if (i) fputc(',', f);
        newline(f, indent, depth + 1);
        if (map) {
            config_json_string(f, n->keys[i]);
            fputs(indent < 0 ? ":" : ": ", f);
        }
        write_json(f, n->items[i], indent, depth + 1);
    }
    if (n->count) newline(f, indent, depth);
    fputc(map ? '}' : ']', f);
}

void config_write_json(FILE *f, const config_node *n, int indent) { write_json(f, n, indent, 0); }

uint64_t config_hash(const config_node *n) {
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
