// swift-tools-version:6.1
// Strata: an embedded, append-only store for ML training examples. See README.md and SPEC.md.
import PackageDescription

let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        .executable(name: "strata", targets: ["StrataCLI"]),
        // The stable C ABI (Sources/StrataABI/include/strata.h, docs/C_ABI.md), loaded by the Python package.
        .library(name: "StrataC", type: .dynamic, targets: ["StrataC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Thin shims over Debian's liblz4-dev, libzstd-dev and libxxhash-dev.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        // zlib (gzip input to `strata ingest`).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "Strata",
            dependencies: ["CLZ4", "CZstd", "CXXHash", "CZlib"]
        ),
        .executableTarget(
            name: "StrataCLI",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // Release builds link the Swift runtime and Foundation statically: loading and
            // relocating ~15 shared libraries cost about half of a short command's CPU
            // (README, Performance: one partition). Foundation's static archives do not
            // name their own dependencies, hence the explicit group.
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--start-group", "-lFoundation", "-lCoreFoundation",
                                           "-l_FoundationICU", "-lFoundationInternationalization", "-lFoundationEssentials",
                                           "-l_FoundationCShims", "-l_FoundationCollections", "-lswiftSynchronization",
                                           "-Xlinker", "--end-group", "-lstdc++"],
                                          .when(platforms: [.linux], configuration: .release))]
        ),
        // C ABI: the header (a C target, so Swift sees the same declarations) and its Swift implementation.
        // RUNPATH is $ORIGIN only: python/ bundles the Swift runtime next to libStrataC.so.
        .target(name: "StrataABI"),
        .target(
            name: "StrataC",
            dependencies: ["Strata", "StrataABI"],
            linkerSettings: [.unsafeFlags(["-no-toolchain-stdlib-rpath", "-Xlinker", "-rpath", "-Xlinker", "$ORIGIN"])]
        ),
        // Test-only, in no product: fault-injecting and crash-simulating file systems
        // shared by the tests, the fuzzers (tools/fuzz.sh) and StrataFault.
        .target(name: "StrataTestSupport", dependencies: ["Strata"]),
        // Test-only, in no product: runs compaction and maintenance on a FaultFileSystem
        // in a real process, so crash tests kill real processes at named points.
        .executableTarget(name: "StrataFault", dependencies: ["Strata", "StrataTestSupport"]),
        // Fixtures (inputs and golden stores) are read by path at run time, not bundled.
        .testTarget(name: "StrataTests", dependencies: ["Strata", "StrataTestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
