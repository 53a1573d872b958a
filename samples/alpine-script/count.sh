#!/bin/sh
# Word statistics with busybox tools only.
set -eu
echo "lines: $(wc -l < /data/words.txt)"
echo "most common:"
tr -s ' ' '\n' < /data/words.txt | sort | uniq -c | sort -rn | head -n 3 | awk '{print "  " $2 " " $1}'
echo "digest: $(sha256sum /data/words.txt | cut -c1-16)"
