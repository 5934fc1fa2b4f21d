/* export — a box as a portable archive, and a box made from one
 * (runtime.h, docs/state.md "Export and import"). Not for the wire (the
 * server streams these bytes, the SDK writes them to a descriptor).
 *
 * A box archive is a sequence of tar archives (ustar, each ended by its two
 * zero blocks): first one holding box.json, the manifest (format, the
 * box's image reference and options without its host-specific and
 * security settings, the number of layers), then one archive per frozen
 * layer of the box, bottom first, each the content of the layer's upper
 * directory with owners relative to the box's root (tarfs uid_shift) and
 * overlay whiteouts and opaque marks kept. Every part streams: nothing is
 * held whole.
 *
 * An archive is untrusted. Its manifest is capped, parsed strictly and
 * only the options a box may choose are taken (limits are validated as at
 * create); an image that is a path on this machine is refused. Each layer
 * is extracted by tarfs into a fresh disk image of the box's quota,
 * mounted nosuid and nodev on the host inside the root-only home: no entry
 * leaves its layer, device nodes other than whiteouts are refused, setuid
 * and setgid bits are dropped, owners are mapped into the box's range, and
 * what does not fit the quota fails with -ERR_LIMIT. The layers are
 * recorded (not ready) before they are made and become the new box's in
 * the transaction that records the box, so a crash at any point leaves
 * layers that reconcile drops (rt_state_reconcile) and no box. */
#include "runtime/runtime.h"

#include "core/fsutil.h"
#include "core/id.h"
#include "core/strv.h"
#include "core/tarfs.h"
#include "core/util.h"
#include "runtime/disk.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "boxlet-box/1"
#define MANIFEST "box.json"
#define MANIFEST_MAX (256u << 10)
#define ENV_MAX 4096

/* ---- export ------------------------------------------------------------------ */

static json_t *strings(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The manifest of box r: what a box may choose of its options, nothing of
 * the host's (volumes, ports, host ports, its image's path on this
 * machine) nor of its security. */
static char *manifest_text(const box_rec *r, const box_config *c, size_t nlayers)
{
    json_t *cfg = json_pack(
        "{s:o, s:o, s:f, s:I, s:I, s:I, s:b, s:o}", "env", strings(c->env, c->nenv), "labels",
        strings(c->labels, c->nlabels), "cpus", c->cpus, "memory_mib", (json_int_t)c->memory_mib,
        "pids_max", (json_int_t)c->pids_max, "disk_size_gb", (json_int_t)c->disk_size_gb, "network",
        c->network, "user", c->user ? json_string(c->user) : json_null());
    if (cfg && c->working_dir) json_object_set_new(cfg, "working_dir", json_string(c->working_dir));
    json_t *m = cfg ? json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "format", FORMAT, "name", r->name,
                                "image", r->image, "layers", (json_int_t)nlayers, "exported_at",
                                (json_int_t)wall_ms(), "config", cfg)
                    : NULL;
    char *text = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    return text;
}

static int write_manifest(tar_write_fn write, void *ctx, const char *text, err_t *e)
{
    tar_writer w;
    tar_writer_init(&w, write, ctx);
    tar_entry ent = {.path = MANIFEST,
                     .link = "",
                     .type = TAR_FILE,
                     .mode = 0644,
                     .size = strlen(text),
                     .mtime = wall_ms() / 1000};
    int rc = tar_writer_header(&w, &ent, e);
    if (rc == 0) rc = tar_writer_data(&w, text, strlen(text), e);
    if (rc == 0) rc = tar_writer_finish(&w, e);
    return rc;
}

static int pack_layer(rt_t *rt, const layer_ref *L, tar_write_fn write, void *ctx, err_t *e)
{
    char upper[RT_HOME_MAX + 64];
    int rc = rt_layer_mount(rt, L->id, upper, sizeof upper, e);
    tarfs_opts o = {.overlay = true, .uid_shift = L->uid_base};
    tar_writer w;
    tar_writer_init(&w, write, ctx);
    if (rc == 0) rc = tarfs_pack(-1, upper, &o, &w, e);
    return rc;
}

/* The manifest and the layers of r (its lock held, its writable layer
 * frozen). */
static int export_stack(rt_t *rt, const box_rec *r, tar_write_fn write, void *ctx, err_t *e)
{
    char user[BOX_ID_LEN + 8];
    layer_ref v[BOX_LAYERS_MAX];
    size_t n = 0;
    box_config c;
    snprintf(user, sizeof user, "box:%s", r->id);
    int rc = store_layers_of(rt->store, user, v, BOX_LAYERS_MAX, &n, e);
    if (rc < 0 || (rc = box_config_from_json(r->config, &c, e)) < 0) return rc;
    char *text = manifest_text(r, &c, n);
    box_config_free(&c);
    rc = text ? write_manifest(write, ctx, text, e) : err_make(e, ERR_NOMEM, "out of memory");
    free(text);
    for (size_t i = n; rc == 0 && i-- > 0;) /* bottom first */
        rc = pack_layer(rt, &v[i], write, ctx, e);
    return rc;
}

int rt_box_export(rt_t *rt, box_rec *r, tar_write_fn write, void *ctx, err_t *e)
{
    int fd = rt_lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    int rc = rt_refresh(rt, r, e);
    if (rc == 0) rc = rt_freeze_box(rt, r, "export", e);
    if (rc == 0) rt_crash_point("export-frozen");
    if (rc == 0) rc = export_stack(rt, r, write, ctx, e);
    rt_unlock_box(fd);
    if (rc < 0) err_wrap(e, "export box \"%s\"", r->name);
    return rc;
}

/* ---- import: the manifest --------------------------------------------------------- */

/* The manifest archive's one entry, box.json, parsed (*out: an object). */
static int read_manifest(tar_read_fn read, void *ctx, json_t **out, err_t *e)
{
    tar_reader r;
    tar_entry ent;
    tar_reader_init(&r, read, ctx);
    char *buf = NULL;
    size_t got = 0;
    int rc = tar_reader_next(&r, &ent, e);
    if (rc == 0) rc = err_make(e, ERR_INVAL, "not a box archive: it is empty");
    if (rc > 0 && (ent.type != TAR_FILE || strcmp(ent.path, MANIFEST) != 0))
        rc = err_make(e, ERR_INVAL, "not a box archive: it does not start with " MANIFEST);
    if (rc > 0 && ent.size > MANIFEST_MAX)
        rc = err_make(e, ERR_INVAL, MANIFEST " of %llu bytes: over the cap of %u",
                      (unsigned long long)ent.size, MANIFEST_MAX);
    if (rc > 0 && !(buf = malloc(ent.size + 1))) rc = err_make(e, ERR_NOMEM, "out of memory");
    while (rc > 0 && got < ent.size) {
        int n = tar_reader_data(&r, buf + got, ent.size - got, e);
        if (n == 0) n = err_make(e, ERR_INVAL, MANIFEST ": the archive ends inside it");
        rc = n < 0 ? n : rc;
        got += n > 0 ? (size_t)n : 0;
    }
    if (rc > 0 && (rc = tar_reader_next(&r, &ent, e)) > 0)
        rc = err_make(e, ERR_INVAL, "not a box archive: \"%s\" beside " MANIFEST, ent.path);
    tar_reader_free(&r);
    json_error_t je;
    if (rc == 0 && !(*out = json_loadb(buf, got, JSON_REJECT_DUPLICATES, &je)))
        rc = err_make(e, ERR_INVAL, MANIFEST ": line %d: %s", je.line, je.text);
    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        rc = err_make(e, ERR_INVAL, MANIFEST ": not a JSON object");
    }
    free(buf);
    return rc;
}

/* An image an archive may name: a registry reference or a stored image's
 * name, never a path on this machine. */
static bool image_ok(const char *s)
{
    return s && *s && strlen(s) < 512 && s[0] != '/' && s[0] != '.' && s[0] != '~' &&
           strncmp(s, "oci:", 4) != 0 && !strstr(s, "..") && !strpbrk(s, "\n\r\\") &&
           !(strchr(s, '/') && access(s, F_OK) == 0); /* a relative path that exists */
}

static int take_strings(json_t *cfg, const char *key, char ***v, size_t *n, err_t *e)
{
    json_t *a = json_object_get(cfg, key), *x;
    size_t i;
    if (!a) return 0;
    if (!json_is_array(a) || json_array_size(a) > ENV_MAX)
        return err_make(e, ERR_INVAL, MANIFEST ": config.%s must be an array of at most %d", key,
                        ENV_MAX);
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || !strchr(s, '=') || strlen(s) > 32768)
            return err_make(e, ERR_INVAL, MANIFEST ": config.%s[%zu] must be a KEY=VALUE string",
                            key, i);
        if (strv_push(v, n, s) < 0) return err_make(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int take_string(json_t *cfg, const char *key, char **out, err_t *e)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || json_string_length(v) > 4096)
        return err_make(e, ERR_INVAL, MANIFEST ": config.%s must be a string", key);
    *out = strdup(json_string_value(v));
    return *out ? 0 : err_make(e, ERR_NOMEM, "out of memory");
}

static int take_uint(json_t *cfg, const char *key, uint64_t max, uint64_t *out, err_t *e)
{
    json_t *v = json_object_get(cfg, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return err_make(e, ERR_INVAL, MANIFEST ": config.%s must be an integer 0..%llu", key,
                        (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The options of the box to make, from the manifest's config: only what a
 * box may choose; the rest of the record is this machine's defaults. */
static int config_from(json_t *m, box_config *c, err_t *e)
{
    json_t *cfg = json_object_get(m, "config");
    memset(c, 0, sizeof *c);
    if (!json_is_object(cfg)) return err_make(e, ERR_INVAL, MANIFEST ": no config object");
    uint64_t mem = 0, pids = 0, disk = 0;
    json_t *cpus = json_object_get(cfg, "cpus"), *net = json_object_get(cfg, "network");
    int rc = take_strings(cfg, "env", &c->env, &c->nenv, e);
    if (rc == 0) rc = take_strings(cfg, "labels", &c->labels, &c->nlabels, e);
    if (rc == 0) rc = take_string(cfg, "working_dir", &c->working_dir, e);
    if (rc == 0) rc = take_string(cfg, "user", &c->user, e);
    if (rc == 0) rc = take_uint(cfg, "memory_mib", 1ull << 30, &mem, e);
    if (rc == 0) rc = take_uint(cfg, "pids_max", 4194304, &pids, e);
    if (rc == 0) rc = take_uint(cfg, "disk_size_gb", BOX_DISK_GB_MAX, &disk, e);
    if (rc == 0 && ((cpus && !json_is_number(cpus)) || (net && !json_is_boolean(net))))
        rc = err_make(e, ERR_INVAL, MANIFEST ": config.cpus must be a number, network a boolean");
    c->cpus = json_number_value(cpus);
    c->memory_mib = mem;
    c->pids_max = (uint32_t)pids;
    c->disk_size_gb = (uint32_t)(disk ? disk : BOX_DEFAULT_DISK_GB);
    c->network = json_is_true(net);
    if (rc == 0) rc = box_config_validate(c, e);
    return rc;
}

static int manifest_of(json_t *m, const char **image, size_t *nlayers, err_t *e)
{
    const char *format = json_string_value(json_object_get(m, "format"));
    json_t *n = json_object_get(m, "layers");
    *image = json_string_value(json_object_get(m, "image"));
    if (!format || strcmp(format, FORMAT) != 0)
        return err_make(e, ERR_INVAL,
                        "not a box archive of this version (format \"%s\", not " FORMAT ")",
                        format ? format : "");
    if (!image_ok(*image))
        return err_make(e, ERR_INVAL,
                        MANIFEST ": image \"%.100s\" refused: an archive names a registry "
                                 "reference or a stored image, never a path on this machine",
                        *image ? *image : "");
    if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > BOX_LAYERS_MAX)
        return err_make(e, ERR_INVAL, MANIFEST ": layers must be 0..%d", BOX_LAYERS_MAX);
    *nlayers = (size_t)json_integer_value(n);
    return 0;
}

/* ---- import: the layers ----------------------------------------------------------- */

typedef struct importer {
    rt_t *rt;
    tar_read_fn read;
    void *ctx;
    uint64_t quota;
    char origin[BOX_ID_LEN + 1];
    char made[BOX_LAYERS_MAX][BOX_ID_LEN + 1];
    size_t nmade;
    uint64_t bytes; /* read so far */
} importer;

/* Archive bytes beyond the box's quota allowed for headers and padding. */
#define QUOTA_SLACK (64ull << 20)

/* The input, counted: a layer that reads nothing is missing, and the
 * layers together hold at most the box's quota (each layer's image has
 * the whole quota: without this, 32 layers could take 32 times it). */
static int counted_read(void *ctx, void *buf, size_t n, err_t *e)
{
    importer *im = ctx;
    int got = im->read(im->ctx, buf, n, e);
    if (got > 0) im->bytes += (uint64_t)got;
    if (got > 0 && im->bytes > im->quota + QUOTA_SLACK)
        return err_make(e, ERR_LIMIT, "the archive holds more than the box's disk quota (%llu GiB)",
                        (unsigned long long)(im->quota >> 30));
    return got;
}

/* One layer archive into a new layer (recorded, not ready): a fresh image
 * of the box's quota, mounted read-write while tarfs fills its upper. */
static int fill_layer(importer *im, const char *dir, err_t *e)
{
    char img[RT_HOME_MAX + 96], mnt[RT_HOME_MAX + 96], upper[RT_HOME_MAX + 96],
        tpl[RT_HOME_MAX + 64];
    snprintf(img, sizeof img, "%s/disk.img", dir);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    snprintf(upper, sizeof upper, "%s/mnt/upper", dir);
    snprintf(tpl, sizeof tpl, "%s/disk-templates", im->rt->home);
    int rc = disk_image_create(img, im->quota, tpl, e);
    if (rc == 0 && mkdir(mnt, 0700) < 0) rc = err_sys(e, errno, "create directory \"%s\"", mnt);
    if (rc == 0) rc = disk_mount_volume(img, mnt, e);
    if (rc < 0) return rc;
    if (mkdir(upper, 0755) < 0) rc = err_sys(e, errno, "create directory \"%s\"", upper);
    tarfs_opts o = {.overwrite = true, .keep_owners = true, .overlay = true};
    tarfs_put *p = NULL;
    tar_reader r;
    tar_reader_init(&r, counted_read, im);
    uint64_t before = im->bytes;
    if (rc == 0) rc = tarfs_put_begin(-1, upper, &o, &p, e);
    if (rc == 0 && (rc = tarfs_put_data(p, &r, e)) == 0 && im->bytes == before)
        rc = err_make(e, ERR_INVAL, "the archive ends before this layer");
    if (rc == 0) {
        rc = tarfs_put_end(p, e);
        p = NULL;
    }
    tarfs_put_abort(p);
    tar_reader_free(&r);
    umount2(mnt, MNT_DETACH);
    if (rc == 0) rc = disk_wait_released(img, DISK_RELEASE_TIMEOUT_MS, e);
    return rc;
}

static int import_layer(importer *im, size_t i, err_t *e)
{
    layer_ref L = {.uid_base = 0}; /* owners 0..65535, idmapped onto the box's range */
    snprintf(L.origin, sizeof L.origin, "%s", im->origin);
    if (ulid_new(L.id) < 0) return err_sys(e, errno, "make a layer id");
    int rc = store_layer_begin(im->rt->store, &L, wall_ms(), e);
    if (rc < 0) return rc;
    snprintf(im->made[im->nmade++], BOX_ID_LEN + 1, "%s", L.id);
    char dir[RT_HOME_MAX + 64];
    snprintf(dir, sizeof dir, "%s/frozen/%s", im->rt->home, L.id);
    if (mkdir(dir, 0700) < 0) return err_sys(e, errno, "create layer directory \"%s\"", dir);
    if ((rc = fill_layer(im, dir, e)) < 0) err_wrap(e, "layer %zu", i + 1);
    rt_crash_point("import-layer-made");
    return rc;
}

/* The input must end with the last layer the manifest announced. */
static int expect_end(importer *im, err_t *e)
{
    char c;
    int n = im->read(im->ctx, &c, 1, e);
    if (n > 0) return err_make(e, ERR_INVAL, "the archive holds more than the layers it announces");
    return n;
}

int rt_box_import(rt_t *rt, tar_read_fn read, void *ctx, const char *name, box_rec *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    if (name && *name && !rt_name_ok(name))
        return err_make(e, ERR_INVAL, "box name \"%s\": use 1-63 letters, digits, '-', '_' or '.'",
                        name);
    importer *im = calloc(1, sizeof *im);
    if (!im) return err_make(e, ERR_NOMEM, "out of memory");
    *im = (importer){.rt = rt, .read = read, .ctx = ctx};
    json_t *m = NULL;
    box_config c = {0};
    const char *image = NULL;
    size_t n = 0;
    int lock = -1, rc = read_manifest(read, ctx, &m, e);
    if (rc == 0) rc = manifest_of(m, &image, &n, e);
    if (rc == 0) rc = config_from(m, &c, e);
    im->quota = (uint64_t)c.disk_size_gb << 30;
    /* the layers' origin: no box; its lock keeps reconcile off them meanwhile */
    if (rc == 0 && ulid_new(im->origin) < 0) rc = err_sys(e, errno, "make an id");
    if (rc == 0 && (lock = rt_lock_box(rt, im->origin, e)) < 0) rc = lock;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = import_layer(im, i, e);
    if (rc == 0) rc = expect_end(im, e);
    if (rc == 0)
        rc = rt_create_on(rt, name, image, &c, (const char(*)[BOX_ID_LEN + 1]) im->made, im->nmade,
                          out, e);
    for (size_t i = 0; rc < 0 && i < im->nmade; i++)
        rt_layer_drop(rt, im->made[i]);
    if (lock >= 0) {
        char lp[RT_HOME_MAX + 64];
        snprintf(lp, sizeof lp, "%s/locks/%s", rt->home, im->origin);
        unlink(lp); /* no box will ever have that id */
        rt_unlock_box(lock);
    }
    box_config_free(&c);
    json_decref(m);
    free(im);
    if (rc < 0) err_wrap(e, "import box");
    return rc;
}
