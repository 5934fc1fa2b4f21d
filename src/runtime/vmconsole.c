/* vmconsole — the writer of a VM's console log (vmlaunch.h: the cap). QEMU's
 * serial console and its own messages come in on a pipe; a child of the
 * launcher writes them to <dir>/console.log: the first VM_CONSOLE_HEAD bytes
 * as they come, then the last VM_CONSOLE_TAIL bytes kept in a ring and
 * written after a line counting what was dropped, every 64 KiB and at the
 * end. The log never grows past its cap, however much the guest writes. It
 * parses nothing: the bytes are the guest's and go to the file as they are.
 * Not for reading the log (console_tail in vmlaunch.c). */
#include "runtime/vmlaunch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FLUSH_EVERY (64 * 1024)

typedef struct console_log {
    int fd;
    uint64_t total;             /* bytes the guest wrote */
    char ring[VM_CONSOLE_TAIL]; /* bytes past the head, the last ones */
    size_t ring_at;             /* where the next byte goes */
    uint64_t unflushed;
} console_log;

static console_log the_log; /* one per writer process, in its own memory */

static void write_at(int fd, const char *p, size_t n, off_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* a full disk costs the log, never the VM */
        p += w, n -= (size_t)w, at += w;
    }
}

/* After the head: the line saying what was dropped, then the ring in order. */
static void flush_tail(console_log *c)
{
    uint64_t past = c->total - VM_CONSOLE_HEAD;
    uint64_t kept = past < VM_CONSOLE_TAIL ? past : VM_CONSOLE_TAIL;
    char line[128];
    int n = snprintf(line, sizeof line,
                     "\n[boxlet: console: %llu bytes dropped here; the last %llu follow]\n",
                     (unsigned long long)(past - kept), (unsigned long long)kept);
    off_t at = VM_CONSOLE_HEAD;
    write_at(c->fd, line, (size_t)n, at);
    at += n;
    if (kept < VM_CONSOLE_TAIL) { /* the ring has not wrapped: it starts at 0 */
        write_at(c->fd, c->ring, (size_t)kept, at);
    } else { /* oldest first: from the next write's place to the end, then the start */
        size_t start = c->ring_at;
        write_at(c->fd, c->ring + start, VM_CONSOLE_TAIL - start, at);
        write_at(c->fd, c->ring, start, at + (off_t)(VM_CONSOLE_TAIL - start));
    }
    if (ftruncate(c->fd, at + (off_t)kept) < 0) { /* best effort: the size only shrinks */
    }
    c->unflushed = 0;
}

static void take(console_log *c, const char *p, size_t n)
{
    if (c->total < VM_CONSOLE_HEAD) {
        size_t head = VM_CONSOLE_HEAD - c->total < n ? (size_t)(VM_CONSOLE_HEAD - c->total) : n;
        write_at(c->fd, p, head, (off_t)c->total);
        c->total += head, p += head, n -= head;
    }
    for (; n > 0;) {
        size_t k = VM_CONSOLE_TAIL - c->ring_at < n ? VM_CONSOLE_TAIL - c->ring_at : n;
        memcpy(c->ring + c->ring_at, p, k);
        c->ring_at = (c->ring_at + k) % VM_CONSOLE_TAIL;
        c->total += k, c->unflushed += k, p += k, n -= k;
    }
    if (c->unflushed >= FLUSH_EVERY) flush_tail(c);
}

static __attribute__((noreturn)) void pump(int in, int log)
{
    console_log *c = &the_log;
    c->fd = log;
    char buf[16384];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        take(c, buf, (size_t)n);
    }
    if (c->total > VM_CONSOLE_HEAD) flush_tail(c);
    _exit(0);
}

pid_t vm_console_start(int in_fd, const char *log_path, err_t *e)
{
    int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log < 0) return err_sys(e, errno, "create the console log \"%s\"", log_path);
    pid_t pid = fork();
    if (pid < 0) {
        int rc = err_sys(e, errno, "fork the console log's writer");
        close(log);
        return rc;
    }
    if (pid == 0) { /* it holds the pipe's read end and the log, nothing else */
        if (dup2(in_fd, 3) < 0 || dup2(log, 4) < 0) _exit(1);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
        syscall(SYS_close_range, 5, ~0U, 0);
        pump(3, 4);
    }
    close(log);
    return pid;
}
