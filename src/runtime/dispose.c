/* dispose — see dispose.h. */
#include "runtime/dispose.h"

#include "core/fsutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REMOVED_SUFFIX ".removed"
/* Below this much free space (or a tenth of the file system) the space
 * is given back before the removal returns. */
#define SHORT_BYTES (1ull << 30)

/* Starts `deleter --remove-tree path` (boxlet-agent: it forks, and its
 * parent exits at once, so the deleter is nobody's child — no zombie in a
 * long-lived caller — and outlives the caller). 0, or -1 when it could not
 * be started. */
static int spawn_deleter(const char *deleter, const char *path, int hold)
{
    char *argv[] = {(char *)"boxlet-agent", (char *)"--remove-tree", (char *)path, NULL};
    char *envp[] = {(char *)"LC_ALL=C", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (hold >= 0) posix_spawn_file_actions_adddup2(&fa, hold, 3); /* clears close-on-exec */
    /* the caller's blocked signals are not the deleter's */
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawn(&pid, deleter, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Whether the file system holding dir is short of space (or unknown). */
static bool space_short(const char *dir)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0) return true;
    unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
    unsigned long long total = (unsigned long long)sv.f_blocks * sv.f_frsize;
    return avail < SHORT_BYTES || avail < total / 10;
}

int dispose_tree(const char *dir, const char *deleter, int hold, err_t *e)
{
    if (!deleter ||
        space_short(dir)) { /* removed here; hold's mount goes when the caller closes it */
        int rc = fs_rm_tree(dir);
        return rc < 0 ? err_sys(e, -rc, "remove \"%s\"", dir) : 0;
    }
    char gone[4200];
    if (snprintf(gone, sizeof gone, "%s" REMOVED_SUFFIX, dir) >= (int)sizeof gone)
        return err_make(e, ERR_TOOBIG, "remove \"%.64s...\": path too long", dir);
    int rc = rename(dir, gone);
    if (rc < 0 && (errno == EEXIST || errno == ENOTEMPTY)) { /* a leftover of the same name */
        fs_rm_tree(gone);
        rc = rename(dir, gone);
    }
    if (rc < 0 && errno == ENOENT) return 0;
    const char *victim = rc == 0 ? gone : dir; /* not movable: removed here */
    if (rc == 0 && spawn_deleter(deleter, gone, hold) == 0) return 0;
    if ((rc = fs_rm_tree(victim)) < 0) return err_sys(e, -rc, "remove \"%s\"", victim);
    return 0;
}

void dispose_sweep(const char *dir, int min_age_s)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t slen = strlen(REMOVED_SUFFIX);
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= slen || strcmp(de->d_name + len - slen, REMOVED_SUFFIX) != 0) continue;
        char p[4200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        /* rename sets the moved directory's ctime: the age of the removal */
        if (lstat(p, &st) < 0 || now - st.st_ctime < min_age_s) continue;
        fs_rm_tree(p);
    }
    closedir(d);
}
