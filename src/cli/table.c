/* table — the aligned text tables of ls and ps: cells are added row by row,
 * then printed in columns as wide as their widest cell (counted in UTF-8
 * characters), three spaces apart, the last column unpadded. Also cuts
 * long cells (commands) at a character boundary. Control characters are
 * shown as '?'. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Characters, not bytes: every byte that does not continue a sequence. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Control characters (a newline in a command, an escape sequence in a
 * name) would break the table or drive the terminal: show them as '?'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int cli_table_add(struct cli_table *t, const char *fmt, ...)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells) return -1;
        t->cells = cells;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&t->cells[t->ncells], fmt, ap);
    va_end(ap);
    if (rc < 0) return -1;
    sanitize(t->cells[t->ncells++]);
    return 0;
}

static void print_cell(FILE *f, const char *cell, size_t w, int last)
{
    fputs(cell, f);
    if (last) {
        fputc('\n', f);
        return;
    }
    fprintf(f, "%*s", (int)(w - width(cell) + 3), "");
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
    size_t w[16] = {0};
    size_t nc = t->ncols < 16 ? t->ncols : 16;
    if (nc == 0) return;
    for (size_t i = 0; i < t->ncells; i++) {
        size_t cw = width(t->cells[i]);
        if (cw > w[i % nc]) w[i % nc] = cw;
    }
    for (size_t i = 0; i < t->ncells; i++)
        print_cell(f, t->cells[i], w[i % nc], i % nc == nc - 1 || i == t->ncells - 1);
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->ncells = t->cap = 0;
}

const char *cli_trunc(const char *s, size_t max, char *buf, size_t len)
{
    if (width(s) <= max || max < 4) return s;
    size_t bytes = 0, chars = 0;
    while (s[bytes] && chars < max - 3) {
        bytes++;
        while (((unsigned char)s[bytes] & 0xc0) == 0x80)
            bytes++;
        chars++;
    }
    snprintf(buf, len, "%.*s...", (int)bytes, s);
    return buf;
}
