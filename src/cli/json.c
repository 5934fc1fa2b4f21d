/* json — the JSON that ls --json, inspect and ps --json print, written by
 * hand: strings escaped per RFC 8259 (quotes, backslashes and control
 * characters; bytes that are not valid UTF-8 become U+FFFD so the output
 * always parses), boxes and executions as indented objects. A box's config
 * is the library's own JSON text, embedded as it is. */
#include "cli/cli.h"

#include <string.h>
#include <time.h>

/* The length of the valid UTF-8 sequence at p, 0 if there is none. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

static void json_ascii(FILE *f, unsigned char c)
{
    const char *esc = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                                  : NULL;
    if (esc)
        fputs(esc, f);
    else if (c < 0x20)
        fprintf(f, "\\u%04x", c);
    else
        fputc(c, f);
}

void cli_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = *p < 0x80 ? 1 : utf8_seq(p);
        if (n == 0)
            fputs("\\ufffd", f);
        else if (n == 1)
            json_ascii(f, *p);
        else
            fwrite(p, 1, n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

void cli_time_text(long long ms, char *buf, size_t len)
{
    char secs_text[64];
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&secs, &tm)) {
        snprintf(buf, len, "%s", "");
        return;
    }
    strftime(secs_text, sizeof secs_text, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03lldZ", secs_text, ms % 1000);
}

void cli_json_time(FILE *f, long long ms)
{
    char buf[96];
    cli_time_text(ms, buf, sizeof buf);
    if (*buf)
        fprintf(f, "\"%s\"", buf);
    else
        fputs("null", f);
}

#define FIELD(row, i, k, ...)                                                                      \
    ((row)[i].name = (k), snprintf((row)[i].value, sizeof(row)[i].value, __VA_ARGS__))

void cli_box_fields(const boxlet_box *b, struct cli_field *row)
{
    char shortid[32];
    FIELD(row, 0, "id", "%s", boxlet_box_id(b));
    FIELD(row, 1, "short_id", "%s", cli_short_id(boxlet_box_id(b), shortid, sizeof shortid));
    FIELD(row, 2, "name", "%s", boxlet_box_name(b));
    FIELD(row, 3, "image", "%s", boxlet_box_image(b));
    FIELD(row, 4, "state", "%s", boxlet_box_state_name(boxlet_box_state_of(b)));
    row[5].name = "created_at";
    cli_time_text(boxlet_box_created_ms(b), row[5].value, sizeof row[5].value);
    FIELD(row, 6, "pid", "%d", boxlet_box_pid(b));
}

void cli_exec_fields(const boxlet_exec_info *x, struct cli_field *row)
{
    int running = x->exit.status == BOXLET_EXEC_RUNNING;
    FIELD(row, 0, "id", "%s", x->id);
    FIELD(row, 1, "command", "%s", x->command);
    FIELD(row, 2, "pid", "%d", x->pid);
    FIELD(row, 3, "status", "%s", boxlet_exec_status_name(x->exit.status));
    FIELD(row, 4, "exit_code", "%d", x->exit.exit_code);
    if (running) row[4].value[0] = 0; /* null in JSON */
    FIELD(row, 5, "signal", "%d", x->exit.signal);
    row[6].name = "created_at";
    cli_time_text(x->created_ms, row[6].value, sizeof row[6].value);
    FIELD(row, 7, "duration_ms", "%llu", x->exit.duration_ms);
}

/* `"key": ` at the given indent, after a comma unless first. */
static void key(FILE *f, int indent, const char *k, int first)
{
    fprintf(f, "%s\n%*s\"%s\": ", first ? "" : ",", indent, "", k);
}

static void key_str(FILE *f, int indent, const char *k, const char *v)
{
    key(f, indent, k, 0);
    cli_json_str(f, v);
}

static void key_num(FILE *f, int indent, const char *k, long long v)
{
    key(f, indent, k, 0);
    fprintf(f, "%lld", v);
}

static void key_bool(FILE *f, int indent, const char *k, int v)
{
    key(f, indent, k, 0);
    fputs(v ? "true" : "false", f);
}

static void key_unum(FILE *f, int indent, const char *k, unsigned long long v)
{
    key(f, indent, k, 0);
    fprintf(f, "%llu", v);
}

void cli_json_box(FILE *f, const boxlet_box *b, int indent, const char *vm_accel)
{
    const char *config = boxlet_box_config_json(b);
    int in = indent + 4;
    fprintf(f, "%*s{", indent, "");
    key(f, in, "id", 1);
    cli_json_str(f, boxlet_box_id(b));
    key_str(f, in, "name", boxlet_box_name(b));
    key_str(f, in, "image", boxlet_box_image(b));
    key_str(f, in, "state", boxlet_box_state_name(boxlet_box_state_of(b)));
    key(f, in, "created_at", 0);
    cli_json_time(f, boxlet_box_created_ms(b));
    key_num(f, in, "pid", boxlet_box_pid(b));
    key_str(f, in, "isolation", boxlet_box_isolation(b));
    if (vm_accel && strcmp(boxlet_box_isolation(b), "vm") == 0) key_str(f, in, "accel", vm_accel);
    key(f, in, "config", 0);
    fputs(config && *config ? config : "null", f);
    fprintf(f, "\n%*s}", indent, "");
}

void cli_json_boxes(FILE *f, boxlet_box *const *boxes, size_t n, const char *vm_accel)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n" : "\n", f);
        cli_json_box(f, boxes[i], 4, vm_accel);
    }
    fputs(n ? "\n]\n" : "]\n", f);
}

static void exec_result(FILE *f, const boxlet_exit *x, int in)
{
    key(f, in, "exit_code", 0);
    if (x->status == BOXLET_EXEC_RUNNING)
        fputs("null", f);
    else
        fprintf(f, "%d", x->exit_code);
    key_num(f, in, "signal", x->signal);
    key_bool(f, in, "timed_out", x->timed_out);
    key_unum(f, in, "duration_ms", x->duration_ms);
    key_unum(f, in, "stdout_bytes", x->stdout_bytes);
    key_unum(f, in, "stderr_bytes", x->stderr_bytes);
    key_unum(f, in, "cpu_us", x->cpu_us);
    key_unum(f, in, "peak_rss_kib", x->peak_rss_kib);
    key_str(f, in, "error_message", x->error_message);
}

void cli_json_exec(FILE *f, const boxlet_exec_info *x, int indent)
{
    int in = indent + 4;
    fprintf(f, "%*s{", indent, "");
    key(f, in, "id", 1);
    cli_json_str(f, x->id);
    key_str(f, in, "command", x->command);
    key_num(f, in, "pid", x->pid);
    key_bool(f, in, "tty", x->tty);
    key(f, in, "created_at", 0);
    cli_json_time(f, x->created_ms);
    key_unum(f, in, "stdout_end", x->stdout_end);
    key_unum(f, in, "stderr_end", x->stderr_end);
    key_bool(f, in, "stdin_attached", x->stdin_attached);
    key_str(f, in, "status", boxlet_exec_status_name(x->exit.status));
    exec_result(f, &x->exit, in);
    fprintf(f, "\n%*s}", indent, "");
}
