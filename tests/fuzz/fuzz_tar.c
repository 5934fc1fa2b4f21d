/* fuzz_tar — the tar codec (core/tar) and the extractor of the files API
 * (core/tarfs) on arbitrary bytes. Each input is first read entry by entry
 * (every header and every data byte), then extracted with tarfs_put inside
 * a directory used as the root (as the agent does in a box), beside an
 * "outside" directory holding one file. Whatever the archive says, reading
 * and extracting return (0 or an error), the outside file is untouched, and
 * nothing but the destination remains in the root. */
#include "core/fsutil.h"
#include "core/tar.h"
#include "core/tarfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64], rootp[128], outside[128];
static int rootfd = -1;

typedef struct mem {
    const uint8_t *p;
    size_t n, off;
} mem;

static int mem_read(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)e;
    mem *m = ctx;
    size_t k = m->n - m->off < n ? m->n - m->off : n;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (int)k;
}

static void cleanup(void)
{
    fs_rm_tree(base);
}

static void once(void)
{
    if (base[0]) return;
    snprintf(base, sizeof base, "/tmp/boxlet-fuzz-tar.XXXXXX");
    if (!mkdtemp(base)) abort();
    atexit(cleanup);
    snprintf(rootp, sizeof rootp, "%s/root", base);
    snprintf(outside, sizeof outside, "%s/outside", base);
    char p[160];
    snprintf(p, sizeof p, "%s/target", outside);
    int fd;
    if (mkdir(rootp, 0755) < 0 || mkdir(outside, 0755) < 0 ||
        (fd = open(p, O_WRONLY | O_CREAT, 0600)) < 0)
        abort();
    close(fd);
    rootfd = open(rootp, O_PATH | O_DIRECTORY);
    if (rootfd < 0) abort();
}

static void check_outside(void)
{
    char p[160];
    struct stat st;
    snprintf(p, sizeof p, "%s/target", outside);
    if (lstat(p, &st) < 0 || (st.st_mode & 07777) != 0600 || st.st_nlink != 1 || st.st_size != 0)
        abort();
    DIR *d = opendir(rootp);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "dest"))
            abort(); /* a temporary directory left behind, or an escape */
    if (d) closedir(d);
}

static void read_all(const uint8_t *data, size_t size)
{
    mem m = {data, size, 0};
    tar_reader r;
    tar_reader_init(&r, mem_read, &m);
    err_t e;
    tar_entry ent;
    uint8_t buf[4096];
    while (tar_reader_next(&r, &ent, &e) > 0)
        while (tar_reader_data(&r, buf, sizeof buf, &e) > 0)
            ;
    tar_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    once();
    read_all(data, size);
    mem m = {data, size, 0};
    tar_reader r;
    tar_reader_init(&r, mem_read, &m);
    err_t e;
    tarfs_opts o = {.overwrite = true, .no_mounts = false, .self_uid = getuid()};
    tarfs_put *p;
    if (tarfs_put_begin(rootfd, "/dest", &o, &p, &e) == 0) {
        if (tarfs_put_data(p, &r, &e) == 0)
            tarfs_put_end(p, &e);
        else
            tarfs_put_abort(p);
    }
    tar_reader_free(&r);
    check_outside();
    char dest[160];
    snprintf(dest, sizeof dest, "%s/dest", rootp);
    fs_rm_tree(dest);
    return 0;
}
