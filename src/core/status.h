// status.h: status codes, error messages and the log callback of the msf library.
//
// The library never exits and never prints. A function that can fail returns an
// msf_status; on failure it has stored a message for the calling thread, which
// msf_error_message() returns until the next failure on that thread. Diagnostic
// output goes through a log callback that the application installs (the CLI
// prints to stderr; tests may capture it).
#ifndef MSF_CORE_STATUS_H
#define MSF_CORE_STATUS_H

#include <stdarg.h>

typedef enum {
    MSF_OK = 0,
    MSF_ERR_INVALID = 1,    // bad argument or configuration
    MSF_ERR_IO = 2,         // missing, unreadable or unwritable file
    MSF_ERR_FORMAT = 3,     // file exists but is not what was expected
    MSF_ERR_SHAPE = 4,      // tensor has the wrong shape or dtype
    MSF_ERR_NOT_FOUND = 5,  // a named item (tensor, attribute) is absent
    MSF_ERR_NOMEM = 6,      // allocation or workspace too small
    MSF_ERR_NUMERIC = 7,    // NaN/Inf or a failed numerical routine
} msf_status;

// The number of elements of an array (not a pointer): tables sized by their
// initialisers are checked against the enums and counts they follow with
// _Static_assert(MSF_COUNT(table) == ...).
#define MSF_COUNT(a) (sizeof(a) / sizeof((a)[0]))

// Short name of a status code ("io error", ...).
const char *msf_status_name(msf_status s);

// Record a formatted message for this thread and return `code` (so that
// `return msf_fail(MSF_ERR_IO, "...")` reads naturally).
msf_status msf_fail(msf_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefix the current message with more context ("loading x.h5: <old message>").
msf_status msf_fail_context(msf_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// The message of the last failure on this thread ("" if none).
const char *msf_error_message(void);
void msf_clear_error(void);

// -----------------------------------------------------------------------------
// Logging

typedef enum { MSF_LOG_DEBUG = 0, MSF_LOG_INFO = 1, MSF_LOG_WARN = 2, MSF_LOG_ERROR = 3 } msf_log_level;

typedef void (*msf_log_fn)(void *user, msf_log_level level, const char *message);

// Install the callback (NULL silences the library). Not thread-safe: call at start-up.
void msf_set_log_callback(msf_log_fn fn, void *user);
void msf_log(msf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
