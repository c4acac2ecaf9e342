/* placeholder: being written */
#include <stdio.h>
#include "prima-commands.h"
int prima_cmd_bench (int argc, char **argv) { (void) argc; (void) argv; fprintf (stderr, "prima bench: not built yet\n"); return 1; }
