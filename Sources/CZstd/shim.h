// Only includes the system header; see Package.swift (libzstd via pkg-config).
#include <zstd.h>
// Static-only ZDICT API (fastCover with fixed parameters): exported by libzstd.so 1.5.
#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>
