/* placeholder: being written */
#include <stdio.h>
#include "prima-commands.h"
int prima_cmd_eval (int argc, char **argv) { (void) argc; (void) argv; fprintf (stderr, "prima eval: not built yet\n"); return 1; }
