// Only includes the system header; see Package.swift (zlib via pkg-config).
#include <zlib.h>
