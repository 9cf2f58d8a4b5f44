// The physical floor of ingest's block compression on one core: reads every
// LZ4 block frame (SPEC.md §3.1, type 1) of a store's segments, decompresses
// them, then times LZ4 compression of exactly those raw blocks in-process on
// one thread (LZ4_compress_default and LZ4_compress_fast with accelerations),
// plus memcpy and XXH3 of the same bytes for scale.
// Build: cc -O2 -o /tmp/lz4_floor tools/lz4_floor.c -llz4 -lxxhash
// Run:   /tmp/lz4_floor STORE_DIR [reps]
#define _GNU_SOURCE
#include <dirent.h>
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

typedef struct { char *raw; int rawLen; } Block;
static Block *blocks; static size_t nblocks, cap;
static long long rawTotal, storedTotal;

static uint32_t u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void segment(const char *path) {
  FILE *f = fopen(path, "rb"); if (!f) return;
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(n); if (fread(b, 1, n, f) != (size_t)n) { fclose(f); free(b); return; } fclose(f);
  long off = 32;
  while (off + 24 <= n) {
    int type = b[off + 8]; uint32_t stored = u32(b + off + 12), raw = u32(b + off + 16);
    if (off + 24 + (long)stored > n) break;
    if (type == 1) {
      char *out = malloc(raw);
      if (LZ4_decompress_safe((const char *)b + off + 24, out, stored, raw) == (int)raw) {
        if (nblocks == cap) { cap = cap ? cap * 2 : 1024; blocks = realloc(blocks, cap * sizeof(Block)); }
        blocks[nblocks++] = (Block){out, raw}; rawTotal += raw; storedTotal += stored;
      } else free(out);
    }
    if (type == 16) break;
    off += 24 + stored;
  }
  free(b);
}

static void walk(const char *dir) {
  DIR *d = opendir(dir); if (!d) return; struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096]; snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st; if (stat(p, &st)) continue;
    if (S_ISDIR(st.st_mode)) walk(p);
    else if (strncmp(e->d_name, "seg-", 4) == 0) segment(p);
  }
  closedir(d);
}

static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s STORE [reps]\n", argv[0]); return 2; }
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  walk(argv[1]);
  printf("%zu LZ4 blocks, %.1f MB raw, %.1f MB stored (ratio %.3f)\n", nblocks, rawTotal / 1e6, storedTotal / 1e6, (double)rawTotal / storedTotal);
  char *dst = malloc(LZ4_compressBound(64 << 20)); void *state = malloc(LZ4_sizeofState());
  int accels[] = {1, 2, 3, 4, 8};
  for (int a = -1; a < 5; a++) {
    double best = 1e9; long long out = 0;
    for (int r = 0; r < reps; r++) {
      out = 0; double t = cpu();
      for (size_t i = 0; i < nblocks; i++) {
        if (a < 0) out += LZ4_compress_default(blocks[i].raw, dst, blocks[i].rawLen, LZ4_compressBound(blocks[i].rawLen));
        else out += LZ4_compress_fast_extState(state, blocks[i].raw, dst, blocks[i].rawLen, LZ4_compressBound(blocks[i].rawLen), accels[a]);
      }
      t = cpu() - t; if (t < best) best = t;
    }
    if (a < 0) printf("LZ4_compress_default           : %6.3f CPU s, %6.0f MB/s raw, %.1f MB out\n", best, rawTotal / 1e6 / best, out / 1e6);
    else printf("LZ4_compress_fast_extState a=%d : %6.3f CPU s, %6.0f MB/s raw, %.1f MB out\n", accels[a], best, rawTotal / 1e6 / best, out / 1e6);
  }
  double best = 1e9; char *m = malloc(64 << 20);
  for (int r = 0; r < reps; r++) { double t = cpu(); for (size_t i = 0; i < nblocks; i++) memcpy(m, blocks[i].raw, blocks[i].rawLen); t = cpu() - t; if (t < best) best = t; }
  printf("memcpy                         : %6.3f CPU s, %6.0f MB/s\n", best, rawTotal / 1e6 / best);
  best = 1e9; unsigned long long h = 0;
  for (int r = 0; r < reps; r++) { double t = cpu(); for (size_t i = 0; i < nblocks; i++) h ^= XXH3_64bits(blocks[i].raw, blocks[i].rawLen); t = cpu() - t; if (t < best) best = t; }
  printf("XXH3_64 (raw)                  : %6.3f CPU s, %6.0f MB/s (%llx)\n", best, rawTotal / 1e6 / best, h & 0xff);
  return 0;
}
