/* tar — the streaming tar codec (see tar.h). The reader turns header blocks
 * (plus any pax or GNU long-name records before them) into one tar_entry;
 * the writer does the reverse. Numbers are parsed with explicit bounds, never
 * with strtoul on unterminated fields, and every record length is checked
 * against the bytes actually present. */
#include "core/tar.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ustar header, as it sits in a block. */
typedef struct hdr {
    char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8];
    char typeflag, linkname[100], magic[6], version[2], uname[32], gname[32];
    char devmajor[8], devminor[8], prefix[155], pad[12];
} hdr;

_Static_assert(sizeof(hdr) == TAR_BLOCK, "a tar header is one block");

#define OCTAL_MAX(width) ((1ull << (3 * ((width)-1))) - 1) /* width-1 digits + NUL */

/* ---- reading ----------------------------------------------------------- */

void tar_reader_init(tar_reader *r, tar_read_fn read, void *ctx)
{
    *r = (tar_reader){.read = read, .ctx = ctx};
}

void tar_reader_free(tar_reader *r)
{
    free(r->path);
    free(r->link);
    r->path = r->link = NULL;
}

/* Reads exactly n bytes; *got tells how many came before the end of input. */
static int read_full(tar_reader *r, void *buf, size_t n, size_t *got, err_t *e)
{
    size_t done = 0;
    while (done < n) {
        int k = r->read(r->ctx, (char *)buf + done, n - done, e);
        if (k < 0) return k;
        if (k == 0) break;
        done += (size_t)k;
    }
    *got = done;
    return 0;
}

static int read_exact(tar_reader *r, void *buf, size_t n, err_t *e)
{
    size_t got;
    int rc = read_full(r, buf, n, &got, e);
    if (rc < 0) return rc;
    if (got < n) return err_make(e, ERR_INVAL, "tar: the archive ends inside an entry");
    return 0;
}

/* A numeric field: octal (leading spaces, trailing NUL/space) or base-256. */
static int parse_num(const char *f, size_t w, uint64_t max, uint64_t *out, const char *what,
                     err_t *e)
{
    const unsigned char *p = (const unsigned char *)f;
    uint64_t v = 0;
    if (p[0] & 0x80) {
        if (p[0] != 0x80) return err_make(e, ERR_INVAL, "tar: %s: negative base-256 number", what);
        for (size_t i = 1; i < w; i++) {
            if (v >> 56) return err_make(e, ERR_INVAL, "tar: %s: number out of range", what);
            v = v << 8 | p[i];
        }
    } else {
        size_t i = 0;
        while (i < w && p[i] == ' ')
            i++;
        for (; i < w && p[i] >= '0' && p[i] <= '7'; i++)
            v = v << 3 | (uint64_t)(p[i] - '0'); /* ≤ 12 digits: no overflow */
        for (; i < w; i++)
            if (p[i] != 0 && p[i] != ' ')
                return err_make(e, ERR_INVAL, "tar: %s: not an octal number", what);
    }
    if (v > max) return err_make(e, ERR_INVAL, "tar: %s: number out of range", what);
    *out = v;
    return 0;
}

static bool all_zero(const uint8_t *b)
{
    for (size_t i = 0; i < TAR_BLOCK; i++)
        if (b[i]) return false;
    return true;
}

static int check_sum(const uint8_t *b, err_t *e)
{
    const hdr *h = (const hdr *)b;
    uint64_t want;
    if (parse_num(h->chksum, sizeof h->chksum, UINT32_MAX, &want, "checksum", e) < 0)
        return -e->code;
    uint32_t u = 0;
    int32_t s = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        bool in_sum = i >= offsetof(hdr, chksum) && i < offsetof(hdr, chksum) + 8;
        u += in_sum ? ' ' : b[i];
        s += in_sum ? ' ' : (signed char)b[i];
    }
    if (want != u && (int64_t)want != s)
        return err_make(e, ERR_INVAL,
                        "tar: header checksum mismatch: not a tar archive, or damaged");
    return 0;
}

/* A bounded copy of a header string field (not always NUL-terminated). */
static void field_str(char *dst, const char *f, size_t w)
{
    size_t n = strnlen(f, w);
    memcpy(dst, f, n);
    dst[n] = '\0';
}

/* Reads a record body (pax or GNU long name) of size bytes, padded. */
static int read_record(tar_reader *r, uint64_t size, char **out, err_t *e)
{
    if (size > TAR_MAX_PAX)
        return err_make(e, ERR_TOOBIG, "tar: an extended header of %llu bytes exceeds %u",
                        (unsigned long long)size, TAR_MAX_PAX);
    size_t padded = (size_t)((size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK);
    char *buf = malloc(padded + 1);
    if (!buf) return err_make(e, ERR_NOMEM, "tar: out of memory");
    int rc = read_exact(r, buf, padded, e);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *out = buf;
    return 0;
}

/* What pax records and GNU long names say about the entry that follows. */
typedef struct ext {
    char *path, *link;
    bool has_size, has_mtime, has_uid, has_gid;
    uint64_t size, uid, gid;
    int64_t mtime;
    char uname[33], gname[33];
} ext;

static void ext_free(ext *x)
{
    free(x->path);
    free(x->link);
}

static int set_str(char **dst, const char *v, size_t n, const char *what, err_t *e)
{
    if (n > TAR_MAX_PATH || memchr(v, 0, n))
        return err_make(e, n > TAR_MAX_PATH ? ERR_TOOBIG : ERR_INVAL,
                        "tar: %s: too long or has NUL", what);
    char *s = strndup(v, n);
    if (!s) return err_make(e, ERR_NOMEM, "tar: out of memory");
    free(*dst);
    *dst = s;
    return 0;
}

static int pax_num(const char *v, size_t n, uint64_t max, uint64_t *out, const char *key, err_t *e)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
        if (x > (UINT64_MAX - 9) / 10) break;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    /* mtime may carry a fraction: seconds are what we keep */
    if (i == 0 || (i < n && v[i] != '.') || x > max)
        return err_make(e, ERR_INVAL, "tar: pax %s: bad number", key);
    *out = x;
    return 0;
}

static int pax_one(ext *x, const char *k, size_t kn, const char *v, size_t vn, err_t *e)
{
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)
    if (KEY("path")) return set_str(&x->path, v, vn, "pax path", e);
    if (KEY("linkpath")) return set_str(&x->link, v, vn, "pax linkpath", e);
    if (KEY("size")) return x->has_size = true, pax_num(v, vn, INT64_MAX, &x->size, "size", e);
    if (KEY("uid")) return x->has_uid = true, pax_num(v, vn, UINT32_MAX, &x->uid, "uid", e);
    if (KEY("gid")) return x->has_gid = true, pax_num(v, vn, UINT32_MAX, &x->gid, "gid", e);
    if (KEY("mtime")) {
        uint64_t t;
        if (vn && v[0] == '-') return err_make(e, ERR_INVAL, "tar: pax mtime: before 1970");
        if (pax_num(v, vn, INT64_MAX, &t, "mtime", e) < 0) return -e->code;
        x->has_mtime = true;
        x->mtime = (int64_t)t;
        return 0;
    }
    if (KEY("uname") || KEY("gname")) {
        char *dst = KEY("uname") ? x->uname : x->gname;
        size_t n = vn < 32 ? vn : 32;
        memcpy(dst, v, n);
        dst[n] = '\0';
    }
    return 0; /* other keys (atime, ctime, xattrs, comments) are ignored */
#undef KEY
}

/* Parses "LEN KEY=VALUE\n" records. */
static int pax_parse(ext *x, const char *rec, size_t size, err_t *e)
{
    size_t pos = 0;
    while (pos < size) {
        size_t len = 0, i = pos;
        while (i < size && rec[i] >= '0' && rec[i] <= '9' && len < TAR_MAX_PAX)
            len = len * 10 + (size_t)(rec[i++] - '0');
        if (i == pos || i >= size || rec[i] != ' ' || len <= i - pos + 1 || len > size - pos ||
            rec[pos + len - 1] != '\n')
            return err_make(e, ERR_INVAL, "tar: malformed pax record at byte %zu", pos);
        const char *k = rec + i + 1, *end = rec + pos + len - 1;
        const char *eq = memchr(k, '=', (size_t)(end - k));
        if (!eq) return err_make(e, ERR_INVAL, "tar: pax record without '='");
        int rc = pax_one(x, k, (size_t)(eq - k), eq + 1, (size_t)(end - eq - 1), e);
        if (rc < 0) return rc;
        pos += len;
    }
    return 0;
}

static enum tar_type type_of(char t)
{
    switch (t) {
    case '0':
    case '\0':
    case '7':
        return TAR_FILE;
    case '1':
        return TAR_HARDLINK;
    case '2':
        return TAR_SYMLINK;
    case '3':
        return TAR_CHAR;
    case '4':
        return TAR_BLOCKDEV;
    case '5':
        return TAR_DIR;
    case '6':
        return TAR_FIFO;
    default:
        return TAR_OTHER;
    }
}

static int header_nums(const hdr *h, tar_entry *ent, uint64_t *size, err_t *e)
{
    uint64_t mode, uid, gid, mtime, maj = 0, min = 0;
    if (parse_num(h->mode, 8, UINT32_MAX, &mode, "mode", e) < 0 ||
        parse_num(h->uid, 8, UINT32_MAX, &uid, "uid", e) < 0 ||
        parse_num(h->gid, 8, UINT32_MAX, &gid, "gid", e) < 0 ||
        parse_num(h->size, 12, INT64_MAX, size, "size", e) < 0 ||
        parse_num(h->mtime, 12, INT64_MAX, &mtime, "mtime", e) < 0)
        return -e->code;
    if (h->typeflag == '3' || h->typeflag == '4') {
        if (parse_num(h->devmajor, 8, UINT32_MAX, &maj, "devmajor", e) < 0 ||
            parse_num(h->devminor, 8, UINT32_MAX, &min, "devminor", e) < 0)
            return -e->code;
    }
    ent->mode = (uint32_t)mode & 07777;
    ent->uid = (uint32_t)uid;
    ent->gid = (uint32_t)gid;
    ent->mtime = (int64_t)mtime;
    ent->devmajor = (uint32_t)maj;
    ent->devminor = (uint32_t)min;
    return 0;
}

/* The name from the header: prefix/name for ustar, name alone otherwise. */
static int header_path(tar_reader *r, const hdr *h, err_t *e)
{
    char buf[256 + 1];
    size_t n = 0;
    bool ustar = memcmp(h->magic, "ustar", 5) == 0;
    if (ustar && h->prefix[0]) {
        size_t pn = strnlen(h->prefix, sizeof h->prefix);
        memcpy(buf, h->prefix, pn);
        buf[pn] = '/';
        n = pn + 1;
    }
    size_t nn = strnlen(h->name, sizeof h->name);
    memcpy(buf + n, h->name, nn);
    n += nn;
    return set_str(&r->path, buf, n, "name", e);
}

static int fill_entry(tar_reader *r, const hdr *h, ext *x, tar_entry *ent, err_t *e)
{
    uint64_t size;
    *ent = (tar_entry){.type = type_of(h->typeflag)};
    if (header_nums(h, ent, &size, e) < 0) return -e->code;
    if (x->path) {
        free(r->path);
        r->path = x->path;
        x->path = NULL;
    } else if (header_path(r, h, e) < 0) {
        return -e->code;
    }
    char lbuf[101];
    field_str(lbuf, h->linkname, sizeof h->linkname);
    if (x->link) {
        free(r->link);
        r->link = x->link;
        x->link = NULL;
    } else if (set_str(&r->link, lbuf, strlen(lbuf), "linkname", e) < 0) {
        return -e->code;
    }
    if (x->has_size) size = x->size;
    if (x->has_uid) ent->uid = (uint32_t)x->uid;
    if (x->has_gid) ent->gid = (uint32_t)x->gid;
    if (x->has_mtime) ent->mtime = x->mtime;
    field_str(ent->uname, h->uname, sizeof h->uname);
    field_str(ent->gname, h->gname, sizeof h->gname);
    if (x->uname[0]) memcpy(ent->uname, x->uname, sizeof ent->uname);
    if (x->gname[0]) memcpy(ent->gname, x->gname, sizeof ent->gname);
    if (!r->path[0]) return err_make(e, ERR_INVAL, "tar: an entry has an empty name");
    /* Only regular files (and unknown types, to be skipped) carry data. */
    if (ent->type != TAR_FILE && ent->type != TAR_OTHER) size = 0;
    ent->size = ent->type == TAR_FILE ? size : 0;
    ent->path = r->path;
    ent->link = r->link;
    r->left = size;
    r->pad = (uint32_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
    return 0;
}

static int skip_data(tar_reader *r, err_t *e)
{
    uint8_t tmp[4096];
    while (r->left) {
        int k = tar_reader_data(r, tmp, sizeof tmp, e);
        if (k < 0) return k;
    }
    if (r->pad) {
        int rc = read_exact(r, tmp, r->pad, e);
        if (rc < 0) return rc;
        r->pad = 0;
    }
    return 0;
}

/* Reads one header block: 1, 0 at the end of the archive, or an error. */
static int read_block(tar_reader *r, uint8_t *b, err_t *e)
{
    size_t got;
    int rc = read_full(r, b, TAR_BLOCK, &got, e);
    if (rc < 0) return rc;
    if (got == 0) return 0; /* end of input at a header: accepted as the end */
    if (got < TAR_BLOCK) return err_make(e, ERR_INVAL, "tar: the archive ends inside a header");
    if (!all_zero(b)) return 1;
    /* One zero block: the end, whether or not its twin follows. */
    rc = read_full(r, b, TAR_BLOCK, &got, e);
    return rc < 0 ? rc : 0;
}

static int next_entry(tar_reader *r, tar_entry *ent, ext *x, err_t *e)
{
    uint8_t b[TAR_BLOCK];
    for (int records = 0;; records++) {
        int rc = read_block(r, b, e);
        if (rc <= 0) {
            if (rc == 0 && records)
                return err_make(e, ERR_INVAL, "tar: extended header at the end");
            return rc;
        }
        if (check_sum(b, e) < 0) return -e->code;
        if (records > 16) return err_make(e, ERR_INVAL, "tar: too many extended headers in a row");
        const hdr *h = (const hdr *)b;
        uint64_t size;
        char t = h->typeflag;
        if (t != 'x' && t != 'g' && t != 'L' && t != 'K')
            return fill_entry(r, h, x, ent, e) < 0 ? -e->code : 1;
        if (parse_num(h->size, 12, INT64_MAX, &size, "size", e) < 0) return -e->code;
        char *rec = NULL;
        if ((rc = read_record(r, size, &rec, e)) < 0) return rc;
        if (t == 'x')
            rc = pax_parse(x, rec, (size_t)size, e);
        else if (t == 'L' || t == 'K')
            rc = set_str(t == 'L' ? &x->path : &x->link, rec, strnlen(rec, (size_t)size),
                         "GNU long name", e);
        free(rec);
        if (rc < 0) return rc;
    }
}

int tar_reader_next(tar_reader *r, tar_entry *ent, err_t *e)
{
    if (r->ended) return 0;
    int rc = skip_data(r, e);
    if (rc < 0) return rc;
    ext x = {0};
    rc = next_entry(r, ent, &x, e);
    ext_free(&x);
    if (rc == 0) r->ended = true;
    return rc;
}

int tar_reader_data(tar_reader *r, void *buf, size_t n, err_t *e)
{
    if (!r->left || !n) return 0;
    if (n > r->left) n = (size_t)r->left;
    int k = r->read(r->ctx, buf, n, e);
    if (k < 0) return k;
    if (k == 0) return err_make(e, ERR_INVAL, "tar: the archive ends inside an entry's data");
    r->left -= (uint64_t)k;
    if (!r->left && r->pad) {
        uint8_t pad[TAR_BLOCK];
        int rc = read_exact(r, pad, r->pad, e);
        if (rc < 0) return rc;
        r->pad = 0;
    }
    return k;
}

/* ---- writing ----------------------------------------------------------- */

void tar_writer_init(tar_writer *w, tar_write_fn write, void *ctx)
{
    *w = (tar_writer){.write = write, .ctx = ctx};
}

static bool put_octal(char *f, size_t w, uint64_t v)
{
    if (v > OCTAL_MAX(w)) return false;
    snprintf(f, w, "%0*llo", (int)w - 1, (unsigned long long)v);
    return true;
}

static void finish_sum(hdr *h)
{
    memset(h->chksum, ' ', sizeof h->chksum);
    uint32_t s = 0;
    const uint8_t *b = (const uint8_t *)h;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        s += b[i];
    snprintf(h->chksum, sizeof h->chksum, "%06o", s);
    h->chksum[7] = ' ';
}

static const char typeflags[] = {'0', '1', '2', '3', '4', '5', '6', '0'};

/* Splits path into ustar's prefix and name if it fits. */
static bool split_path(hdr *h, const char *path)
{
    size_t n = strlen(path);
    if (n <= sizeof h->name) {
        memcpy(h->name, path, n);
        return true;
    }
    for (size_t i = n - 1; i > 0; i--) {
        if (path[i] != '/') continue;
        if (i > sizeof h->prefix) continue;
        if (n - i - 1 > sizeof h->name || n - i - 1 == 0) return false;
        memcpy(h->prefix, path, i);
        memcpy(h->name, path + i + 1, n - i - 1);
        return true;
    }
    return false;
}

static int pax_add(char *out, size_t cap, size_t *len, const char *key, const char *val)
{
    size_t body = strlen(key) + strlen(val) + 3; /* ' ' '=' '\n' */
    size_t total = body + 1, digits;
    for (;;) { /* the length counts its own digits */
        digits = (size_t)snprintf(NULL, 0, "%zu", total);
        if (body + digits == total) break;
        total = body + digits;
    }
    if (*len + total > cap) return -1;
    snprintf(out + *len, cap - *len + 1, "%zu %s=%s\n", total, key, val);
    *len += total;
    return 0;
}

static int write_block(tar_writer *w, const void *b, err_t *e)
{
    return w->write(w->ctx, b, TAR_BLOCK, e);
}

static int write_pax(tar_writer *w, const char *rec, size_t len, err_t *e)
{
    hdr h = {0};
    memcpy(h.name, "././@PaxHeader", 14);
    put_octal(h.mode, 8, 0644);
    put_octal(h.uid, 8, 0);
    put_octal(h.gid, 8, 0);
    put_octal(h.size, 12, len);
    put_octal(h.mtime, 12, 0);
    h.typeflag = 'x';
    memcpy(h.magic, "ustar", 6);
    memcpy(h.version, "00", 2);
    finish_sum(&h);
    int rc = write_block(w, &h, e);
    for (size_t off = 0; rc == 0 && off < len; off += TAR_BLOCK) {
        uint8_t b[TAR_BLOCK] = {0};
        memcpy(b, rec + off, len - off < TAR_BLOCK ? len - off : TAR_BLOCK);
        rc = write_block(w, b, e);
    }
    return rc;
}

/* Fills the ustar header; returns the pax records needed (len 0: none). */
static int build_header(hdr *h, const tar_entry *ent, char *pax, size_t cap, size_t *plen)
{
    char num[32];
    int bad = 0;
    *plen = 0;
    if (!split_path(h, ent->path)) bad |= pax_add(pax, cap, plen, "path", ent->path);
    if (ent->link && strlen(ent->link) > sizeof h->linkname)
        bad |= pax_add(pax, cap, plen, "linkpath", ent->link);
    else if (ent->link)
        memcpy(h->linkname, ent->link, strlen(ent->link));
    uint64_t size = ent->type == TAR_FILE ? ent->size : 0;
    if (!put_octal(h->size, 12, size)) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)size);
        bad |= pax_add(pax, cap, plen, "size", num);
    }
    if (!put_octal(h->uid, 8, ent->uid)) {
        snprintf(num, sizeof num, "%u", ent->uid);
        bad |= pax_add(pax, cap, plen, "uid", num);
    }
    if (!put_octal(h->gid, 8, ent->gid)) {
        snprintf(num, sizeof num, "%u", ent->gid);
        bad |= pax_add(pax, cap, plen, "gid", num);
    }
    int64_t mt = ent->mtime < 0 ? 0 : ent->mtime;
    if (!put_octal(h->mtime, 12, (uint64_t)mt)) {
        snprintf(num, sizeof num, "%lld", (long long)mt);
        bad |= pax_add(pax, cap, plen, "mtime", num);
    }
    put_octal(h->mode, 8, ent->mode & 07777);
    put_octal(h->devmajor, 8, ent->devmajor & 07777777);
    put_octal(h->devminor, 8, ent->devminor & 07777777);
    h->typeflag = typeflags[ent->type];
    memcpy(h->magic, "ustar", 6);
    memcpy(h->version, "00", 2);
    memcpy(h->uname, ent->uname, strnlen(ent->uname, sizeof h->uname));
    memcpy(h->gname, ent->gname, strnlen(ent->gname, sizeof h->gname));
    return bad;
}

int tar_writer_header(tar_writer *w, const tar_entry *ent, err_t *e)
{
    if (w->left) return err_make(e, ERR_INVAL, "tar: the previous entry's data is incomplete");
    if (!ent->path || !ent->path[0] || strlen(ent->path) > TAR_MAX_PATH ||
        (ent->link && strlen(ent->link) > TAR_MAX_PATH))
        return err_make(e, ERR_INVAL, "tar: entry name empty or too long");
    hdr h = {0};
    char pax[3 * TAR_MAX_PATH];
    size_t plen;
    if (build_header(&h, ent, pax, sizeof pax - 1, &plen))
        return err_make(e, ERR_INVAL, "tar: pax header too long for \"%s\"", ent->path);
    if (plen) {
        int rc = write_pax(w, pax, plen, e);
        if (rc < 0) return rc;
    }
    finish_sum(&h);
    int rc = write_block(w, &h, e);
    if (rc < 0) return rc;
    w->left = ent->type == TAR_FILE ? ent->size : 0;
    w->pad = (uint32_t)((TAR_BLOCK - w->left % TAR_BLOCK) % TAR_BLOCK);
    return 0;
}

int tar_writer_data(tar_writer *w, const void *p, size_t n, err_t *e)
{
    if (n > w->left) return err_make(e, ERR_INVAL, "tar: more data than the entry's size");
    int rc = n ? w->write(w->ctx, p, n, e) : 0;
    if (rc < 0) return rc;
    w->left -= n;
    if (!w->left && w->pad) {
        static const uint8_t zeros[TAR_BLOCK];
        rc = w->write(w->ctx, zeros, w->pad, e);
        w->pad = 0;
    }
    return rc;
}

int tar_writer_finish(tar_writer *w, err_t *e)
{
    if (w->left) return err_make(e, ERR_INVAL, "tar: the last entry's data is incomplete");
    static const uint8_t zeros[2 * TAR_BLOCK];
    return w->write(w->ctx, zeros, sizeof zeros, e);
}
