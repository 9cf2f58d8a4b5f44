#!/usr/bin/env python3
"""Writes one partition of 4,000 distinct examples (domain bench4k, 2025-06) from
the first 4,000 lines of a gen_corpus.py corpus: the one-partition workload of
tools/bench_export.sh and tools/growth.sh.   usage: p4k.py CORPUS OUT"""
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], 'w') as o:
    for i, l in enumerate(f):
        if i >= 4000: break
        d = json.loads(l); d['domain'] = 'bench4k'; d['timestamp'] = '2025-06-%02dT10:00:00.%03dZ' % (1 + i % 28, i % 1000)
        if 'instruction' in d: d['instruction'] += ' #b'
        elif 'prompt' in d: d['prompt'] += ' #b'
        else: d['messages'][-1]['content'] += ' #b'
        o.write(json.dumps(d, ensure_ascii=False) + '\n')
