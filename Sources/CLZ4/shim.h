// Only includes the system header; see Package.swift (liblz4 via pkg-config).
#include <lz4.h>
#include <lz4hc.h>
