/* fuzz_unpack — the tar unpacker (image/oci_unpack.c, through oci_unpack_rootfs)
 * on arbitrary bytes: every input is a tarball (plain or compressed),
 * unpacked into a fresh directory beside an "outside" directory holding one
 * file. Whatever the entries say, unpacking returns (0 or an error), the
 * outside directory keeps exactly its file, and fs_rm_tree removes what
 * was unpacked. Runs as root in the fuzz build (owners, FIFOs); each input
 * costs a few file system calls, so runs are slower than a codec's. */
#include "core/fsutil.h"
#include "image/oci.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64], input[128], root[128], outside[128];

static void cleanup(void)
{
    fs_rm_tree(base);
}

static void once(void)
{
    if (base[0]) return;
    snprintf(base, sizeof base, "/tmp/boxlet-fuzz-unpack.XXXXXX");
    if (!mkdtemp(base)) abort();
    atexit(cleanup);
    snprintf(input, sizeof input, "%s/in.tar", base);
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(outside, sizeof outside, "%s/outside", base);
    char p[160];
    snprintf(p, sizeof p, "%s/target", outside);
    int fd;
    if (mkdir(outside, 0755) < 0 || (fd = open(p, O_WRONLY | O_CREAT, 0600)) < 0) abort();
    close(fd);
}

/* The outside directory holds "target" only, mode 0600, one link. */
static void check_outside(void)
{
    DIR *d = opendir(outside);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            if (strcmp(de->d_name, "target")) abort(); /* an entry escaped */
            n++;
        }
    if (d) closedir(d);
    char p[160];
    struct stat st;
    snprintf(p, sizeof p, "%s/target", outside);
    if (n != 1 || lstat(p, &st) < 0 || (st.st_mode & 07777) != 0600 || st.st_nlink != 1 ||
        st.st_size != 0)
        abort(); /* the outside file was changed, linked or written */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    once();
    int fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    close(fd);
    if (mkdir(root, 0755) < 0) abort();
    err_t e = {0};
    (void)oci_unpack_rootfs(input, root, &e);
    check_outside();
    if (fs_rm_tree(root) < 0) abort(); /* whatever was made, it goes */
    return 0;
}
