/* placeholder: being written */
#include "quants-iq.h"
void prima_quants_iq_ref_register (prima_type_traits *table) { (void) table; }
