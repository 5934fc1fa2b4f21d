/* agent_path — which boxlet-agent binary boxes run: the one that belongs to
 * the program asking. See agent_path.c. */
#ifndef BOXLET_RUNTIME_AGENT_PATH_H
#define BOXLET_RUNTIME_AGENT_PATH_H

#include <stddef.h>

/* Writes the agent's path into out (n bytes): $BOXLET_AGENT when set; else,
 * when the code running lies in this build tree, the build tree's agent;
 * else the installed agent beside the library or program (the install
 * layout's relative path), else the configured install path. The path is
 * not checked for existence except to choose between the installed ones. */
void agent_path_find(char *out, size_t n);

#endif
