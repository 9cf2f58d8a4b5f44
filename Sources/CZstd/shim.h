// Only includes the system header; see Package.swift (libzstd via pkg-config).
#include <zstd.h>
#include <zdict.h>
