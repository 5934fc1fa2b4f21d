/* errors — boxlet_strerror and friends: the public face of core/err. */
#include "boxlet.h"

#include "core/err.h"

_Static_assert((int)BOXLET_EPERM == (int)ERR_PERM && (int)BOXLET_EINVAL == (int)ERR_INVAL &&
                   (int)BOXLET_ECLOSED == (int)ERR_CLOSED && (int)BOXLET_ELIMIT == (int)ERR_LIMIT,
               "public codes must equal internal codes");

const char *boxlet_strerror(int code)
{
    static const char *const text[] = {
        "success",        "invalid argument", "not found",         "execution is closed",
        "conflict",       "timed out",        "out of memory",     "input/output error",
        "protocol error", "too large",        "not supported",     "disconnected",
        "internal error", "limit reached",    "permission denied",
    };
    if (code < 0) code = -code;
    return code < (int)(sizeof text / sizeof text[0]) ? text[code] : "unknown error";
}

const char *boxlet_code_name(int code)
{
    return err_name(code);
}

const char *boxlet_version(void)
{
    return BOXLET_VERSION;
}
