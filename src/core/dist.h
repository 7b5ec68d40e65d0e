// dist.h: the processes of one job (MPI ranks) as the runner sees them.
//
// A build with MPI (make MPI=1, or OpenMPI found by pkg-config: MSF_MPI
// defined) joins MPI only when a launcher started the process (mpirun,
// mpiexec or srun: their environment variables are set), so the same binary
// run plainly is one rank and never touches MPI. A build without MPI is
// always one rank, and refuses to run under a launcher with more than one
// process (the copies would each run the whole job).
//
// Every collective call here is made by all ranks in the same order. A NULL
// msf_dist is one rank (rank 0 of 1): the library's callers pass NULL outside
// msf run.
#ifndef MSF_CORE_DIST_H
#define MSF_CORE_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    int rank, size;
    int mpi;  // MPI initialised by msf_dist_init (finalised by msf_dist_finalize)
} msf_dist;

// 1 when this build has MPI.
int msf_dist_built_with_mpi(void);

// The job this process belongs to: MPI under a launcher, else rank 0 of 1.
// MSF_ERR_INVALID when a launcher started several processes of a build
// without MPI.
msf_status msf_dist_init(msf_dist *d, int *argc, char ***argv);
void msf_dist_finalize(msf_dist *d);

static inline int msf_dist_rank(const msf_dist *d) { return d ? d->rank : 0; }
static inline int msf_dist_size(const msf_dist *d) { return d ? d->size : 1; }
static inline int msf_dist_is_root(const msf_dist *d) { return msf_dist_rank(d) == 0; }

// Which rank does item k of a static round-robin split (shards, feature
// batches): k mod size, so a rerun with another rank count finds every
// finished item where it was written.
static inline int msf_dist_owner(const msf_dist *d, int64_t k) { return (int)(k % msf_dist_size(d)); }

// Every rank gives its status `s` (its message in msf_error_message()) and
// gets the job's: MSF_OK when every rank succeeded, else the status of the
// lowest failing rank with that rank's message (prefixed "rank R: " on the
// other ranks). `poll` (NULL: none), on rank 0 only, is called about every
// 0.2 s while the other ranks have not arrived (progress of the job).
msf_status msf_dist_agree(const msf_dist *d, msf_status s, void (*poll)(void *user), void *user);

// `bytes` bytes of buf from rank `root` to every rank.
msf_status msf_dist_bcast(const msf_dist *d, void *buf, size_t bytes, int root);

// v[0..n) summed over the ranks in rank order (the same bits for a given
// rank count), the result on every rank.
msf_status msf_dist_sum(const msf_dist *d, double *v, int n);

// Stop the whole job at once (MPI_Abort; exit(code) for one rank).
void msf_dist_abort(const msf_dist *d, int code);

#endif
