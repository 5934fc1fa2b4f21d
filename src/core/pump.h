/* pump — copies bytes both ways between two connected stream sockets with a
 * bounded buffer per direction, passing half-close through: when one side
 * reports EOF, the other is shut for writing once every byte before it was
 * written. It never blocks (the descriptors are non-blocking) and never
 * reads from a side whose bytes the other side has not taken yet, so a peer
 * that stops reading stops only its own connection: the kernel's socket
 * buffers then push back on the sender. Used by the agent's host-port relay,
 * its port connections and published ports, and by boxlet_stream_relay.
 * Not for framed protocols: bytes are opaque here. */
#ifndef BOXLET_CORE_PUMP_H
#define BOXLET_CORE_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUMP_BUF 16384 /* bytes in flight per direction */

/* Bytes read from one side, waiting to be written to the other. */
typedef struct pump_half {
    uint8_t buf[PUMP_BUF];
    size_t off, len;
    bool eof;  /* the reading side reported EOF */
    bool shut; /* ... and the writing side was shut after the last byte */
} pump_half;

typedef struct pump {
    int fd[2];
    pump_half h[2]; /* h[i] is read from fd[i] and written to fd[1 - i] */
    bool dead;      /* an error on either side: give up the whole connection */
} pump_t;

/* Starts a pump between a and b (both non-blocking; the pump owns neither). */
void pump_init(pump_t *p, int a, int b);
/* Moves what can move now, until nothing does; true if anything moved. */
bool pump_step(pump_t *p);
/* The same, for at most `rounds` reads and writes per direction (< 0: no
 * bound), so that one busy pump among many served by a loop cannot keep
 * it for as long as its peers keep up; what is left is reported again by
 * pump_events. */
bool pump_step_some(pump_t *p, int rounds);
/* True once both directions ended (EOF passed on) or the pump died. */
bool pump_done(const pump_t *p);
/* The poll(2) events side i waits for now (0: none, leave it out). */
short pump_events(const pump_t *p, int side);
/* Pumps a and b until both directions ended or either side failed,
 * blocking in poll(2); makes both non-blocking. Returns 0 after a clean end,
 * -1 after an error on either side. Closes neither. */
int pump_run(int a, int b);

#endif
