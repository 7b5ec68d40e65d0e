// version.c: version and build commit (MSF_GIT_COMMIT is set by the Makefile).
#include "core/version.h"

#ifndef MSF_GIT_COMMIT
#define MSF_GIT_COMMIT "unknown"
#endif

const char *msf_version(void) { return MSF_VERSION; }
const char *msf_git_commit(void) { return MSF_GIT_COMMIT; }
