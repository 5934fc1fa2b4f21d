/* errors — boxlet_strerror and friends: the public face of core/err. */
#include "boxlet.h"

#include "core/err.h"

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

const char *boxlet_version(void)
{
    return BOXLET_VERSION;
}
