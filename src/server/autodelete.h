/* autodelete — the thread of `boxlet serve` that removes stopped boxes
 * whose auto_delete has run out (docs/boxes.md, "Lifecycle"), off the
 * event loop, on a runtime of its own. Private to src/server. */
#ifndef BOXLET_SERVER_AUTODELETE_H
#define BOXLET_SERVER_AUTODELETE_H

typedef struct autodelete autodelete;

/* Starts the thread on home (NULL: the default); NULL when it could not
 * start (the server runs on, without it, and says so). */
autodelete *autodelete_start(const char *home);
/* Stops the thread and frees it. NULL: no-op. */
void autodelete_stop(autodelete *a);

#endif
