// status.c: per-thread error messages and the log callback.
#include "core/status.h"

#include <stdio.h>
#include <string.h>

#define MSF_ERROR_MAX 1024

static _Thread_local char error_message[MSF_ERROR_MAX];

const char *msf_status_name(msf_status s) {
    switch (s) {
    case MSF_OK: return "ok";
    case MSF_ERR_INVALID: return "invalid argument";
    case MSF_ERR_IO: return "i/o error";
    case MSF_ERR_FORMAT: return "format error";
    case MSF_ERR_SHAPE: return "shape error";
    case MSF_ERR_NOT_FOUND: return "not found";
    case MSF_ERR_NOMEM: return "out of memory";
    case MSF_ERR_NUMERIC: return "numerical error";
    }
    return "unknown error";
}

msf_status msf_fail(msf_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

msf_status msf_fail_context(msf_status code, const char *fmt, ...) {
    char old[MSF_ERROR_MAX];
    memcpy(old, error_message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof error_message && old[0])
        snprintf(error_message + n, sizeof error_message - (size_t)n, ": %s", old);
    return code;
}

const char *msf_error_message(void) { return error_message; }
void msf_clear_error(void) { error_message[0] = '\0'; }

// -----------------------------------------------------------------------------

static msf_log_fn log_fn;
static void *log_user;

void msf_set_log_callback(msf_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void msf_log(msf_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char buf[MSF_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, buf);
}
