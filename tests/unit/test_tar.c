/* test_tar — the streaming tar codec (core/tar) and the extractor/packer of
 * the files API (core/tarfs): entries of every kind survive a write/read
 * round trip (pax for long names and large ids), archives made by Python's
 * tarfile in ustar, pax and GNU formats read back, damaged input is an
 * error, and tarfs keeps every entry of a hostile archive ("..", absolute
 * names, symlinks and hard links pointing out) inside the destination. */
#include <setjmp.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/tar.h"
#include "core/tarfs.h"

typedef struct mem {
    const uint8_t *p;
    size_t n, off;
} mem;

static int mem_read(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)e;
    mem *m = ctx;
    size_t k = m->n - m->off < n ? m->n - m->off : n;
    if (k > 700) k = 700; /* short reads, as a socket gives */
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (int)k;
}

static int buf_write(void *ctx, const void *p, size_t n, err_t *e)
{
    (void)e;
    return buf_append(ctx, p, n);
}

static void write_sample(buf_t *out, const char *longname)
{
    tar_writer w;
    err_t e;
    tar_writer_init(&w, buf_write, out);
    static uint8_t data[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    tar_entry d = {.path = "dir", .link = "", .type = TAR_DIR, .mode = 0750, .mtime = 1000};
    tar_entry f = {.path = "dir/f",
                   .link = "",
                   .type = TAR_FILE,
                   .mode = 04755,
                   .size = sizeof data,
                   .mtime = 1234567890,
                   .uid = 3000000,
                   .gid = 7};
    tar_entry l = {.path = (char *)longname, .link = "dir/f", .type = TAR_HARDLINK, .mode = 0644};
    tar_entry s = {.path = "sym", .link = "dir/f", .type = TAR_SYMLINK, .mode = 0777};
    assert_int_equal(tar_writer_header(&w, &d, &e), 0);
    assert_int_equal(tar_writer_header(&w, &f, &e), 0);
    assert_int_equal(tar_writer_data(&w, data, 1000, &e), 0);
    assert_int_equal(tar_writer_data(&w, data + 1000, sizeof data - 1000, &e), 0);
    assert_int_equal(tar_writer_header(&w, &l, &e), 0);
    assert_int_equal(tar_writer_header(&w, &s, &e), 0);
    assert_int_equal(tar_writer_finish(&w, &e), 0);
    assert_int_equal(out->len % TAR_BLOCK, 0);
}

static void roundtrip(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    buf_t b;
    buf_init(&b, 0);
    write_sample(&b, longname);
    mem m = {buf_data(&b), b.len, 0};
    tar_reader r;
    tar_reader_init(&r, mem_read, &m);
    tar_entry ent;
    err_t e;
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_string_equal(ent.path, "dir");
    assert_int_equal(ent.type, TAR_DIR);
    assert_int_equal(ent.mode, 0750);
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_string_equal(ent.path, "dir/f");
    assert_int_equal(ent.size, 70000);
    assert_int_equal(ent.mode, 04755);
    assert_int_equal(ent.uid, 3000000); /* over ustar's octal range: pax */
    assert_int_equal(ent.mtime, 1234567890);
    uint8_t got[70000];
    size_t n = 0;
    int k;
    while ((k = tar_reader_data(&r, got + n, sizeof got - n, &e)) > 0)
        n += (size_t)k;
    assert_int_equal(k, 0);
    assert_int_equal(n, 70000);
    assert_int_equal(got[69999], (uint8_t)(69999 * 7));
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_string_equal(ent.path, longname);
    assert_int_equal(ent.type, TAR_HARDLINK);
    assert_string_equal(ent.link, "dir/f");
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_int_equal(ent.type, TAR_SYMLINK);
    assert_int_equal(tar_reader_next(&r, &ent, &e), 0);
    assert_int_equal(tar_reader_next(&r, &ent, &e), 0);
    tar_reader_free(&r);
    buf_free(&b);
}

static uint8_t *slurp(const char *name, size_t *n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/tests/fuzz/corpus/tar/%s", BOXLET_SOURCE_DIR, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    static uint8_t data[1 << 16];
    *n = fread(data, 1, sizeof data, f);
    fclose(f);
    return data;
}

static void python_formats(void **state)
{
    (void)state;
    size_t n;
    uint8_t *d = slurp("gnu_long", &n);
    mem m = {d, n, 0};
    tar_reader r;
    tar_reader_init(&r, mem_read, &m);
    tar_entry ent;
    err_t e;
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_int_equal(strlen(ent.path), 121); /* GNU 'L' long name */
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_int_equal(strlen(ent.link), 120); /* GNU 'K' long link */
    assert_int_equal(tar_reader_next(&r, &ent, &e), 0);
    tar_reader_free(&r);
}

static void damaged(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    write_sample(&b, "x");
    buf_data(&b)[100] ^= 1; /* the first header's mode: checksum fails */
    mem m = {buf_data(&b), b.len, 0};
    tar_reader r;
    tar_entry ent;
    err_t e;
    tar_reader_init(&r, mem_read, &m);
    assert_int_equal(tar_reader_next(&r, &ent, &e), -ERR_INVAL);
    tar_reader_free(&r);
    buf_data(&b)[100] ^= 1;
    m = (mem){buf_data(&b), 512 + 512 + 3000, 0}; /* cut inside the file's data */
    tar_reader_init(&r, mem_read, &m);
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_int_equal(tar_reader_next(&r, &ent, &e), 1);
    assert_int_equal(tar_reader_next(&r, &ent, &e), -ERR_INVAL);
    tar_reader_free(&r);
    buf_free(&b);
}

static char base[64];

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", base, rel);
}

static int put_archive(int root, const char *dest, const uint8_t *d, size_t n, err_t *e)
{
    mem m = {d, n, 0};
    tar_reader r;
    tar_reader_init(&r, mem_read, &m);
    tarfs_opts o = {.overwrite = true, .self_uid = getuid(), .allow_setid = true};
    tarfs_put *p;
    int rc = tarfs_put_begin(root, dest, &o, &p, e);
    if (rc == 0) rc = tarfs_put_data(p, &r, e);
    if (rc == 0)
        rc = tarfs_put_end(p, e);
    else if (p)
        tarfs_put_abort(p);
    tar_reader_free(&r);
    return rc;
}

static void hostile(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/boxlet-test-tar.XXXXXX");
    assert_non_null(mkdtemp(base));
    char root[128], p[160];
    path_of(root, sizeof root, "root");
    assert_int_equal(mkdir(root, 0755), 0);
    path_of(p, sizeof p, "outside");
    assert_int_equal(mkdir(p, 0755), 0);
    int rfd = open(root, O_PATH | O_DIRECTORY);
    const char *bad[] = {"escape_dotdot", "escape_symlink", "escape_hardlink"};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *d = slurp(bad[i], &n);
        err_t e;
        assert_true(put_archive(rfd, "/dest", d, n, &e) < 0);
        path_of(p, sizeof p, "outside/target");
        assert_int_equal(access(p, F_OK), -1);
        path_of(p, sizeof p, "root/dest");
        assert_int_equal(access(p, F_OK), -1); /* nothing half-visible */
    }
    /* absolute names are made relative to the destination */
    size_t n;
    uint8_t *d = slurp("escape_abs", &n);
    err_t e;
    int rc = put_archive(rfd, "/dest", d, n, &e);
    if (rc == 0) {
        path_of(p, sizeof p, "root/dest/x");
        assert_int_equal(access(p, F_OK), 0);
    }
    path_of(p, sizeof p, "root/x");
    assert_int_equal(access(p, F_OK), -1);
    /* a well-formed tree lands whole */
    d = slurp("pax_tree", &n);
    assert_int_equal(put_archive(rfd, "/tree", d, n, &e), 0);
    struct stat st;
    path_of(p, sizeof p, "root/tree/hard");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    path_of(p, sizeof p, "root/tree/link");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    path_of(p, sizeof p, "root/tree/fifo");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    close(rfd);
    fs_rm_tree(base);
}

static void pack_put(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/boxlet-test-tar.XXXXXX");
    assert_non_null(mkdtemp(base));
    char p[160], q[160];
    path_of(p, sizeof p, "src");
    assert_int_equal(mkdir(p, 0755), 0);
    path_of(p, sizeof p, "src/empty");
    assert_int_equal(mkdir(p, 0700), 0);
    path_of(p, sizeof p, "src/f");
    FILE *f = fopen(p, "w");
    fputs("content\n", f);
    fclose(f);
    assert_int_equal(chmod(p, 0640), 0);
    struct timespec ts[2] = {{.tv_sec = 1111111111}, {.tv_sec = 1111111111}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    path_of(q, sizeof q, "src/h");
    assert_int_equal(link(p, q), 0);
    path_of(q, sizeof q, "src/s");
    assert_int_equal(symlink("/etc/passwd", q), 0);
    buf_t b;
    buf_init(&b, 0);
    tar_writer w;
    tar_writer_init(&w, buf_write, &b);
    tarfs_opts o = {0};
    err_t e;
    path_of(p, sizeof p, "src");
    assert_int_equal(tarfs_pack(-1, p, &o, &w, &e), 0);
    path_of(q, sizeof q, "out");
    assert_int_equal(put_archive(-1, q, buf_data(&b), b.len, &e), 0);
    struct stat st, st2;
    path_of(p, sizeof p, "out/f");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_mtim.tv_sec, 1111111111);
    path_of(p, sizeof p, "out/h");
    assert_int_equal(lstat(p, &st2), 0);
    assert_int_equal(st.st_ino, st2.st_ino);
    path_of(p, sizeof p, "out/empty");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    char t[64] = {0};
    path_of(p, sizeof p, "out/s");
    assert_true(readlink(p, t, sizeof t - 1) > 0);
    assert_string_equal(t, "/etc/passwd");
    /* a single file lands as the file DEST; into an existing dir by name */
    buf_reset(&b);
    tar_writer_init(&w, buf_write, &b);
    path_of(p, sizeof p, "src/f");
    assert_int_equal(tarfs_pack(-1, p, &o, &w, &e), 0);
    path_of(q, sizeof q, "single");
    assert_int_equal(put_archive(-1, q, buf_data(&b), b.len, &e), 0);
    assert_int_equal(lstat(q, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    path_of(q, sizeof q, "out");
    assert_int_equal(put_archive(-1, q, buf_data(&b), b.len, &e), 0);
    buf_free(&b);
    fs_rm_tree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip), cmocka_unit_test(python_formats), cmocka_unit_test(damaged),
        cmocka_unit_test(hostile),   cmocka_unit_test(pack_put),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
