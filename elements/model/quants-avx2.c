/* placeholder: being written */
#include "quants.h"
void prima_quants_avx2_register (prima_type_traits *table) { (void) table; }
