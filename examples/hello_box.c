/* hello_box — the smallest complete use of libboxlet: open the runtime,
 * create a box on the built-in `host` image, run a command in it, stream its
 * output as it arrives, print the exit status, remove the box.
 *
 *   cc hello_box.c $(pkg-config --cflags --libs boxlet) -o hello_box
 *   cc hello_box.c $(pkg-config --cflags --libs boxlet-static) -o hello_box  # libboxlet.a
 *   sudo ./hello_box            # boxes need root for now
 */
#include <boxlet.h>

#include <stdio.h>

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "hello_box: %s: %s\n", what, msg);
    return 1;
}

int main(void)
{
    boxlet_runtime *rt;
    if (boxlet_runtime_open(NULL, &rt) != BOXLET_OK) /* $BOXLET_HOME or the default */
        return fail("open runtime", boxlet_runtime_errmsg(rt));
    boxlet_box_opts opts;
    boxlet_box_opts_init(&opts); /* image "host", no limits, no network */
    boxlet_box *box;
    if (boxlet_box_create(rt, &opts, &box) != BOXLET_OK)
        return fail("create box", boxlet_runtime_errmsg(rt));

    boxlet_cmd *cmd = boxlet_cmd_new("sh", "-c",
                                     "for i in 1 2 3; do echo \"$GREETING $i\"; done; "
                                     "echo 'to stderr' >&2; exit 3",
                                     NULL);
    boxlet_cmd_setenv(cmd, "GREETING", "hello from a box");
    boxlet_exec *ex;
    if (boxlet_exec_start(box, cmd, &ex) != BOXLET_OK) /* starts the box too */
        return fail("exec", boxlet_box_errmsg(box));
    boxlet_exec_close_stdin(ex);
    boxlet_chunk c;
    while (boxlet_exec_read(ex, &c, -1) == BOXLET_OK && c.kind != BOXLET_CHUNK_END)
        if (c.kind == BOXLET_CHUNK_DATA)
            fwrite(c.data, 1, c.len, c.stream == BOXLET_STDERR ? stderr : stdout);
    boxlet_exit st;
    boxlet_exec_wait(ex, &st, -1);
    printf("exit code %d after %llu ms\n", st.exit_code, st.duration_ms);

    boxlet_exec_free(ex);
    boxlet_cmd_free(cmd);
    boxlet_box_remove(box, 1);
    boxlet_box_free(box);
    boxlet_runtime_free(rt);
    return st.exit_code == 3 ? 0 : 1;
}
