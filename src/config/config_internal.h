// config_internal.h: helpers shared by config.c and schema.c (not part of
// the config API).
#ifndef MSF_CONFIG_INTERNAL_H
#define MSF_CONFIG_INTERNAL_H

#include <stdint.h>

#include "config/config.h"

// The index of `key` in map n, or -1 (also when n is not a map).
int config_map_index(const config_node *n, const char *key);
// An unquoted empty, "~" or "null" scalar.
int config_is_null(const config_node *v);
// An unquoted scalar as an integer, a finite number, or true/false: 1 and
// *out set, else 0.
int config_parse_int(const config_node *v, int64_t *out);
int config_parse_num(const config_node *v, double *out);
int config_parse_bool(const config_node *v, int *out);

#endif
