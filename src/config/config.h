// config.h: YAML configuration files as a tree that remembers where every
// value was written (file and line), pieces pulled in with `use:`, and
// validation against a schema.
//
// Files are parsed with libyaml (one document per file). A mapping that holds
// `use: PATH` is replaced by the mapping in PATH (relative to the file that
// names it) with the other keys of the mapping laid over it: nested mappings
// merge key by key, anything else is replaced. Every error names file:line
// and the dotted path of the key ("runs[1].sampler.cfg_scale").
#ifndef MSF_CONFIG_CONFIG_H
#define MSF_CONFIG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

// Limits of one file, checked while it is read (a file crossing one is
// MSF_ERR_FORMAT at the file:line where it does): hostile input (an alias
// bomb, 100k nested brackets, a huge file) is rejected at once.
#define CFG_MAX_FILE_BYTES (4 << 20)  // bytes of a file
#define CFG_MAX_DEPTH 64              // nested mappings and lists
#define CFG_MAX_ALIASES 1000          // aliases (*name) in a file
#define CFG_MAX_NODES 100000          // values (keys' values, items, scalars) once aliases are expanded
#define CFG_MAX_ENTRIES 10000         // entries of one mapping or list
// `use:` pieces: nested at most CFG_MAX_USE_DEPTH deep, at most
// CFG_MAX_USE_FILES in all, and the resolved tree at most CFG_MAX_NODES values.
#define CFG_MAX_USE_DEPTH 16
#define CFG_MAX_USE_FILES 256

typedef enum { CFG_SCALAR = 0, CFG_MAP = 1, CFG_SEQ = 2 } cfg_kind;

typedef struct cfg_node cfg_node;
struct cfg_node {
    cfg_kind kind;
    char *text;        // scalar text ("" for an empty value)
    int quoted;        // a quoted scalar is always a string
    char *file;        // file the value was written in
    int line;          // 1-based line of the value
    int count;         // entries of a map or a sequence
    char **keys;       // map keys (count)
    int *key_lines;    // their lines
    cfg_node **items;  // map values or sequence items (count)
};

// Parse one YAML file. MSF_ERR_IO if it cannot be read, MSF_ERR_FORMAT with
// file:line for a syntax error, a duplicate key or an empty document.
msf_status cfg_parse_file(cfg_node **out, const char *path);
// Parse YAML text; `name` stands for the file in messages.
msf_status cfg_parse_text(cfg_node **out, const char *text, const char *name);
// Replace every mapping holding `use:` by the named piece with the mapping's
// other keys laid over it (recursively; a cycle is an error).
msf_status cfg_resolve_uses(cfg_node *root);

cfg_node *cfg_clone(const cfg_node *n);  // NULL when out of memory
void cfg_free(cfg_node *n);
// Lay `over` onto `dst` (maps merge key by key, anything else is replaced).
msf_status cfg_merge(cfg_node *dst, const cfg_node *over);

// Value of `key` in a map (NULL if absent or n is not a map).
const cfg_node *cfg_get(const cfg_node *n, const char *key);
// Value at a dotted path of map keys ("sampler.cfg_scale"), NULL if absent.
const cfg_node *cfg_find(const cfg_node *n, const char *path);
// Set the value at a dotted path to a copy of `value`, creating maps on the way.
msf_status cfg_set(cfg_node *root, const char *path, const cfg_node *value);

// -----------------------------------------------------------------------------
// Schema

typedef enum {
    CFG_T_STRING = 0,   // any non-empty scalar
    CFG_T_INT = 1,      // an unquoted integer
    CFG_T_NUMBER = 2,   // an unquoted finite number
    CFG_T_BOOL = 3,     // true or false
    CFG_T_MAP = 4,      // a map whose keys are `fields`
    CFG_T_MAPLIST = 5,  // a sequence of maps whose keys are `fields`
    CFG_T_SWEEP = 6,    // a map from dotted field paths to sequences of values (checked by the caller)
} cfg_type;

typedef struct cfg_field cfg_field;
struct cfg_field {
    const char *key;  // NULL ends a table
    cfg_type type;
    int required;
    const cfg_field *fields;     // CFG_T_MAP, CFG_T_MAPLIST (NULL: any keys, checked by the caller)
    const char *const *choices;  // CFG_T_STRING: the allowed values (NULL-terminated), or NULL
    const char *doc;             // one line for messages and documentation
    const char *def;             // the default as YAML text (NULL: none, or one the doc describes)
    const char *flag;            // the msf sample option of the same meaning (NULL: none)
};

// Check the map `n` against `fields`: an unknown key, a value of the wrong
// type or a missing required key is MSF_ERR_INVALID naming file:line, the key
// path under `where` and what was expected.
msf_status cfg_validate(const cfg_node *n, const cfg_field *fields, const char *where);
// Check one value against one field (used for sweep values).
msf_status cfg_validate_value(const cfg_node *v, const cfg_field *f, const char *path);
// The field at a dotted path of the schema (NULL if there is none).
const cfg_field *cfg_schema_find(const cfg_field *fields, const char *path);
// Check the table itself: every default is a valid value of its field (type
// and choices) and every option is "--" and the key with '-' for '_';
// MSF_ERR_INVALID names the first field that is not.
msf_status cfg_schema_check(const cfg_field *fields, const char *where);
// Every leaf of the table, depth first, with its dotted path.
void cfg_schema_visit(const cfg_field *fields, const char *where, void *user,
                      void (*fn)(void *user, const char *path, const cfg_field *f));
// The name of a field's type ("string", "integer", ...).
const char *cfg_type_name(cfg_type t);

// Typed reads of validated values at a dotted path, `def` when absent.
const char *cfg_str(const cfg_node *n, const char *path, const char *def);
int64_t cfg_int(const cfg_node *n, const char *path, int64_t def);
double cfg_num(const cfg_node *n, const char *path, double def);
int cfg_bool(const cfg_node *n, const char *path, int def);

// -----------------------------------------------------------------------------
// Output

// The tree as JSON: unquoted scalars that are numbers or true/false as such,
// everything else as strings; maps keep their order. `indent` < 0: one line.
void cfg_write_json(FILE *f, const cfg_node *n, int indent);
// A JSON string literal of `s` (quotes and escapes).
void cfg_json_string(FILE *f, const char *s);
// FNV-1a 64 of the one-line JSON of n: equal configs, equal hashes.
uint64_t cfg_hash(const cfg_node *n);

#endif
