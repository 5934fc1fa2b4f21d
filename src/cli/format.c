/* format — `--format TEMPLATE` for the listings (ls, ps, images), Docker's
 * Go-template field selection in its simplest and most used form: every
 * {{.Field}} is replaced by that field of the row, the rest is printed as
 * it is ("\t" and "\n" as escapes), one line per row. Field names match
 * case-blind and without underscores ({{.CreatedAt}} is created_at). An
 * unknown field is an error naming the fields there are, before anything
 * is printed. Not Go templates: no functions, pipes or conditions. */
#include "cli/cli.h"

#include <ctype.h>
#include <string.h>

/* Whether name (from the template, len bytes) is field f. */
static int same_field(const char *name, size_t len, const char *f)
{
    size_t i = 0;
    for (; *f; f++) {
        if (*f == '_') continue;
        if (i == len || tolower((unsigned char)name[i]) != tolower((unsigned char)*f)) return 0;
        i++;
    }
    return i == len;
}

static const struct cli_field *lookup(const struct cli_field *row, size_t n, const char *name,
                                      size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (same_field(name, len, row[i].name)) return &row[i];
    return NULL;
}

/* Walks tmpl: prints it for row when f is non-NULL; else only checks it.
 * 0, or -1 after naming the unknown field or the broken action. */
static int walk(const char *tmpl, const struct cli_field *row, size_t n, FILE *f)
{
    for (const char *p = tmpl; *p;) {
        if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
            if (f) fputc(p[1] == 't' ? '\t' : '\n', f);
            p += 2;
            continue;
        }
        if (strncmp(p, "{{", 2) != 0) {
            if (f) fputc(*p, f);
            p++;
            continue;
        }
        const char *s = p + 2, *end = strstr(s, "}}");
        while (s < end && *s == ' ')
            s++;
        size_t len = end ? (size_t)(end - s) : 0;
        while (len && s[len - 1] == ' ')
            len--;
        const struct cli_field *fld = end && *s == '.' ? lookup(row, n, s + 1, len - 1) : NULL;
        if (!fld) {
            cli_warn("--format: \"%.*s\" is not a field: use {{.FIELD}}, one of:",
                     end ? (int)(end - p + 2) : (int)strlen(p), p);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, "  %s\n", row[i].name);
            return -1;
        }
        if (f) fputs(fld->value, f);
        p = end + 2;
    }
    if (f) fputc('\n', f);
    return 0;
}

int cli_format_check(const char *tmpl, const struct cli_field *row, size_t n)
{
    return walk(tmpl, row, n, NULL);
}

void cli_format_row(const char *tmpl, const struct cli_field *row, size_t n, FILE *f)
{
    walk(tmpl, row, n, f);
}
