/* placeholder: being written */
#include "quants.h"
void prima_quants_ref_register (prima_type_traits *table) { (void) table; }
