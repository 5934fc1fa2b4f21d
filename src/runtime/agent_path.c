/* agent_path — where the agent comes from, decided by where the code asking
 * lives (dladdr on this file's code: libboxlet.so, or the program that
 * linked libboxlet.a, read through /proc/self/exe). A program of the build
 * tree uses the build tree's agent; an installed program or library uses
 * the installed agent only, never a build tree's (an installed `boxlet`
 * used to run the agent of the checkout it was built from). Installed
 * files find the agent by the install layout's relative path from their
 * own directory (bin/ or lib/ to libexec/boxlet/), so `cmake --install
 * --prefix X` works without reconfiguring; a user's program linked with
 * libboxlet.a falls back to the configured install path. Not for choosing
 * anything else: images and homes have their own rules. */
#include "runtime/agent_path.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file holding this code, resolved: libboxlet.so.N or the program. */
static int self_path(char *out, size_t n)
{
    Dl_info info;
    char buf[PATH_MAX];
    const char *p = NULL;
    if (dladdr((void *)self_path, &info) && info.dli_fname && info.dli_fname[0] == '/' &&
        strstr(info.dli_fname, "libboxlet.so"))
        p = info.dli_fname;
    if (!p) {
        ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (len <= 0) return -1;
        buf[len] = 0;
        p = buf;
    }
    char real[PATH_MAX];
    if (!realpath(p, real)) snprintf(real, sizeof real, "%s", p);
    snprintf(out, n, "%s", real);
    return 0;
}

static int under(const char *path, const char *dir)
{
    char real[PATH_MAX];
    if (!realpath(dir, real)) return 0;
    size_t len = strlen(real);
    return strncmp(path, real, len) == 0 && path[len] == '/';
}

/* dir/rel when it is an executable file. */
static int beside(const char *self, const char *rel, char *out, size_t n)
{
    const char *slash = strrchr(self, '/');
    if (!slash) return 0;
    snprintf(out, n, "%.*s/%s", (int)(slash - self), self, rel);
    return access(out, X_OK) == 0;
}

void agent_path_find(char *out, size_t n)
{
    const char *env = getenv("BOXLET_AGENT");
    char self[PATH_MAX];
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    if (self_path(self, sizeof self) == 0) {
        if (under(self, BOXLET_BUILD_DIR)) {
            snprintf(out, n, "%s", BOXLET_AGENT_BUILD_PATH);
            return;
        }
        const char *base = strrchr(self, '/');
        const char *rel = base && strstr(base, "libboxlet.so") ? BOXLET_AGENT_FROM_LIBDIR
                                                               : BOXLET_AGENT_FROM_BINDIR;
        if (beside(self, rel, out, n)) return;
    }
    snprintf(out, n, "%s", BOXLET_AGENT_INSTALL_PATH);
}
