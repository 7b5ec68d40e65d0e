// timer.h: monotonic wall-clock timing.
#ifndef MSF_CORE_TIMER_H
#define MSF_CORE_TIMER_H

// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC).
double msf_now(void);

typedef struct {
    double start;
    double total;  // accumulated seconds over start/stop pairs
} msf_timer;

void msf_timer_start(msf_timer *t);
double msf_timer_stop(msf_timer *t);           // returns the seconds of this interval
double msf_timer_elapsed(const msf_timer *t);  // seconds since the last start

#endif
