/* boxlet — the command-line interface. Built on include/boxlet.h only.
 * The box verbs (run, exec, create, ...) arrive with the boxes milestone;
 * until then the CLI answers --help and --version and says what is missing. */
#include "boxlet.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet [--help] [--version] COMMAND [ARGS...]\n"
    "\n"
    "boxlet runs commands inside isolated boxes and streams their output.\n"
    "\n"
    "Commands available in this build: none yet beyond --help and --version.\n"
    "The exec engine is boxlet-agent (libexec/boxlet/boxlet-agent); box\n"
    "commands (run, exec, create, ls, rm, ...) are not implemented yet.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 125 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("boxlet %s\n", boxlet_version());
        return 0;
    }
    fprintf(stderr, "boxlet: unknown command \"%s\" (see boxlet --help)\n", argv[1]);
    return 125;
}
