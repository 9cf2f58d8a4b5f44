// The C side of the ABI is the header alone (include/strata.h); this file
// only pins the layout the Swift implementation (Sources/StrataC) relies on.
#include "strata.h"

_Static_assert(sizeof(strata_error) == 56, "strata_error layout is part of ABI version 1");
_Static_assert(offsetof(strata_error, field) == 48, "strata_error layout is part of ABI version 1");
