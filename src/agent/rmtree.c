/* rmtree — `boxlet-agent --remove-tree /PATH`: run on the host by the
 * runtime (src/runtime/dispose.c) to delete a removed box's directory after
 * its caller has moved on. It forks: the parent exits at once (the caller
 * waits for it alone), and the child, nobody's child from then on, removes
 * PATH with fs_rm_tree — never following a symlink, never entering a mount
 * point — and exits. Descriptor 3, when the runtime passes one, is closed
 * by that exit: the mount it pins is released there. */
#include "agent.h"

#include "core/fsutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rmtree_main(int argc, char **argv)
{
    if (argc != 3 || argv[2][0] != '/') {
        fprintf(stderr, "usage: boxlet-agent --remove-tree /PATH\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("boxlet-agent --remove-tree: fork");
        return 1;
    }
    if (pid > 0) return 0;
    setsid(); /* a terminal's ^C to the runtime's caller does not stop it */
    _exit(fs_rm_tree(argv[2]) < 0 ? 1 : 0);
}
