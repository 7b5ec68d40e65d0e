// attention.h: softmax and the multi-head self-attention core (src/nn/attention.c;
// plain references in nn_ref.c). Conventions as nn.h (which includes this).
#ifndef MSF_NN_ATTENTION_H
#define MSF_NN_ATTENTION_H

#include <stddef.h>

#include "core/arena.h"
#include "core/status.h"

// -----------------------------------------------------------------------------
// Softmax over the last dimension of x (rows, dim); y may alias x. The one
// softmax of the codebase: exp by nn_fast_expf (fast_exp.h), sums in double.

void nn_softmax_ref(float *y, const float *x, int rows, int dim);
void nn_softmax(float *y, const float *x, int rows, int dim);

// -----------------------------------------------------------------------------
// Multi-head self-attention core (the part between the qkv and output
// projections, as in timm's Attention used by DiT, or diffusers' single-head
// Attention of the SD VAE): qkv (n, t, 3*heads*head_dim) holds q in columns
// [0,D), k in [D,2D), v in [2D,3D) with D = heads*head_dim, head h using
// columns h*head_dim..+head_dim; out (n, t, D) = concat over heads of
// softmax(q k^T / sqrt(head_dim)) v.
//
// The fast version takes the query rows of each (batch item, head) in blocks
// of `block_rows`: the scores of one block (block_rows x t floats) live in the
// calling thread's workspace, never the whole t x t matrix. The block size
// is a numerical choice: OpenBLAS rounds a row of a product differently with
// the call's row count, so a block size changes results in the last bits
// (the thread count never does). nn_attention keeps whole rows (block_rows =
// t, as before the blocked form existed, so DiT results are unchanged) up to
// NN_ATTENTION_FULL_T tokens and blocks of NN_ATTENTION_BLOCK_ROWS beyond.

#define NN_ATTENTION_FULL_T 1024
#define NN_ATTENTION_BLOCK_ROWS 64

void nn_attention_ref(float *out, const float *qkv, int n, int t, int heads, int head_dim);
// The block size nn_attention uses for t tokens.
int nn_attention_block_rows(int t);
size_t nn_attention_workspace_bytes(int n, int t, int heads, int head_dim);
// MSF_ERR_NOMEM (message set) if `ws` has less than the workspace bytes free.
msf_status nn_attention(float *out, const float *qkv, int n, int t, int heads, int head_dim, msf_arena *ws);

// The same with the block size given (1 <= block_rows; larger than t means t).
size_t nn_attention_rows_workspace_bytes(int t, int block_rows);
msf_status nn_attention_rows(float *out, const float *qkv, int n, int t, int heads, int head_dim, int block_rows,
                             msf_arena *ws);

// -----------------------------------------------------------------------------
// The same attention with bf16 products (DiT's --precision bf16): q, k and v
// rounded to bf16; S = (q k^T) * scale summed in fp32; softmax in fp32 (the
// scale applied after the product, as timm's Attention of the DiT release);
// the weights rounded to bf16; out = weights x v summed in fp32 (oneDNN). The
// jobs are nn_attention's (batch item, head, block of nn_attention_block_rows
// query rows), each product in its job's thread, so the bits depend neither
// on the thread count nor on the batch.
typedef struct nn_bf16_attention nn_bf16_attention;
msf_status nn_bf16_attention_create(nn_bf16_attention **out, int t, int heads, int head_dim);
// Scratch bytes of a call with n batch items (depends on omp_get_max_threads()).
size_t nn_bf16_attention_workspace_bytes(const nn_bf16_attention *a, int n);
msf_status nn_bf16_attention_run(const nn_bf16_attention *a, float *out, const float *qkv, int n, msf_arena *ws);
void nn_bf16_attention_free(nn_bf16_attention *a);

#endif
