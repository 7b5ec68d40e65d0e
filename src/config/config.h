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
#define CONFIG_MAX_FILE_BYTES (4 << 20)  // bytes of a file
#define CONFIG_MAX_DEPTH 64              // nested mappings and lists
#define CONFIG_MAX_ALIASES 1000          // aliases (*name) in a file
#define CONFIG_MAX_NODES 100000          // values (keys' values, items, scalars) once aliases are expanded
#define CONFIG_MAX_ENTRIES 10000         // entries of one mapping or list
// `use:` pieces: nested at most CONFIG_MAX_USE_DEPTH deep, at most
// CONFIG_MAX_USE_FILES in all, and the resolved tree at most CONFIG_MAX_NODES values.
#define CONFIG_MAX_USE_DEPTH 16
#define CONFIG_MAX_USE_FILES 256

typedef enum { CONFIG_SCALAR = 0, CONFIG_MAP = 1, CONFIG_SEQ = 2 } config_kind;

typedef struct config_node config_node;
struct config_node {
    config_kind kind;
    char *text;           // scalar text ("" for an empty value)
    int quoted;           // a quoted scalar is always a string
    char *file;           // file the value was written in
    int line;             // 1-based line of the value
    int count;            // entries of a map or a sequence
    char **keys;          // map keys (count)
    int *key_lines;       // their lines
    config_node **items;  // map values or sequence items (count)
};

// Parse one YAML file. MSF_ERR_IO if it cannot be read, MSF_ERR_FORMAT with
// file:line for a syntax error, a duplicate key or an empty document.
msf_status config_parse_file(config_node **out, const char *path);
// Parse YAML text; `name` stands for the file in messages.
msf_status config_parse_text(config_node **out, const char *text, const char *name);
// Replace every mapping holding `use:` by the named piece with the mapping's
// other keys laid over it (recursively; a cycle is an error).
msf_status config_resolve_uses(config_node *root);

config_node *config_clone(const config_node *n);  // NULL when out of memory
void config_free(config_node *n);
// Lay `over` onto `dst` (maps merge key by key, anything else is replaced).
msf_status config_merge(config_node *dst, const config_node *over);

// Value of `key` in a map (NULL if absent or n is not a map).
const config_node *config_get(const config_node *n, const char *key);
// Value at a dotted path of map keys ("sampler.cfg_scale"), NULL if absent.
const config_node *config_find(const config_node *n, const char *path);
// Set the value at a dotted path to a copy of `value`, creating maps on the way.
msf_status config_set(config_node *root, const char *path, const config_node *value);

// -----------------------------------------------------------------------------
// Schema

typedef enum {
    CONFIG_T_STRING = 0,   // any non-empty scalar
    CONFIG_T_INT = 1,      // an unquoted integer
    CONFIG_T_NUMBER = 2,   // an unquoted finite number
    CONFIG_T_BOOL = 3,     // true or false
    CONFIG_T_MAP = 4,      // a map whose keys are `fields`
    CONFIG_T_MAPLIST = 5,  // a sequence of maps whose keys are `fields`
    CONFIG_T_SWEEP = 6,    // a map from dotted field paths to sequences of values (checked by the caller)
} config_type;

typedef struct config_field config_field;
struct config_field {
    const char *key;  // NULL ends a table
    config_type type;
    int required;
    const config_field *fields;  // CONFIG_T_MAP, CONFIG_T_MAPLIST (NULL: any keys, checked by the caller)
    const char *const *choices;  // CONFIG_T_STRING: the allowed values (NULL-terminated), or NULL
    const char *doc;             // one line for messages and documentation
    const char *def;             // the default as YAML text (NULL: none, or one the doc describes)
    const char *flag;            // the msf sample option of the same meaning (NULL: none)
};

// Check the map `n` against `fields`: an unknown key, a value of the wrong
// type or a missing required key is MSF_ERR_INVALID naming file:line, the key
// path under `where` and what was expected.
msf_status config_validate(const config_node *n, const config_field *fields, const char *where);
// Check one value against one field (used for sweep values).
msf_status config_validate_value(const config_node *v, const config_field *f, const char *path);
// The field at a dotted path of the schema (NULL if there is none).
const config_field *config_schema_find(const config_field *fields, const char *path);
// Check the table itself: every default is a valid value of its field (type
// and choices) and every option is "--" and the key with '-' for '_';
// MSF_ERR_INVALID names the first field that is not.
msf_status config_schema_check(const config_field *fields, const char *where);
// Every leaf of the table, depth first, with its dotted path.
void config_schema_visit(const config_field *fields, const char *where, void *user,
                         void (*fn)(void *user, const char *path, const config_field *f));
// The name of a field's type ("string", "integer", ...).
const char *config_type_name(config_type t);

// Typed reads of validated values at a dotted path, `def` when absent.
const char *config_str(const config_node *n, const char *path, const char *def);
int64_t config_int(const config_node *n, const char *path, int64_t def);
double config_num(const config_node *n, const char *path, double def);
int config_bool(const config_node *n, const char *path, int def);

// -----------------------------------------------------------------------------
// Output

// The tree as JSON: unquoted scalars that are numbers or true/false as such,
// everything else as strings; maps keep their order. `indent` < 0: one line.
void config_write_json(FILE *f, const config_node *n, int indent);
// A JSON string literal of `s` (quotes and escapes).
void config_json_string(FILE *f, const char *s);
// FNV-1a 64 of the one-line JSON of n: equal configs, equal hashes.
uint64_t config_hash(const config_node *n);

#endif
