#!/usr/bin/env bash
# Builds and runs Strata's libFuzzer targets (Fuzz/<Target>/main.swift).
#
#   tools/fuzz.sh [TARGET|all] [SECONDS]      default: all targets, 20 s each
#
# The library sources are compiled once (with fuzzer coverage and
# AddressSanitizer, -enable-testing so targets can reach internal decoders)
# into .build/fuzz/libStrata.a; each target links against it. Runs start from
# the committed seed corpus Fuzz/corpus/<target>/ (copied to a scratch
# corpus so new inputs do not dirty the repository). Crashing inputs are
# written to .build/fuzz/crashes/<target>/ and the script exits non-zero.
# Requires the Swift toolchain's clang runtime (libclang_rt.fuzzer), shipped
# with Swift on Linux, and liblz4-dev, libzstd-dev, libxxhash-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS_ALL="RecordDecoder BlockDecoder SegmentReader ManifestParser IngestParser IndexLoader Recovery SummaryFile DictionaryFile WordModel"
#   tools/fuzz.sh --make-corpus               regenerate Fuzz/corpus/ from real Strata bytes
WANT=${1:-all}
SECONDS_EACH=${2:-20}
[ "$WANT" = all ] && TARGETS=$TARGETS_ALL || TARGETS=$WANT
OUT=$ROOT/.build/fuzz
mkdir -p "$OUT"
SWIFTC=${SWIFTC:-swiftc}
CFLAGS=(-swift-version 6 -O -g -parse-as-library -sanitize=fuzzer,address
        -I "$ROOT/Sources/CLZ4" -I "$ROOT/Sources/CZstd" -I "$ROOT/Sources/CXXHash" -I "$ROOT/Sources/CZlib")
LIBS=(-llz4 -lzstd -lxxhash -lz)

# 1. The library, rebuilt when any source changes.
SOURCES=$(find Sources/Strata -name '*.swift' | sort)
STAMP=$(cat $SOURCES | sha256sum | cut -c1-16)
if [ ! -f "$OUT/libStrata.a" ] || [ "$(cat "$OUT/stamp" 2>/dev/null)" != "$STAMP" ]; then
    echo "fuzz: compiling the Strata library with -sanitize=fuzzer,address" >&2
    (cd "$OUT" && "$SWIFTC" "${CFLAGS[@]}" -enable-testing -module-name Strata -emit-module -emit-module-path "$OUT/Strata.swiftmodule" \
        -emit-library -static -o "$OUT/libStrata.a" $(for s in $SOURCES; do echo "$ROOT/$s"; done)) >"$OUT/build-lib.log" 2>&1 \
        || { cat "$OUT/build-lib.log"; exit 1; }
    echo "$STAMP" > "$OUT/stamp"
fi

if [ "$WANT" = --make-corpus ]; then
    # The library is instrumented, so the generator links the coverage runtime (without libFuzzer's main).
    rt=$(dirname "$(command -v "$SWIFTC")")/../lib/clang
    rt=$(ls "$rt"/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
    "$SWIFTC" -swift-version 6 -O -parse-as-library -sanitize=address -I "$OUT" -I "$ROOT/Sources/CLZ4" -I "$ROOT/Sources/CZstd" -I "$ROOT/Sources/CXXHash" -I "$ROOT/Sources/CZlib" \
        Fuzz/MakeCorpus/main.swift "$OUT/libStrata.a" "${LIBS[@]}" -Xlinker "$rt" -lstdc++ -o "$OUT/MakeCorpus" >"$OUT/build-MakeCorpus.log" 2>&1 \
        || { cat "$OUT/build-MakeCorpus.log"; exit 1; }
    rm -rf Fuzz/corpus && ASAN_OPTIONS=detect_leaks=0 "$OUT/MakeCorpus" "$ROOT/Fuzz/corpus"
    find Fuzz/corpus -type f | sort
    exit 0
fi

status=0
for t in $TARGETS; do
    [ -f "Fuzz/$t/main.swift" ] || { echo "fuzz: no target $t (have: $TARGETS_ALL)" >&2; exit 2; }
    bin=$OUT/$t
    if [ ! -x "$bin" ] || [ "Fuzz/$t/main.swift" -nt "$bin" ] || [ -n "$(find Sources/StrataTestSupport -newer "$bin" -name '*.swift')" ] || [ Fuzz/Common/FuzzSupport.swift -nt "$bin" ] || [ "$OUT/libStrata.a" -nt "$bin" ]; then
        echo "fuzz: building $t" >&2
        extra=()
        # Recovery runs the store on the tests' simulated file system (the StrataTestSupport target).
        [ "$t" = Recovery ] && extra=(Sources/StrataTestSupport/*.swift)
        "$SWIFTC" "${CFLAGS[@]}" -I "$OUT" -module-name "Fuzz$t" "Fuzz/$t/main.swift" Fuzz/Common/FuzzSupport.swift "${extra[@]}" \
            "$OUT/libStrata.a" "${LIBS[@]}" -o "$bin" >"$OUT/build-$t.log" 2>&1 || { cat "$OUT/build-$t.log"; exit 1; }
    fi
    corpus=$OUT/corpus/$t
    crashes=$OUT/crashes/$t
    mkdir -p "$corpus" "$crashes"
    [ -d "Fuzz/corpus/$t" ] && cp -n Fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
    log=$OUT/$t.log
    set +e
    ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    found=$(ls "$crashes" | wc -l)
    if [ $rc -ne 0 ]; then
        status=1
        echo "fuzz: $t FAILED (exit $rc): $runs runs, $rate exec/s; crash inputs in $crashes; log $log"
        grep -m5 -E 'runtime failure|Fatal error|deadly signal|ERROR: (AddressSanitizer|libFuzzer)' "$log" | grep -v memserver || true
    else
        echo "fuzz: $t ok: $runs runs in ${SECONDS_EACH}s, $rate exec/s, 0 crashes"
    fi
done
exit $status
