/* regconf — see regconf.h. */
#include "image/regconf.h"

#include "core/strv.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "http://h:p/" -> "h:p" (plain: true), "h:p" -> "h:p". */
static void host_of(const char *url, char *out, size_t n, int *plain)
{
    *plain = strncmp(url, "http://", 7) == 0;
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(out, n, "%.*s", (int)strcspn(p, "/"), p);
}

static int load_mirrors(json_t *m, const char *file, regconf *c, err_t *e)
{
    const char *reg;
    json_t *list;
    json_object_foreach(m, reg, list)
    {
        if (!json_is_array(list))
            return err_make(e, ERR_INVAL, "%s: mirrors.\"%s\" must be an array of registries", file,
                            reg);
        struct regconf_mirrors *nm = realloc(c->mirrors, (c->nmirrors + 1) * sizeof *nm);
        if (!nm) return err_make(e, ERR_NOMEM, "%s: out of memory", file);
        c->mirrors = nm;
        struct regconf_mirrors *r = &nm[c->nmirrors++];
        *r = (struct regconf_mirrors){.registry = strdup(reg)};
        if (!r->registry) return err_make(e, ERR_NOMEM, "%s: out of memory", file);
        size_t i;
        json_t *u;
        json_array_foreach(list, i, u)
        {
            const char *s = json_string_value(u);
            char host[256];
            int plain;
            if (!s || !*s)
                return err_make(e, ERR_INVAL, "%s: mirrors.\"%s\"[%zu] must be a non-empty string",
                                file, reg, i);
            host_of(s, host, sizeof host, &plain);
            if (strv_push(&r->hosts, &r->n, host) < 0 ||
                (plain && strv_push(&c->insecure, &c->ninsecure, host) < 0))
                return err_make(e, ERR_NOMEM, "%s: out of memory", file);
        }
    }
    return 0;
}

int regconf_load(const char *home, regconf *c, err_t *e)
{
    memset(c, 0, sizeof *c);
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/registries.json", home);
    if (access(file, F_OK) != 0) return errno == ENOENT ? 0 : err_sys(e, errno, "%s", file);
    json_error_t je;
    json_t *o = json_load_file(file, 0, &je);
    if (!o) return err_make(e, ERR_INVAL, "%s: line %d: %s", file, je.line, je.text);
    int rc = 0;
    json_t *ins = json_object_get(o, "insecure"), *mir = json_object_get(o, "mirrors");
    if (!json_is_object(o))
        rc = err_make(e, ERR_INVAL, "%s: not a JSON object", file);
    else if (ins && !json_is_array(ins))
        rc = err_make(e, ERR_INVAL, "%s: \"insecure\" must be an array of hosts", file);
    else if (mir && !json_is_object(mir))
        rc = err_make(e, ERR_INVAL, "%s: \"mirrors\" must map registries to arrays", file);
    size_t i;
    json_t *h;
    json_array_foreach(rc == 0 ? ins : NULL, i, h)
    {
        const char *s = json_string_value(h);
        if (!s || !*s) {
            rc = err_make(e, ERR_INVAL, "%s: insecure[%zu] must be a non-empty string", file, i);
            break;
        }
        if (strv_push(&c->insecure, &c->ninsecure, s) < 0) {
            rc = err_make(e, ERR_NOMEM, "%s: out of memory", file);
            break;
        }
    }
    if (rc == 0 && mir) rc = load_mirrors(mir, file, c, e);
    json_decref(o);
    if (rc < 0) regconf_free(c);
    return rc;
}

void regconf_free(regconf *c)
{
    strv_free_n(c->insecure, c->ninsecure);
    for (size_t i = 0; i < c->nmirrors; i++) {
        strv_free_n(c->mirrors[i].hosts, c->mirrors[i].n);
        free(c->mirrors[i].registry);
    }
    free(c->mirrors);
    memset(c, 0, sizeof *c);
}

char *const *regconf_mirrors(const regconf *c, const char *registry)
{
    for (size_t i = 0; i < c->nmirrors; i++)
        if (strcmp(c->mirrors[i].registry, registry) == 0 && c->mirrors[i].n)
            return c->mirrors[i].hosts;
    return NULL;
}
