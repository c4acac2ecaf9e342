/* placeholder: being written */
#include <stdio.h>
#include "prima-commands.h"
int prima_cmd_tokenize (int argc, char **argv) { (void) argc; (void) argv; fprintf (stderr, "prima tokenize: not built yet\n"); return 1; }
