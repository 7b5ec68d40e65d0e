// fuzz_yaml.c: the YAML config parser (src/config, libyaml) and the
// experiment loader (src/run/experiment.c: schema, `use:` includes, sweeps,
// limits) on arbitrary bytes. `use:` paths resolve relative to the temporary
// file, so an input can only include files that exist on the machine.
#include <stdlib.h>

#include "config/config.h"
#include "fuzz.h"
#include "run/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char path[4096];
    if (fuzz_write_temp(path, sizeof path, ".yaml", data, size)) return 0;
    config_node *n = NULL;
    if (config_parse_file(&n, path) == MSF_OK) {
        config_resolve_uses(n);
        config_free(n);
    }
    msf_experiment e;
    if (msf_experiment_load(&e, path) == MSF_OK) msf_experiment_free(&e);
    unlink(path);
    return 0;
}
