/* signals — SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH for the attached
 * verbs (run, exec, attach). The handlers only record the signal and write
 * a byte to a self-pipe, so the streaming loop wakes from poll() and acts
 * (forwards the signal, resizes, cleans up) outside the handler. A third
 * terminating signal is the escape hatch: the handler restores the terminal
 * and exits at once with 128+N, skipping any cleanup. SIGPIPE is ignored so
 * that a closed stdout shows up as EPIPE. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int self_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_total, sig_last, sig_winch;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGWINCH) {
        sig_winch = 1;
    } else {
        sig_last = sig;
        sig_total = sig_total + 1;
        if (sig_total >= 3) {
            cli_tty_restore();
            _exit(128 + sig);
        }
    }
    if (self_pipe[1] >= 0) {
        ssize_t n = write(self_pipe[1], "", 1);
        (void)n;
    }
    errno = saved;
}

int cli_sig_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
    if (self_pipe[0] < 0 && pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int cli_sig_fd(void)
{
    return self_pipe[0];
}

void cli_sig_drain(void)
{
    char buf[64];
    while (self_pipe[0] >= 0 && read(self_pipe[0], buf, sizeof buf) > 0)
        ;
}

int cli_sig_count(void)
{
    return sig_total;
}

int cli_sig_last(void)
{
    return sig_last;
}

int cli_sig_take_winch(void)
{
    if (!sig_winch) return 0;
    sig_winch = 0;
    return 1;
}
