/* users — resolve "name|uid[:group|gid]" against the box's own /etc/passwd
 * and /etc/group. The agent is static, so it cannot rely on NSS; it parses the
 * files itself, the way a container runtime does for an image's users. */
#include "agent.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWD_PATH "/etc/passwd"
#define GROUP_PATH "/etc/group"

/* Splits a colon-separated line into at most n fields, in place. */
static int split(char *line, char **f, int n)
{
    int k = 0;
    line[strcspn(line, "\n")] = '\0';
    while (k < n) {
        f[k++] = line;
        char *c = strchr(line, ':');
        if (!c) break;
        *c = '\0';
        line = c + 1;
    }
    return k;
}

static bool parse_id(const char *s, unsigned long *v)
{
    if (!*s || strlen(s) > 10) return false;
    char *end;
    errno = 0;
    *v = strtoul(s, &end, 10);
    return *end == '\0' && errno == 0 && *v < 0xffffffffUL;
}

/* Finds a passwd entry by name or uid; 1 found, 0 not. */
static int find_passwd(const char *name, long uid, user_ids *u)
{
    FILE *f = fopen(PASSWD_PATH, "re");
    if (!f) return 0;
    char line[4096], *fl[7];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long id, gid;
        if (split(line, fl, 7) < 7 || !parse_id(fl[2], &id) || !parse_id(fl[3], &gid)) continue;
        if (name ? strcmp(fl[0], name) == 0 : (long)id == uid) {
            u->uid = (uid_t)id;
            u->gid = (gid_t)gid;
            snprintf(u->home, sizeof u->home, "%s", fl[5]);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* Looks a group up by name (gid out) and collects supplementary groups of
 * `member`. Returns 1 if `name` was found. */
static int scan_groups(const char *name, gid_t *gid, const char *member, user_ids *u)
{
    FILE *f = fopen(GROUP_PATH, "re");
    if (!f) return 0;
    char line[8192], *fl[4];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long id;
        if (split(line, fl, 4) < 4 || !parse_id(fl[2], &id)) continue;
        if (name && strcmp(fl[0], name) == 0) {
            *gid = (gid_t)id;
            found = 1;
        }
        if (!member || u->ngroups >= (int)ARRAY_LEN(u->groups)) continue;
        for (char *tok = strtok(fl[3], ","); tok; tok = strtok(NULL, ","))
            if (strcmp(tok, member) == 0) u->groups[u->ngroups++] = (gid_t)id;
    }
    fclose(f);
    return found;
}

static int resolve_user(const char *spec, user_ids *u, char *name, size_t namelen, err_t *e)
{
    unsigned long id;
    if (parse_id(spec, &id)) {
        if (!find_passwd(NULL, (long)id, u)) { /* a bare uid need not exist */
            u->uid = (uid_t)id;
            u->gid = 0;
            snprintf(u->home, sizeof u->home, "/");
        }
        name[0] = '\0';
        return 0;
    }
    if (!find_passwd(spec, -1, u))
        return err_make(e, ERR_NOTFOUND, "unknown user \"%s\": no such entry in %s", spec,
                        PASSWD_PATH);
    snprintf(name, namelen, "%s", spec);
    return 0;
}

int users_resolve(const char *spec, user_ids *u, err_t *e)
{
    memset(u, 0, sizeof *u);
    char buf[512];
    if (strlen(spec) >= sizeof buf)
        return err_make(e, ERR_INVAL, "user \"%.40s...\": too long", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    char *grp = strchr(buf, ':');
    if (grp) *grp++ = '\0';
    char name[512];
    int rc = resolve_user(buf, u, name, sizeof name, e);
    if (rc < 0) return rc;
    if (grp) {
        unsigned long id;
        gid_t gid;
        if (parse_id(grp, &id))
            u->gid = (gid_t)id;
        else if (scan_groups(grp, &gid, NULL, u))
            u->gid = gid;
        else
            return err_make(e, ERR_NOTFOUND, "unknown group \"%s\": no such entry in %s", grp,
                            GROUP_PATH);
    }
    if (name[0]) scan_groups(NULL, NULL, name, u);
    return 0;
}
