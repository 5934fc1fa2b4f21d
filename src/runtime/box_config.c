/* box_config — a box's options and their JSON form in the store. The JSON is
 * the same shape the REST API will show as a box's config. */
#include "core/strv.h"
#include "core/util.h"
#include "proto/proto.h"
#include "runtime/caps.h"
#include "runtime/publish.h"
#include "runtime/runtime.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void box_config_free(box_config *c)
{
    if (!c) return;
    strv_free_n(c->env, c->nenv);
    strv_free_n(c->labels, c->nlabels);
    strv_free_n(c->cmd, c->ncmd);
    strv_free_n(c->main, c->nmain);
    strv_free_n(c->cap_add, c->ncap_add);
    strv_free_n(c->cap_drop, c->ncap_drop);
    strv_free_n(c->secrets, c->nsecrets);
    free(c->working_dir);
    free(c->user);
    free(c->rootfs);
    free(c->host_ports);
    free(c->ports);
    for (size_t i = 0; c->volumes && i < c->nvolumes; i++) {
        free(c->volumes[i].host_path);
        free(c->volumes[i].volume);
        free(c->volumes[i].guest_path);
    }
    free(c->volumes);
    memset(c, 0, sizeof *c);
}

static json_t *str_array(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* BoxLite's PortSpec shape: host_ip, host_port, guest_port, protocol. */
static json_t *ports_json(const box_config *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->nports; i++) {
        const box_port *p = &c->ports[i];
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:s}", "host_ip", p->addr, "host_port",
                                           (json_int_t)p->host_port, "guest_port",
                                           (json_int_t)p->box_port, "protocol", "tcp"));
    }
    return a;
}

/* [{"host_path"|"volume", "guest_path", "read_only"}...] */
static json_t *volumes_json(const box_config *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->nvolumes; i++) {
        const box_volume *v = &c->volumes[i];
        json_t *o = json_pack("{s:s, s:b}", "guest_path", v->guest_path, "read_only", v->read_only);
        if (o && v->host_path) json_object_set_new(o, "host_path", json_string(v->host_path));
        if (o && v->volume) json_object_set_new(o, "volume", json_string(v->volume));
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The main command, capabilities, secrets' names and lifecycle: each
 * absent when unset, as in records older than them. */
static int set_lifecycle(json_t *o, const box_config *c)
{
    int rc = json_object_set_new(o, "auto_stop", json_integer(c->auto_stop));
    if (rc == 0) rc = json_object_set_new(o, "auto_delete", json_integer(c->auto_delete));
    if (rc == 0) rc = json_object_set_new(o, "auto_resume", json_boolean(!c->no_auto_resume));
    if (rc == 0 && c->nmain) rc = json_object_set_new(o, "main", str_array(c->main, c->nmain));
    if (rc == 0 && c->nmain) rc = json_object_set_new(o, "main_tty", json_boolean(c->main_tty));
    if (rc == 0 && c->ncap_add)
        rc = json_object_set_new(o, "cap_add", str_array(c->cap_add, c->ncap_add));
    if (rc == 0 && c->ncap_drop)
        rc = json_object_set_new(o, "cap_drop", str_array(c->cap_drop, c->ncap_drop));
    if (rc == 0 && c->nsecrets)
        rc = json_object_set_new(o, "secrets", str_array(c->secrets, c->nsecrets));
    return rc;
}

int box_config_to_json(const box_config *c, char **out, err_t *e)
{
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:f, s:I, s:I, s:b, s:o, s:b, s:o}", "env", str_array(c->env, c->nenv),
        "working_dir", c->working_dir ? json_string(c->working_dir) : json_null(), "user",
        c->user ? json_string(c->user) : json_null(), "cpus", c->cpus, "memory_mib",
        (json_int_t)c->memory_mib, "pids_max", (json_int_t)c->pids_max, "network", c->network,
        "labels", str_array(c->labels, c->nlabels), "auto_remove", c->auto_remove, "cmd",
        str_array(c->cmd, c->ncmd));
    if (o && json_object_set_new(o, "disk_size_gb", json_integer(c->disk_size_gb)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && c->rootfs &&
        (json_object_set_new(o, "rootfs", json_string(c->rootfs)) < 0 ||
         json_object_set_new(o, "host_binds", json_boolean(c->host_binds)) < 0)) {
        json_decref(o);
        o = NULL;
    }
    json_t *ports = c->nhost_ports ? json_array() : NULL; /* absent when none */
    for (size_t i = 0; ports && i < c->nhost_ports; i++)
        json_array_append_new(ports, json_integer(c->host_ports[i]));
    if (!o) json_decref(ports);
    if (o && c->nhost_ports && json_object_set_new(o, "host_ports", ports) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && c->nports && json_object_set_new(o, "ports", ports_json(c)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && c->nvolumes && json_object_set_new(o, "volumes", volumes_json(c)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && set_lifecycle(o, c) < 0) {
        json_decref(o);
        o = NULL;
    }
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *out ? 0 : err_make(e, ERR_NOMEM, "encode box config: out of memory");
}

static int get_strv(json_t *o, const char *key, char ***v, size_t *n, err_t *e)
{
    json_t *a = json_object_get(o, key);
    *v = NULL;
    *n = 0;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a))
        return err_make(e, ERR_INVAL, "box config: \"%s\" must be an array of strings", key);
    if (!(*v = strv_dup(NULL, 0))) return err_make(e, ERR_NOMEM, "box config: out of memory");
    size_t i;
    json_t *s;
    json_array_foreach(a, i, s)
    {
        if (!json_is_string(s))
            return err_make(e, ERR_INVAL, "box config: \"%s\"[%zu] must be a string", key, i);
        if (strv_push(v, n, json_string_value(s)) < 0)
            return err_make(e, ERR_NOMEM, "box config: out of memory");
    }
    return 0;
}

static int get_ports(json_t *o, box_config *c, err_t *e)
{
    json_t *a = json_object_get(o, "host_ports"), *v;
    size_t i;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a) || json_array_size(a) > BOX_MAX_HOST_PORTS)
        return err_make(e, ERR_INVAL,
                        "box config: \"host_ports\" must be an array of at most %d "
                        "ports",
                        BOX_MAX_HOST_PORTS);
    if (!(c->host_ports = calloc(json_array_size(a) + 1, sizeof *c->host_ports)))
        return err_make(e, ERR_NOMEM, "box config: out of memory");
    json_array_foreach(a, i, v)
    {
        json_int_t p = json_integer_value(v);
        if (!json_is_integer(v) || p < 1 || p > 65535)
            return err_make(e, ERR_INVAL, "box config: \"host_ports\"[%zu]: want 1..65535", i);
        c->host_ports[c->nhost_ports++] = (unsigned)p;
    }
    return 0;
}

static int get_published(json_t *o, box_config *c, err_t *e)
{
    json_t *a = json_object_get(o, "ports"), *v;
    size_t i;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a) || json_array_size(a) > BOX_MAX_PORTS)
        return err_make(e, ERR_INVAL, "box config: \"ports\" must be an array of at most %d",
                        BOX_MAX_PORTS);
    if (!(c->ports = calloc(json_array_size(a) + 1, sizeof *c->ports)))
        return err_make(e, ERR_NOMEM, "box config: out of memory");
    json_array_foreach(a, i, v)
    {
        const char *ip = json_string_value(json_object_get(v, "host_ip"));
        json_int_t hp = json_integer_value(json_object_get(v, "host_port"));
        json_int_t bp = json_integer_value(json_object_get(v, "guest_port"));
        if (!ip || strlen(ip) >= BOX_ADDR_MAX || hp < 1 || hp > 65535 || bp < 1 || bp > 65535)
            return err_make(e, ERR_INVAL,
                            "box config: \"ports\"[%zu]: want host_ip, host_port and "
                            "guest_port",
                            i);
        box_port *p = &c->ports[c->nports++];
        snprintf(p->addr, sizeof p->addr, "%s", ip);
        p->host_port = (unsigned)hp;
        p->box_port = (unsigned)bp;
    }
    return 0;
}

static char *get_str(json_t *o, const char *key)
{
    json_t *s = json_object_get(o, key);
    return json_is_string(s) ? strdup(json_string_value(s)) : NULL;
}

static int get_volumes(json_t *o, box_config *c, err_t *e)
{
    json_t *a = json_object_get(o, "volumes"), *v;
    size_t i;
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a) || json_array_size(a) > BOX_VOLUMES_MAX)
        return err_make(e, ERR_INVAL, "box config: \"volumes\" must be an array of at most %d",
                        BOX_VOLUMES_MAX);
    if (!(c->volumes = calloc(json_array_size(a) + 1, sizeof *c->volumes)))
        return err_make(e, ERR_NOMEM, "box config: out of memory");
    json_array_foreach(a, i, v)
    {
        box_volume *bv = &c->volumes[c->nvolumes++];
        bv->host_path = get_str(v, "host_path");
        bv->volume = get_str(v, "volume");
        bv->guest_path = get_str(v, "guest_path");
        bv->read_only = json_is_true(json_object_get(v, "read_only"));
        if (!bv->guest_path || !bv->host_path == !bv->volume)
            return err_make(e, ERR_INVAL,
                            "box config: \"volumes\"[%zu]: want guest_path and one of host_path "
                            "or volume",
                            i);
    }
    return 0;
}

int box_config_from_json(const char *text, box_config *c, err_t *e)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return err_make(e, ERR_INVAL, "box config: not a JSON object (%s)", je.text);
    }
    int rc = get_strv(o, "env", &c->env, &c->nenv, e);
    if (rc == 0) rc = get_strv(o, "labels", &c->labels, &c->nlabels, e);
    if (rc == 0) rc = get_strv(o, "cmd", &c->cmd, &c->ncmd, e);
    if (rc == 0) rc = get_ports(o, c, e);
    if (rc == 0) rc = get_published(o, c, e);
    if (rc == 0) rc = get_volumes(o, c, e);
    if (rc == 0) rc = get_strv(o, "main", &c->main, &c->nmain, e);
    if (rc == 0) rc = get_strv(o, "cap_add", &c->cap_add, &c->ncap_add, e);
    if (rc == 0) rc = get_strv(o, "cap_drop", &c->cap_drop, &c->ncap_drop, e);
    if (rc == 0) rc = get_strv(o, "secrets", &c->secrets, &c->nsecrets, e);
    c->main_tty = json_is_true(json_object_get(o, "main_tty"));
    c->auto_stop = (uint32_t)json_integer_value(json_object_get(o, "auto_stop"));
    c->auto_delete = (uint32_t)json_integer_value(json_object_get(o, "auto_delete"));
    c->no_auto_resume = json_is_false(json_object_get(o, "auto_resume"));
    c->working_dir = get_str(o, "working_dir");
    c->user = get_str(o, "user");
    c->cpus = json_number_value(json_object_get(o, "cpus"));
    c->memory_mib = (uint64_t)json_integer_value(json_object_get(o, "memory_mib"));
    c->pids_max = (uint32_t)json_integer_value(json_object_get(o, "pids_max"));
    c->disk_size_gb = (uint32_t)json_integer_value(json_object_get(o, "disk_size_gb"));
    c->network = json_is_true(json_object_get(o, "network"));
    c->auto_remove = json_is_true(json_object_get(o, "auto_remove"));
    c->rootfs = get_str(o, "rootfs");
    c->host_binds = json_is_true(json_object_get(o, "host_binds"));
    json_decref(o);
    if (rc < 0) box_config_free(c);
    return rc;
}

/* A box's env travels with every exec of the box (proto.h's caps: a
 * string of PROTO_MAX_STR, PROTO_MAX_ARGS entries, one frame): it is held
 * to half of those, leaving the exec's own env the other half, so a box
 * that was created can always run a command. */
#define BOX_KV_MAX (PROTO_MAX_ARGS / 2)
#define BOX_KV_BYTES (PROTO_MAX_FRAME / 4)

static int check_kv(char **v, size_t n, const char *what, err_t *e)
{
    if (n > BOX_KV_MAX)
        return err_make(e, ERR_INVAL, "%zu %s entries: at most %u", n, what, BOX_KV_MAX);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(v[i], '=');
        size_t len = strlen(v[i]);
        if (!eq || eq == v[i])
            return err_make(e, ERR_INVAL, "%s entry \"%.64s\": want KEY=VALUE with a non-empty KEY",
                            what, v[i]);
        if (len >= PROTO_MAX_STR)
            return err_make(e, ERR_INVAL, "%s entry \"%.*s...\" is %zu bytes: at most %u", what,
                            (int)MIN((size_t)(eq - v[i]), 64), v[i], len, PROTO_MAX_STR - 1);
        total += len;
    }
    if (total > BOX_KV_BYTES)
        return err_make(e, ERR_INVAL, "%s entries of %zu bytes in all: at most %u", what, total,
                        BOX_KV_BYTES);
    return 0;
}

static int check_ports(const box_config *c, err_t *e)
{
    if (c->nhost_ports > BOX_MAX_HOST_PORTS)
        return err_make(e, ERR_INVAL, "host ports: %zu given, at most %d", c->nhost_ports,
                        BOX_MAX_HOST_PORTS);
    for (size_t i = 0; i < c->nhost_ports; i++) {
        if (c->host_ports[i] < 1 || c->host_ports[i] > 65535)
            return err_make(e, ERR_INVAL, "host port %u: want 1..65535", c->host_ports[i]);
        for (size_t j = 0; j < i; j++)
            if (c->host_ports[j] == c->host_ports[i])
                return err_make(e, ERR_INVAL, "host port %u: given twice", c->host_ports[i]);
    }
    return 0;
}

/* A guest path: absolute, normalized (no "." or ".." or empty component),
 * not the root, nor in the kernel's or boxlet's own trees of the box. */
static int check_guest_path(const char *p, err_t *e)
{
    static const char *const taken[] = {"/proc", "/sys", "/dev", "/run/boxlet"};
    size_t len = strlen(p);
    if (p[0] != '/' || len < 2 || len >= BOX_GUEST_PATH_MAX || p[len - 1] == '/' ||
        strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") || strchr(p, ',') ||
        (len >= 2 && !strcmp(p + len - 2, "/.")) || (len >= 3 && !strcmp(p + len - 3, "/..")))
        return err_make(e, ERR_INVAL,
                        "volume guest path \"%.200s\": want an absolute path (not /) without "
                        "\".\", \"..\", empty components or ','",
                        p);
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        size_t n = strlen(taken[i]);
        if (!strncmp(p, taken[i], n) && (p[n] == '\0' || p[n] == '/'))
            return err_make(e, ERR_INVAL, "volume guest path \"%s\": %s is the box's own", p,
                            taken[i]);
    }
    return 0;
}

static int check_volumes(const box_config *c, err_t *e)
{
    if (c->nvolumes > BOX_VOLUMES_MAX)
        return err_make(e, ERR_INVAL, "volumes: %zu given, at most %d", c->nvolumes,
                        BOX_VOLUMES_MAX);
    for (size_t i = 0; i < c->nvolumes; i++) {
        const box_volume *v = &c->volumes[i];
        if (!v->guest_path || !v->host_path == !v->volume)
            return err_make(e, ERR_INVAL,
                            "volume %zu: want a guest path and one of a host path "
                            "or a volume name",
                            i + 1);
        int rc = check_guest_path(v->guest_path, e);
        if (rc < 0) return rc;
        if (v->host_path && v->host_path[0] != '/')
            return err_make(e, ERR_INVAL, "volume host path \"%.200s\": must be absolute",
                            v->host_path);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->volumes[j].guest_path, v->guest_path))
                return err_make(e, ERR_INVAL, "volume guest path \"%s\": given twice",
                                v->guest_path);
    }
    return 0;
}

/* The main command travels in one EXEC_START, as any command does. */
static int check_main(const box_config *c, err_t *e)
{
    if (c->nmain > BOX_MAIN_MAX)
        return err_make(e, ERR_INVAL, "main command: %zu arguments, at most %d", c->nmain,
                        BOX_MAIN_MAX);
    size_t total = 0;
    for (size_t i = 0; i < c->nmain; i++) {
        size_t len = strlen(c->main[i]);
        if (len >= PROTO_MAX_STR || (i == 0 && len == 0))
            return err_make(e, ERR_INVAL, "main command: argument %zu is empty or over %u bytes", i,
                            PROTO_MAX_STR - 1);
        total += len;
    }
    if (total > BOX_KV_BYTES)
        return err_make(e, ERR_INVAL, "main command: %zu bytes in all, at most %u", total,
                        BOX_KV_BYTES);
    return 0;
}

/* A secret's name becomes an environment variable's: [A-Za-z_][A-Za-z0-9_]*. */
static int check_secret_names(const box_config *c, err_t *e)
{
    if (c->nsecrets > BOX_KV_MAX / 2)
        return err_make(e, ERR_INVAL, "%zu secrets: at most %u", c->nsecrets, BOX_KV_MAX / 2);
    for (size_t i = 0; i < c->nsecrets; i++) {
        const char *n = c->secrets[i];
        bool ok = *n && strlen(n) < 256 && !(*n >= '0' && *n <= '9');
        for (const char *p = n; ok && *p; p++)
            ok = *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9');
        for (size_t j = 0; ok && j < i; j++)
            ok = strcmp(c->secrets[j], n) != 0;
        if (!ok)
            return err_make(e, ERR_INVAL,
                            "secret name \"%.64s\": want a unique environment variable name "
                            "(letters, digits, '_', not starting with a digit)",
                            n);
    }
    return 0;
}

int box_config_validate(const box_config *c, err_t *e)
{
    int rc = check_kv(c->env, c->nenv, "env", e);
    if (rc == 0) rc = check_kv(c->labels, c->nlabels, "label", e);
    if (rc == 0 && (isnan(c->cpus) || c->cpus < 0 || c->cpus > 1024))
        rc = err_make(e, ERR_INVAL, "cpus %g: must be between 0 (no limit) and 1024", c->cpus);
    if (rc == 0 && c->memory_mib && c->memory_mib < 6)
        rc = err_make(e, ERR_INVAL, "memory_mib %llu: a box needs at least 6 MiB",
                      (unsigned long long)c->memory_mib);
    if (rc == 0 && c->memory_mib > (1ull << 30))
        rc =
            err_make(e, ERR_INVAL, "memory_mib %llu: too large", (unsigned long long)c->memory_mib);
    if (rc == 0) rc = check_ports(c, e);
    if (rc == 0) rc = publish_validate(c->ports, c->nports, e);
    if (rc == 0) rc = check_volumes(c, e);
    if (rc == 0 && c->disk_size_gb > BOX_DISK_GB_MAX)
        rc =
            err_make(e, ERR_INVAL, "disk_size_gb %u: at most %u", c->disk_size_gb, BOX_DISK_GB_MAX);
    if (rc == 0 && c->working_dir && c->working_dir[0] != '/')
        rc = err_make(e, ERR_INVAL, "working_dir \"%s\": must be absolute", c->working_dir);
    if (rc == 0) rc = check_main(c, e);
    uint64_t caps;
    if (rc == 0) rc = caps_resolve(c->cap_add, c->ncap_add, c->cap_drop, c->ncap_drop, &caps, e);
    if (rc == 0 && (c->auto_stop > BOX_AUTO_MAX || c->auto_delete > BOX_AUTO_MAX))
        rc = err_make(e, ERR_INVAL, "auto_stop %u, auto_delete %u: each at most %u seconds",
                      c->auto_stop, c->auto_delete, BOX_AUTO_MAX);
    if (rc == 0) rc = check_secret_names(c, e);
    return rc;
}
