// timer.c: monotonic wall-clock timing.
#define _POSIX_C_SOURCE 200809L
#include "core/timer.h"

#include <time.h>

double msf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void msf_timer_start(msf_timer *t) { t->start = msf_now(); }

double msf_timer_stop(msf_timer *t) {
    double dt = msf_now() - t->start;
    t->total += dt;
    return dt;
}

double msf_timer_elapsed(const msf_timer *t) { return msf_now() - t->start; }
