/* box_opts — see box_opts.h. */
#include "server/box_opts.h"

#include "core/sha256.h"
#include "core/util.h"
#include "server/reply.h"
#include "server/routes.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A JSON array of strings as a borrowed NULL-terminated vector (*out NULL
 * when absent or null). false with rs answered. */
static bool strings(json_t *a, const char *field, const char ***out, size_t *n, http_resp *rs)
{
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a)) return true;
    if (!json_is_array(a) || json_array_size(a) > 256) {
        reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be an array of at most 256 strings",
                    field);
        return false;
    }
    *out = xcalloc(json_array_size(a) + 1, sizeof **out);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            reply_error(rs, 400, ERR_INVAL, "field \"%s\"[%zu] must be a string without NUL", field,
                        i);
            return false;
        }
        (*out)[(*n)++] = json_string_value(v);
    }
    return true;
}

/* Every key of o is one of known (NULL-terminated); where names it. */
static bool keys_in(json_t *o, const char *where, const char *const *known, http_resp *rs)
{
    if (!json_is_object(o)) {
        reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be an object", where);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        const char *const *k = known;
        while (*k && strcmp(*k, key) != 0)
            k++;
        if (!*k) {
            reply_error(rs, 400, ERR_INVAL, "unknown field \"%s.%s\"", where, key);
            return false;
        }
    }
    return true;
}

static bool seconds(json_t *o, const char *field, unsigned def, unsigned *out, http_resp *rs)
{
    json_t *v = json_object_get(o, field);
    *out = def;
    if (!v || json_is_null(v)) return true;
    json_int_t n = json_integer_value(v);
    if (!json_is_integer(v) || n < 0 || n > 365 * 86400) {
        reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be an integer of seconds, 0..31536000",
                    field);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool lifecycle(json_t *o, boxlet_box_opts *opts, http_resp *rs)
{
    json_t *resume = json_object_get(o, "auto_resume"), *tty = json_object_get(o, "tty");
    if ((resume && !json_is_boolean(resume) && !json_is_null(resume)) ||
        (tty && !json_is_boolean(tty) && !json_is_null(tty))) {
        reply_error(rs, 400, ERR_INVAL, "fields \"auto_resume\" and \"tty\" must be booleans");
        return false;
    }
    opts->no_auto_resume = json_is_false(resume);
    opts->tty = json_is_true(tty);
    return seconds(o, "auto_stop", BOX_REST_AUTO_STOP, &opts->auto_stop, rs) &&
           seconds(o, "auto_delete", 0, &opts->auto_delete, rs);
}

static bool capabilities(json_t *o, boxlet_box_opts *opts, box_extra *x, http_resp *rs)
{
    static const char *const adv_keys[] = {"capabilities", NULL};
    static const char *const cap_keys[] = {"add", "drop", NULL};
    json_t *adv = json_object_get(o, "advanced");
    if (!adv || json_is_null(adv)) return true;
    if (!keys_in(adv, "advanced", adv_keys, rs)) return false;
    json_t *caps = json_object_get(adv, "capabilities");
    if (!caps || json_is_null(caps)) return true;
    return keys_in(caps, "advanced.capabilities", cap_keys, rs) &&
           strings(json_object_get(caps, "add"), "advanced.capabilities.add", &x->cap_add,
                   &opts->ncap_add, rs) &&
           strings(json_object_get(caps, "drop"), "advanced.capabilities.drop", &x->cap_drop,
                   &opts->ncap_drop, rs);
}

/* BoxLite's placeholder when none is given: what its SDKs send. */
static bool default_placeholder(const char *name, const char *p)
{
    char want[300];
    snprintf(want, sizeof want, "<BOXLITE_SECRET:%s>", name);
    return strcmp(p, want) == 0;
}

/* One secret: name and value, injected as an environment variable. Its
 * hosts and a placeholder of its own ask for substitution in outbound
 * HTTPS, which boxlet does not do: 501 naming the field. */
static bool secret(json_t *v, size_t i, boxlet_secret *out, http_resp *rs)
{
    static const char *const keys[] = {"name", "value", "hosts", "placeholder", NULL};
    char where[32];
    snprintf(where, sizeof where, "secrets[%zu]", i);
    if (!keys_in(v, where, keys, rs)) return false;
    json_t *name = json_object_get(v, "name"), *value = json_object_get(v, "value");
    json_t *hosts = json_object_get(v, "hosts"), *ph = json_object_get(v, "placeholder");
    if (!json_is_string(name) || !json_is_string(value) ||
        strlen(json_string_value(value)) != json_string_length(value)) {
        reply_error(rs, 400, ERR_INVAL, "%s: \"name\" and \"value\" must be strings", where);
        return false;
    }
    if ((hosts && !json_is_null(hosts) && !(json_is_array(hosts) && !json_array_size(hosts))) ||
        (ph && !json_is_null(ph) &&
         !(json_is_string(ph) &&
           default_placeholder(json_string_value(name), json_string_value(ph))))) {
        reply_error(rs, 501, ERR_UNSUPPORTED,
                    "%s.%s: boxlet does not substitute secrets into outbound HTTP requests; a "
                    "secret reaches the box as the environment variable of its name only",
                    where, hosts && json_array_size(hosts) ? "hosts" : "placeholder");
        return false;
    }
    *out = (boxlet_secret){json_string_value(name), json_string_value(value)};
    return true;
}

static bool secrets(json_t *o, boxlet_box_opts *opts, box_extra *x, http_resp *rs)
{
    json_t *a = json_object_get(o, "secrets"), *v;
    if (!a || json_is_null(a)) return true;
    if (!json_is_array(a) || json_array_size(a) > 64) {
        reply_error(rs, 400, ERR_INVAL, "field \"secrets\" must be an array of at most 64");
        return false;
    }
    x->secrets = xcalloc(json_array_size(a) + 1, sizeof *x->secrets);
    size_t i;
    json_array_foreach(a, i, v)
    {
        if (!secret(v, i, &x->secrets[i], rs)) return false;
    }
    opts->secrets = x->secrets;
    opts->nsecrets = json_array_size(a);
    return true;
}

/* rootfs_path: a path on the server's machine, under the policy of REST
 * imports (beneath --import-dir, or refused), imported once as image
 * "rootfs-<digest of the path>" and the box made from it. */
static bool rootfs(server_t *s, json_t *o, boxlet_box_opts *opts, box_extra *x, http_resp *rs)
{
    json_t *p = json_object_get(o, "rootfs_path");
    if (!p || json_is_null(p)) return true;
    if (!json_is_string(p) || json_object_get(o, "image")) {
        reply_error(rs, 400, ERR_INVAL,
                    "field \"rootfs_path\" must be a string, and excludes \"image\"");
        return false;
    }
    char via[PATH_MAX + 300], hex[SHA256_HEX_LEN + 1];
    int fd = rest_open_import_source(s, json_string_value(p), via, sizeof via, rs);
    if (fd < 0) return false;
    sha256_hex(json_string_value(p), json_string_length(p), hex);
    snprintf(x->image, sizeof x->image, "rootfs-%.16s", hex);
    boxlet_image_info info;
    int rc = boxlet_image_get(s->rt, x->image, &info);
    if (rc == BOXLET_ENOTFOUND) rc = boxlet_image_import(s->rt, via, x->image);
    close(fd);
    if (rc != BOXLET_OK) {
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
        return false;
    }
    opts->image = x->image;
    return true;
}

bool box_extra_parse(server_t *s, json_t *o, boxlet_box_opts *opts, box_extra *x, http_resp *rs)
{
    memset(x, 0, sizeof *x);
    if (!strings(json_object_get(o, "entrypoint"), "entrypoint", &x->entrypoint, &opts->nentrypoint,
                 rs) ||
        !strings(json_object_get(o, "cmd"), "cmd", &x->cmd, &opts->ncmd, rs) ||
        !lifecycle(o, opts, rs) || !capabilities(o, opts, x, rs) || !secrets(o, opts, x, rs) ||
        !rootfs(s, o, opts, x, rs))
        return false;
    opts->entrypoint = x->entrypoint;
    opts->cmd = x->cmd;
    opts->cap_add = x->cap_add;
    opts->cap_drop = x->cap_drop;
    return true;
}

void box_extra_free(box_extra *x)
{
    free(x->entrypoint);
    free(x->cmd);
    free(x->cap_add);
    free(x->cap_drop);
    free(x->secrets);
}

void box_extra_json(json_t *v, json_t *cfg)
{
    json_t *resume = json_object_get(cfg, "auto_resume");
    json_object_set_new(v, "auto_stop",
                        json_integer(json_integer_value(json_object_get(cfg, "auto_stop"))));
    json_object_set_new(v, "auto_delete",
                        json_integer(json_integer_value(json_object_get(cfg, "auto_delete"))));
    json_object_set_new(v, "auto_resume", json_boolean(!json_is_false(resume)));
    json_t *main = json_object_get(cfg, "main");
    json_object_set_new(v, "main", main ? json_incref(main) : json_null());
    json_object_set_new(v, "tty", json_boolean(json_is_true(json_object_get(cfg, "main_tty"))));
    json_t *add = json_object_get(cfg, "cap_add"), *drop = json_object_get(cfg, "cap_drop");
    json_object_set_new(v, "capabilities",
                        json_pack("{s:o, s:o}", "add", add ? json_incref(add) : json_array(),
                                  "drop", drop ? json_incref(drop) : json_array()));
    json_t *names = json_object_get(cfg, "secrets");
    json_object_set_new(v, "secret_names", names ? json_incref(names) : json_array());
}
