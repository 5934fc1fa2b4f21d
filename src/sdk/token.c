/* token — see token.h. The file is made under a temporary name with
 * O_EXCL and renamed into place, so a reader never sees half a token and a
 * planted symlink is never followed (O_NOFOLLOW on every open). */
#include "sdk/token.h"

#include "core/util.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_BYTES 32

void token_path(const char *home, char *out, size_t n)
{
    char h[RT_HOME_MAX];
    if (!home || !*home) rt_default_home(h, sizeof h);
    snprintf(out, n, "%s/serve.token", home && *home ? home : h);
}

/* The first line of fd, at most TOKEN_MAX bytes, into a new string. */
static int read_line(int fd, const char *path, char **out, err_t *e)
{
    char *buf = malloc(TOKEN_MAX + 2);
    if (!buf) return err_make(e, ERR_NOMEM, "read \"%s\": out of memory", path);
    size_t len = 0;
    ssize_t r;
    while (len < TOKEN_MAX + 1 && (r = read(fd, buf + len, TOKEN_MAX + 1 - len)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int en = errno;
            free(buf);
            return err_sys(e, en, "read \"%s\"", path);
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf || strlen(buf) > TOKEN_MAX) {
        bool empty = !*buf;
        free(buf);
        return err_make(e, ERR_INVAL, "API key file \"%s\": %s", path,
                        empty ? "empty" : "its first line is longer than 4096 bytes");
    }
    *out = buf;
    return 0;
}

int token_read_file(const char *path, char **out, err_t *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return err_sys(e, errno, "open API key file \"%s\"", path);
    int rc = read_line(fd, path, out, e);
    close(fd);
    return rc;
}

static int create_token(const char *path, err_t *e)
{
    uint8_t rnd[TOKEN_BYTES];
    char hex[2 * TOKEN_BYTES + 2], tmp[RT_HOME_MAX + 64];
    if (random_bytes(rnd, sizeof rnd) < 0)
        return err_sys(e, errno, "make a token for \"%s\": no random bytes", path);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    strcat(hex, "\n");
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", tmp);
    bool ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0;
    int en = errno;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        en = ok ? errno : en;
        unlink(tmp);
        return err_sys(e, en, "write the token file \"%s\"", path);
    }
    return 0;
}

int token_load_or_create(const char *home, char *out, size_t n, err_t *e)
{
    char path[RT_HOME_MAX + 32];
    token_path(home, path, sizeof path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        int rc = create_token(path, e);
        if (rc < 0) return rc;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    }
    if (fd < 0) return err_sys(e, errno, "open the token file \"%s\"", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        close(fd);
        return err_make(e, ERR_PERM,
                        "the token file \"%s\" is not a regular file of uid %u with mode 0600: "
                        "remove it and a new one is made",
                        path, (unsigned)geteuid());
    }
    char *tok = NULL;
    int rc = read_line(fd, path, &tok, e);
    close(fd);
    if (rc < 0) return rc;
    if (strlen(tok) >= n) {
        free(tok);
        return err_make(e, ERR_TOOBIG, "the token in \"%s\" is too long", path);
    }
    snprintf(out, n, "%s", tok);
    free(tok);
    return 0;
}

/* Does every socket listening on TCP port `port` (IPv4 and IPv6) belong
 * to uid, and is there one? From /proc/net/tcp{,6}: "sl local rem st ...
 * uid ...", LISTEN is st 0A. */
static bool port_owned_by(unsigned port, uid_t uid)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int found = 0;
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "re");
        if (!f) continue;
        char line[512], local[64], rem[64], st[8];
        unsigned lport, owner;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, " %*s %63s %63s %7s %*s %*s %*s %u", local, rem, st, &owner) == 4 &&
                strcmp(st, "0A") == 0 && strchr(local, ':') &&
                sscanf(strchr(local, ':') + 1, "%x", &lport) == 1 && lport == port) {
                if (owner != uid) {
                    fclose(f);
                    return false;
                }
                found++;
            }
        fclose(f);
    }
    return found > 0;
}

/* Is the server at url run by uid? So the token goes to the server that
 * made it, never to whoever else listens at that address (another local
 * user's program on the port while the server is down). */
static bool server_owned_by(const char *url, uid_t uid)
{
    if (strncmp(url, "unix:", 5) == 0) {
        const char *p = url + 5;
        while (p[0] == '/' && p[1] == '/')
            p++;
        struct stat st;
        return lstat(p, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == uid;
    }
    const char *h = strstr(url, "://") + 3;
    const char *colon = h[0] == '[' ? strchr(h, ']') : h;
    colon = colon ? strchr(colon, ':') : NULL;
    const char *end = colon ? colon + 1 + strspn(colon + 1, "0123456789") : NULL;
    unsigned port = colon && end > colon + 1 && (!*end || *end == '/')
                        ? (unsigned)strtoul(colon + 1, NULL, 10)
                        : (strncmp(url, "https", 5) == 0 ? 443 : 80);
    return port > 0 && port < 65536 && port_owned_by(port, uid);
}

char *token_find_local(const char *url)
{
    char path[RT_HOME_MAX + 32];
    token_path(NULL, path, sizeof path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return NULL;
    struct stat st;
    char *tok = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && server_owned_by(url, st.st_uid))
        read_line(fd, path, &tok, NULL);
    close(fd);
    return tok;
}

/* The host part of an http(s) URL: after "://", before the port or path. */
static bool host_is_loopback(const char *h, size_t len)
{
    if (len == 9 && strncasecmp(h, "localhost", 9) == 0) return true;
    if (len == 5 && strncmp(h, "[::1]", 5) == 0) return true;
    return len >= 4 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") >= len;
}

bool token_url_is_local(const char *url)
{
    if (!url) return false;
    if (strncmp(url, "unix:", 5) == 0) return true;
    const char *h = strstr(url, "://");
    if (!h || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) return false;
    h += 3;
    size_t len = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
    return host_is_loopback(h, len);
}
