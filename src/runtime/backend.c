/* backend — the table of backends this boxlet has, looked up by the name a
 * box's record carries. Not for choosing one (runtime.c does, at create). */
#include "runtime/backend.h"

#include "core/util.h"

#include <string.h>

static const backend_ops *const backends[] = {&ns_backend, &vm_backend};

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(backends); i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

const backend_ops *const *backend_all(size_t *n)
{
    *n = ARRAY_LEN(backends);
    return backends;
}
