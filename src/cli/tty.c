/* tty — our own terminal: raw mode for `-it` and for attaching to an
 * execution that has a terminal, and the window size given to boxlet
 * (rows x cols from TIOCGWINSZ). Raw mode is undone on every way out: the
 * streaming loop restores it when it ends, an atexit() hook covers exit()
 * from anywhere, and the signal handlers' escape hatch calls the
 * async-signal-safe cli_tty_restore() before _exit(). */
#include "cli/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t raw_fd = -1;

void cli_tty_restore(void)
{
    int fd = raw_fd;
    if (fd < 0) return;
    tcsetattr(fd, TCSADRAIN, &saved);
    raw_fd = -1;
}

int cli_tty_raw(int fd)
{
    static int hooked;
    if (tcgetattr(fd, &saved) < 0) return -1;
    if (!hooked && atexit(cli_tty_restore) == 0) hooked = 1;
    struct termios raw = saved;
    cfmakeraw(&raw);
    raw_fd = fd;
    if (tcsetattr(fd, TCSADRAIN, &raw) < 0) {
        raw_fd = -1;
        return -1;
    }
    return 0;
}

int cli_tty_is_raw(void)
{
    return raw_fd >= 0;
}

void cli_tty_size(int fd, unsigned *rows, unsigned *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}
