/* placeholder: being written */
#include "quants-iq.h"
void prima_quants_iq_avx2_register (prima_type_traits *table) { (void) table; }
