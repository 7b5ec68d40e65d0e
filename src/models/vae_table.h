// vae_table.h: private to the SD VAE (vae.c, vae_config.c): the config check
// and the tensor table.
#ifndef MSF_MODELS_VAE_TABLE_H
#define MSF_MODELS_VAE_TABLE_H

#include "io/params.h"
#include "models/vae.h"

// MSF_OK, or MSF_ERR_FORMAT naming `where` and every field when c is not a VAE config.
msf_status vae_check_config(const vae_config *c, const char *where);

// Both halves' tensors in state_dict order, each tagged VAE_ENCODER or
// VAE_DECODER, pointing into m's parameter pointers; wires m->resnets (which
// must hold num_levels * (2 layers_per_block + 1) entries).
void vae_tensor_table(vae_model *m, msf_params *t);

#endif
