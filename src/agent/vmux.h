/* vmux — several stream connections over the one byte stream a micro-VM
 * has to its host (a virtio-serial port; docs/vm.md, "The link"). Both
 * ends run this loop: the host end accepts connections on a unix socket
 * and opens a stream for each; the guest end connects each stream it is
 * told of to the agent's socket. Each stream has its own flow-control
 * window in each direction, so a stream whose reader stalls stops only
 * itself: the link keeps carrying every other stream (the agent's
 * PAUSE/RESUME discipline, one level down). Not for the agent protocol's
 * content, which it carries untouched.
 *
 * Frames: a 12-byte header (stream id, type, payload length; little
 * endian) and at most VMUX_MAX_PAYLOAD bytes. Types: READY (guest: the
 * port is open), OPEN, DATA, CLOSE, CREDIT (its 4-byte payload: bytes
 * granted), SHUTDOWN (host: stop the agent, sync, power off).
 * A peer that breaks the rules (an oversized frame, data past its window)
 * ends the link on the host end; the host never trusts the guest. */
#ifndef BOXLET_AGENT_VMUX_H
#define BOXLET_AGENT_VMUX_H

#include <stdbool.h>
#include <stdint.h>

#define VMUX_HEADER 12
#define VMUX_MAX_PAYLOAD 65536
#define VMUX_WINDOW (256 * 1024) /* bytes in flight per stream and direction */
#define VMUX_MAX_STREAMS 256

typedef struct vmux_end {
    int link;               /* the stream to the other end (nonblocking) */
    bool host;              /* host end: accept on listen_fd; else connect to agent_sock */
    int listen_fd;          /* host end: where local clients connect */
    const char *agent_sock; /* guest end: the agent's socket */
    int ready_fd;           /* host end: "ready\n" when the guest said READY; -1 */
    int stop_fd;            /* readable (a signalfd, say) = return; -1 for none */
    int agent_pid;          /* guest end: SIGTERMed on SHUTDOWN; 0 for none */
} vmux_end;

/* Runs the end until (guest) stop_fd is readable or the host's SHUTDOWN
 * is done, or (host) the link ends or breaks the rules. On SHUTDOWN the
 * guest end SIGTERMs agent_pid and goes on relaying until every stream has
 * closed (the agent's last frames, an execution's EXIT on a box stop,
 * reach their clients) and the link is flushed. On the host end a
 * readable stop_fd sends SHUTDOWN and waits for the link to end (QEMU
 * exits once the guest powered off). The guest end outlives a host that
 * goes away and serves the next one. Returns 0 on a stop, -1 when the link
 * ended otherwise or broke the rules. */
int vmux_run(const vmux_end *end);

/* boxlet-agent --vmux-host LISTEN_FD LINK_PATH READY_FD: the host end,
 * connected to QEMU's chardev socket LINK_PATH (retried for 60 s). */
int vmux_host_main(int argc, char **argv);

#endif
