/* SIGTERM to the agent stops the box: every execution's group gets SIGTERM,
 * what ignores it gets SIGKILL after the stop grace, attached readers get
 * the EXIT of what ended in time, and the agent exits 0 with nothing left. */
#include "harness.h"

#include "core/util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static pid_t first_line_pid(run_result *r, hconn *h)
{
    int64_t until = now_ms() + 5000;
    while (!memchr(buf_data(&r->out) ? (char *)buf_data(&r->out) : "", '\n', r->out.len) &&
           now_ms() < until)
        hc_pump(h, 50);
    return (pid_t)atoi(r->out.len ? (char *)buf_data(&r->out) : "0");
}

static void sigterm_stops_everything(void **state)
{
    (void)state;
    agent_proc a;
    const char *opts[] = {"--stop-grace", "700", NULL};
    agent_start(&a, opts);
    hconn *h = hc_open(&a);
    const char *polite[] = {"sh", "-c", "sleep 100 & echo $!; wait", NULL};
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait; sleep 100",
                              NULL};
    proto_exec_start s1 = hc_cmd(polite), s2 = hc_cmd(stubborn);
    char *id1 = hc_start(h, &s1, NULL), *id2 = hc_start(h, &s2, NULL);
    run_result r1, r2;
    run_result_init(&r1);
    run_result_init(&r2);
    assert_int_equal(hc_attach(h, id1, 1, 0, 0, true, &r1), 0);
    assert_int_equal(hc_attach(h, id2, 2, 0, 0, true, &r2), 0);
    pid_t c1 = first_line_pid(&r1, h), c2 = first_line_pid(&r2, h);
    assert_true(c1 > 1 && c2 > 1);

    int64_t t0 = now_ms();
    kill(a.pid, SIGTERM);
    while (!r1.got_exit && hc_pump(h, 2000) > 0)
        ;
    assert_true(r1.got_exit); /* ended by the TERM, reported before the agent left */
    assert_int_equal(r1.exit.signal, SIGTERM);
    int st;
    while (waitpid(a.pid, &st, WNOHANG) == 0 && now_ms() - t0 < 60000)
        usleep(10000);
    int64_t took = now_ms() - t0;
    printf("agent stopped in %lld ms\n", (long long)took);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* It waited the grace for the stubborn one, and did not wait for its
     * 100 s sleeps: the upper bound is far from both, whatever the load. */
    assert_true(took >= 600 && took < 60000);
    a.pid = 0;
    usleep(100000);
    while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans reparent to us, the subreaper */
        ;
    assert_true(kill(c1, 0) < 0 && errno == ESRCH);
    assert_true(kill(c2, 0) < 0 && errno == ESRCH);
    hc_close(h);
    agent_stop(&a);
    run_result_free(&r1);
    run_result_free(&r2);
    free(id1);
    free(id2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigterm_stops_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
