/* boxnet — see boxnet.h. */
#include "server/boxnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* /proc/PID/net/dev: "  IFACE: rx_bytes packets ... (8 fields) tx_bytes ...". */
static bool read_dev(int pid, boxnet_t *o)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/dev", pid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    o->rx_bytes = o->tx_bytes = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue; /* the two header lines */
        *colon = '\0';
        const char *name = line + strspn(line, " ");
        unsigned long long v[9];
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 9 ||
            strcmp(name, "lo") == 0)
            continue;
        o->rx_bytes += (long long)v[0];
        o->tx_bytes += (long long)v[8];
    }
    fclose(f);
    return true;
}

/* ESTABLISHED (state 01) rows of /proc/PID/net/tcp or tcp6. */
static long long established(int pid, const char *table)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/%s", pid, table);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long n = 0;
    while (fgets(line, sizeof line, f)) {
        char local[64], remote[64], st[8];
        if (sscanf(line, " %*s %63s %63s %7s", local, remote, st) == 3 && strcmp(st, "01") == 0)
            n++;
    }
    fclose(f);
    return n;
}

/* /proc/PID/net/snmp: a "Tcp:" line of names, then one of values. */
static long long attempt_fails(int pid)
{
    char path[64], names[1024], values[1024];
    snprintf(path, sizeof path, "/proc/%d/net/snmp", pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long out = -1;
    while (out < 0 && fgets(names, sizeof names, f)) {
        if (strncmp(names, "Tcp:", 4) != 0 || !fgets(values, sizeof values, f)) continue;
        char *sn, *sv;
        char *n = strtok_r(names, " \n", &sn), *v = strtok_r(values, " \n", &sv);
        for (; n && v; n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv))
            if (strcmp(n, "AttemptFails") == 0) out = atoll(v);
    }
    fclose(f);
    return out;
}

bool boxnet_read(int pid, boxnet_t *out)
{
    *out = (boxnet_t){-1, -1, -1, -1};
    if (pid <= 0 || !read_dev(pid, out)) return false;
    long long t4 = established(pid, "tcp"), t6 = established(pid, "tcp6");
    out->tcp_established = t4 < 0 && t6 < 0 ? -1 : (t4 > 0 ? t4 : 0) + (t6 > 0 ? t6 : 0);
    out->tcp_attempt_fails = attempt_fails(pid);
    return true;
}
