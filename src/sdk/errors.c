/* errors — boxlet_strerror and friends: the public face of core/err, and
 * the wire names of execution statuses (one table for every layer). */
#include "boxlet.h"

#include "core/err.h"

#include <string.h>

_Static_assert((int)BOXLET_EPERM == (int)ERR_PERM && (int)BOXLET_EINVAL == (int)ERR_INVAL &&
                   (int)BOXLET_ECLOSED == (int)ERR_CLOSED && (int)BOXLET_ELIMIT == (int)ERR_LIMIT &&
                   (int)BOXLET_EEXISTS == (int)ERR_EXISTS && (int)BOXLET_EEXISTS + 1 == ERR_MAX_,
               "public codes must equal internal codes");

const char *boxlet_strerror(int code)
{
    return err_text(code);
}

const char *boxlet_code_name(int code)
{
    return err_name(code);
}

static const char *const status_names[] = {"running", "completed", "killed", "timed_out"};

const char *boxlet_exec_status_name(boxlet_exec_status st)
{
    return (unsigned)st < sizeof status_names / sizeof *status_names ? status_names[st] : "unknown";
}

int boxlet_exec_status_of(const char *name)
{
    for (int i = 0; name && i < (int)(sizeof status_names / sizeof *status_names); i++)
        if (strcmp(name, status_names[i]) == 0) return i;
    return -1;
}

const char *boxlet_version(void)
{
    return BOXLET_VERSION;
}
