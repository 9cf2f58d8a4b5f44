// Only includes the system header; see Package.swift (libxxhash via pkg-config).
#include <xxhash.h>
