// dist.c: MPI ranks (core/dist.h); one rank without MPI.
#include "core/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef MSF_MPI
#include <mpi.h>
#endif

int msf_dist_built_with_mpi(void) {
#ifdef MSF_MPI
    return 1;
#else
    return 0;
#endif
}

// The size of the job a launcher started this process in (OpenMPI's mpirun,
// MPICH/Hydra's mpiexec, Slurm's srun with PMI or PMIx), 0 when no launcher
// did. Slurm's own SLURM_NTASKS is not one: an sbatch script sets it for
// commands it runs without srun too.
static long launcher_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return strtol(v, NULL, 10);
    }
    // PMIx without a size variable (OpenMPI 5's launcher sets PMIX_RANK).
    return getenv("PMIX_RANK") || getenv("OMPI_COMM_WORLD_RANK") ? 1 : 0;
}

msf_status msf_dist_init(msf_dist *d, int *argc, char ***argv) {
    *d = (msf_dist){.rank = 0, .size = 1, .mpi = 0};
    long launched = launcher_size();
#ifdef MSF_MPI
    if (launched < 1) return MSF_OK;
    int provided = 0;
    // Only the main thread calls MPI; OpenMP threads compute between calls.
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return msf_fail(MSF_ERR_IO, "MPI_Init_thread failed");
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    // Errors of MPI calls come back as codes (a rank that dies still ends the
    // job: the launcher kills the others).
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return MSF_OK;
#else
    (void)argc, (void)argv;
    if (launched > 1)
        return msf_fail(MSF_ERR_INVALID,
                        "started by an MPI launcher as one of %ld processes, but this msf was built "
                        "without MPI (each copy would run the whole job): install libopenmpi-dev and rebuild "
                        "(make MPI=1)",
                        launched);
    return MSF_OK;
#endif
}

void msf_dist_finalize(msf_dist *d) {
#ifdef MSF_MPI
    if (d && d->mpi) {
        MPI_Finalize();
        d->mpi = 0;
    }
#else
    (void)d;
#endif
}

#ifdef MSF_MPI
static msf_status mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return MSF_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return msf_fail(MSF_ERR_IO, "MPI %s failed: %.*s", what, len, text);
}
#endif

msf_status msf_dist_agree(const msf_dist *d, msf_status s, void (*poll)(void *user), void *user) {
#ifdef MSF_MPI
    if (!d || !d->mpi) return s;
    // The lowest failing rank (size when none), then its status and message.
    int mine = s ? d->rank : d->size, first = d->size;
    MPI_Request req;
    int rc = MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    for (int done = 0; rc == MPI_SUCCESS && !done;) {
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done) break;
        if (poll && d->rank == 0) poll(user);
        struct timespec ts = {0, 20 * 1000 * 1000};
        for (int k = 0; k < 10 && !done && rc == MPI_SUCCESS; k++) {
            nanosleep(&ts, NULL);
            rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        }
    }
    if (rc != MPI_SUCCESS) return mpi_check(rc, "agreement");
    if (first == d->size) return MSF_OK;
    struct {
        int code;
        char message[1024];
    } m = {0};
    if (d->rank == first) {
        m.code = (int)s;
        snprintf(m.message, sizeof m.message, "%s", msf_error_message());
    }
    if ((rc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD)) != MPI_SUCCESS)
        return mpi_check(rc, "broadcast of an error");
    if (d->rank == first) return s;
    return msf_fail((msf_status)m.code, "rank %d: %s", first, m.message);
#else
    (void)d, (void)poll, (void)user;
    return s;
#endif
}

msf_status msf_dist_bcast(const msf_dist *d, void *buf, size_t bytes, int root) {
#ifdef MSF_MPI
    if (!d || !d->mpi) return MSF_OK;
    // In pieces of at most 1 GiB (MPI counts are int).
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < ((size_t)1 << 30) ? bytes - off : ((size_t)1 << 30);
        msf_status s = mpi_check(MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
        if (s) return s;
        off += n;
    }
    return MSF_OK;
#else
    (void)d, (void)buf, (void)bytes, (void)root;
    return MSF_OK;
#endif
}

msf_status msf_dist_sum(const msf_dist *d, double *v, int n) {
#ifdef MSF_MPI
    if (!d || !d->mpi || n <= 0) return MSF_OK;
    double *all = malloc((size_t)n * d->size * sizeof *all);
    if (!all) return msf_fail(MSF_ERR_NOMEM, "out of memory for a sum over %d ranks", d->size);
    msf_status s = mpi_check(MPI_Allgather(v, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD), "gather");
    if (!s)
        for (int i = 0; i < n; i++) {
            double t = 0;
            for (int r = 0; r < d->size; r++) t += all[(size_t)r * n + i];
            v[i] = t;
        }
    free(all);
    return s;
#else
    (void)d, (void)v, (void)n;
    return MSF_OK;
#endif
}

void msf_dist_abort(const msf_dist *d, int code) {
#ifdef MSF_MPI
    if (d && d->mpi) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)d;
#endif
    exit(code);
}
