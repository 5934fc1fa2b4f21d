/* box — boxlet_runtime and boxlet_box: opening a runtime chooses its
 * transport (local or remote, sdk.h); every call on a box checks its
 * arguments here and goes through that transport (local.c, remote.c). */
#include "core/pump.h"
#include "sdk/sdk.h"
#include "sdk/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sdk_fail(err_t *dst, const err_t *src, int rc)
{
    if (rc >= 0) return BOXLET_OK;
    if (dst && src && dst != src) *dst = *src;
    if (dst) dst->code = -rc;
    return -rc;
}

int sdk_unsupported(err_t *e, const sdk_transport *tp, const char *what, const char *op)
{
    return err_make(e, ERR_UNSUPPORTED, "%s: %s has no %s (%s)", what, tp->api, op, tp->instead);
}

int boxlet_runtime_open(const char *home, boxlet_runtime **out)
{
    boxlet_runtime *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return BOXLET_ENOMEM;
    int rc = rt_open(home, &r->rt, &r->err);
    if (rc == 0) r->tp = &sdk_local_transport;
    return sdk_fail(&r->err, &r->err, rc);
}

int boxlet_runtime_connect(const char *url, const char *api_key, boxlet_runtime **out)
{
    boxlet_runtime *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return BOXLET_ENOMEM;
    /* A server on this machine keeps its token where its user can read it:
     * a caller that may read it needs no key of its own (token.h). */
    char *found = (!api_key || !*api_key) && token_url_is_local(url) ? token_find_local(url) : NULL;
    int rc = rest_open(url, found ? found : api_key, &r->remote, &r->err);
    free(found);
    if (rc == 0) r->tp = &sdk_remote_transport;
    return sdk_fail(&r->err, &r->err, rc);
}

int boxlet_runtime_is_remote(const boxlet_runtime *rt)
{
    return rt && rt->tp == &sdk_remote_transport;
}

void boxlet_runtime_free(boxlet_runtime *rt)
{
    if (!rt) return;
    rest_free(rt->remote);
    rt_close(rt->rt);
    free(rt);
}

const char *boxlet_runtime_errmsg(const boxlet_runtime *rt)
{
    return rt ? rt->err.msg : "no runtime";
}

int sdk_need_rt(boxlet_runtime *rt)
{
    if (rt->tp) return 0;
    return err_make(&rt->err, ERR_INVAL, "the runtime failed to open");
}

void boxlet_box_opts_init(boxlet_box_opts *o)
{
    memset(o, 0, sizeof *o);
    o->image = "host";
}

boxlet_box *sdk_box_new(boxlet_runtime *rt)
{
    boxlet_box *b = calloc(1, sizeof *b);
    if (b) b->rt = rt;
    return b;
}

/* The arrays of o that both transports read element by element. */
static int check_arrays(boxlet_runtime *rt, const boxlet_box_opts *o)
{
    const char *bad = (o->nentrypoint && !o->entrypoint) ? "entrypoint"
                      : (o->ncmd && !o->cmd)             ? "cmd"
                      : (o->ncap_add && !o->cap_add)     ? "cap_add"
                      : (o->ncap_drop && !o->cap_drop)   ? "cap_drop"
                      : (o->nsecrets && !o->secrets)     ? "secrets"
                                                         : NULL;
    for (size_t i = 0; !bad && i < o->nsecrets; i++)
        if (!o->secrets[i].name || !o->secrets[i].value) bad = "secrets (a NULL name or value)";
    for (size_t i = 0; !bad && i < o->nentrypoint; i++)
        if (!o->entrypoint[i]) bad = "entrypoint (a NULL entry)";
    for (size_t i = 0; !bad && i < o->ncmd; i++)
        if (!o->cmd[i]) bad = "cmd (a NULL entry)";
    for (size_t i = 0; !bad && i < o->ncap_add; i++)
        if (!o->cap_add[i]) bad = "cap_add (a NULL entry)";
    for (size_t i = 0; !bad && i < o->ncap_drop; i++)
        if (!o->cap_drop[i]) bad = "cap_drop (a NULL entry)";
    return bad ? err_make(&rt->err, ERR_INVAL,
                          "box options: %s is NULL where its count says "
                          "there are entries",
                          bad)
               : 0;
}

int boxlet_box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out)
{
    *out = NULL;
    int rc = sdk_need_rt(rt);
    if (rc == 0) rc = check_arrays(rt, o);
    if (rc == 0) rc = rt->tp->box_create(rt, o, out);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_box_get(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    *out = NULL;
    int rc = sdk_need_rt(rt);
    if (rc == 0) rc = rt->tp->box_get(rt, key, out);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = sdk_need_rt(rt);
    if (rc == 0) rc = rt->tp->box_list(rt, out, n);
    return sdk_fail(&rt->err, NULL, rc);
}

/* The result of a call on b: its message also becomes the runtime's. */
static int box_result(boxlet_box *b, int rc)
{
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

static int live(boxlet_box *b)
{
    if (!b->removed) return 0;
    return err_make(&b->err, ERR_NOTFOUND, "box %s was removed", b->rec.id);
}

int boxlet_box_start(boxlet_box *b)
{
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_start(b));
}

int boxlet_box_stop(boxlet_box *b, double timeout_s)
{
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_stop(b, timeout_s));
}

int boxlet_box_remove(boxlet_box *b, int force)
{
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_remove(b, force != 0));
}

int boxlet_box_refresh(boxlet_box *b)
{
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_refresh(b));
}

int boxlet_box_stats(boxlet_box *b, boxlet_stats *out)
{
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_stats(b, out));
}

int boxlet_box_boot_timing(boxlet_box *b, boxlet_boot_timing *out)
{
    int rc = live(b);
    if (rc == 0 && !out)
        rc = err_make(&b->err, ERR_INVAL, "start timing of box %s: no place for it", b->rec.id);
    return box_result(b, rc ? rc : b->rt->tp->box_boot_timing(b, out));
}

int boxlet_box_rename(boxlet_box *b, const char *name)
{
    const sdk_transport *tp = b->rt->tp;
    int rc = live(b);
    if (rc == 0 && !name) rc = err_make(&b->err, ERR_INVAL, "rename box %s: no name", b->rec.id);
    if (rc == 0 && !tp->box_rename) {
        char what[64];
        snprintf(what, sizeof what, "rename box %s", b->rec.id);
        rc = sdk_unsupported(&b->err, tp, what, "rename");
    }
    return box_result(b, rc ? rc : tp->box_rename(b, name));
}

void boxlet_box_free(boxlet_box *b)

{
    if (!b) return;
    box_config_free(&b->cfg);
    box_rec_free(&b->rec);
    free(b);
}

const char *boxlet_box_id(const boxlet_box *b)
{
    return b->rec.id;
}

const char *boxlet_box_name(const boxlet_box *b)
{
    return b->rec.name ? b->rec.name : "";
}

const char *boxlet_box_image(const boxlet_box *b)
{
    return b->rec.image ? b->rec.image : "";
}

const char *boxlet_box_isolation(const boxlet_box *b)
{
    if (*b->rec.backend) return b->rec.backend;
    return b->rt->tp->isolations ? BOX_BACKEND_DEFAULT : ""; /* local records before the choice */
}

boxlet_box_state boxlet_box_state_of(const boxlet_box *b)
{
    return (boxlet_box_state)b->rec.state;
}

const char *boxlet_box_state_name(boxlet_box_state st)
{
    return box_state_name((box_state)st);
}

const char *boxlet_box_config_json(const boxlet_box *b)
{
    return b->rec.config ? b->rec.config : "{}";
}

const char *const *boxlet_box_default_cmd(const boxlet_box *b)
{
    boxlet_box *m = (boxlet_box *)b; /* parsed lazily; the handle is not shared */
    box_config_free(&m->cfg);
    if (!b->rec.config || box_config_from_json(b->rec.config, &m->cfg, NULL) < 0 || !m->cfg.ncmd)
        return NULL;
    return (const char *const *)m->cfg.cmd;
}

size_t boxlet_box_ports(const boxlet_box *b, boxlet_port *out, size_t max)
{
    boxlet_box *m = (boxlet_box *)b; /* as boxlet_box_default_cmd */
    box_config_free(&m->cfg);
    if (!b->rec.config || box_config_from_json(b->rec.config, &m->cfg, NULL) < 0) return 0;
    for (size_t i = 0; i < m->cfg.nports && i < max; i++)
        out[i] = (boxlet_port){.host_addr = m->cfg.ports[i].addr,
                               .host_port = m->cfg.ports[i].host_port,
                               .box_port = m->cfg.ports[i].box_port};
    return m->cfg.nports;
}

long long boxlet_box_created_ms(const boxlet_box *b)
{
    return b->rec.created_ms;
}

long long boxlet_box_started_ms(const boxlet_box *b)
{
    return b->rec.started_ms;
}

int boxlet_box_pid(const boxlet_box *b)
{
    return b->rec.state == BOX_RUNNING ? b->rec.init_pid : 0;
}

int boxlet_box_connect_port(boxlet_box *b, unsigned int port, int *fd)
{
    *fd = -1;
    int rc = live(b);
    return box_result(b, rc ? rc : b->rt->tp->box_port_connect(b, port, fd));
}

int boxlet_stream_relay(int fd_a, int fd_b)
{
    return pump_run(fd_a, fd_b) < 0 ? BOXLET_EIO : BOXLET_OK;
}

const char *boxlet_box_errmsg(const boxlet_box *b)
{
    return b ? b->err.msg : "no box";
}
