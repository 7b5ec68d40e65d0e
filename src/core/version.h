// version.h: what build of msf this is (recorded in every result file).
#ifndef MSF_CORE_VERSION_H
#define MSF_CORE_VERSION_H

#define MSF_VERSION "0.1.0"

const char *msf_version(void);
// Short git commit of the source tree at build time ("unknown" outside git),
// with "-dirty" when it had uncommitted changes.
const char *msf_git_commit(void);

#endif
