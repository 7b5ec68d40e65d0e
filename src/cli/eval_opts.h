// eval_opts.h: the options `msf features`, `msf stats` and `msf evaluate`
// share (feature network, resize mode, batch size) and the loading of their
// inputs (cmd_features.c implements them).
#ifndef MSF_CLI_EVAL_OPTS_H
#define MSF_CLI_EVAL_OPTS_H

#include "eval/evaluate.h"

typedef struct {
    const char *net;  // --net / --inception W.h5, or NULL
    msf_resize_mode mode;
    int batch;
    nn_precision precision;  // --precision (fp32 default)
    const char *given;       // the first of these options on the command line, or NULL
} cli_eval_opts;

#define CLI_EVAL_OPTS_USAGE                                                            \
    "  --net W.h5         feature network weights (Inception or the Fashion-MNIST\n"   \
    "                     classifier; --inception is an alias); needed for images\n"   \
    "  --resize MODE      adm (default: ADM's TF1 bilinear), pytorch (pytorch-fid)\n"  \
    "                     or clean (clean-fid's PIL bicubic)\n"                        \
    "  --batch N          images per network call (default 50)\n"                      \
    "  --precision P      fp32 (default, exact) or bf16: the network's convolutions\n" \
    "                     (and the classifier's fc1) take bf16 inputs and weights,\n"  \
    "                     summed in fp32 (oneDNN); compare bf16 features only with\n"  \
    "                     bf16 features: reference statistics made in fp32 differ\n"   \
    "                     (these four act on images only: given with features or\n"    \
    "                     statistics files alone, they are usage errors)\n"

void cli_eval_opts_init(cli_eval_opts *o);
// If argv[*i] is one of the shared options, consume it (and its value) and
// return 1; 0 if it is not; -1 after printing an error for a bad value.
int cli_eval_opts_parse(cli_eval_opts *o, const char *cmd, int argc, char **argv, int *i);
// Before any work: the kind of each of the n inputs (kinds[i]), checked
// against the options: an input that holds only images needs --net, and the
// network options are errors when no input holds images (they would do
// nothing). Prints the error; returns 0, 1 (a bad input file) or 2 (usage).
int cli_eval_check_inputs(const cli_eval_opts *o, const char *cmd, const char *const *paths, int n,
                          msf_eval_input_kind *kinds);
// Load the network named by --net (NULL when none); prints errors, returns 0 on success.
int cli_eval_load_net(const cli_eval_opts *o, const char *cmd, msf_featnet **net);

#endif
