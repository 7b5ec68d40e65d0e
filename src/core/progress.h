// progress.h: progress reporting from long library calls.
//
// The library calls the callback as work completes; only the application
// decides how to show it (the CLI draws a bar on stderr).
#ifndef MSF_CORE_PROGRESS_H
#define MSF_CORE_PROGRESS_H

#include <stdint.h>

// `done` of `total` items of the task called `label` are finished.
// done == 0 marks the start of a task, done == total its end.
typedef void (*msf_progress_fn)(void *user, const char *label, int64_t done, int64_t total);

typedef struct {
    msf_progress_fn fn;
    void *user;
} msf_progress;

static inline void msf_progress_report(const msf_progress *p, const char *label, int64_t done, int64_t total) {
    if (p && p->fn) p->fn(p->user, label, done, total);
}

#endif
