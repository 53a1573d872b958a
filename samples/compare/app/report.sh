#!/bin/sh
# Sales per region from a CSV: the same small batch job on a Debian base and on an Alpine base, so `slim compare`
# can show what each base costs and what slimming leaves of each. Needs only a POSIX shell, awk and sort.
set -eu
data="${DATA:-/app/data/sales.csv}"
echo "region,orders,total"
tail -n +2 "$data" | awk -F, '{ orders[$2]++; total[$2] += $3 } END { for (r in orders) printf "%s,%d,%.2f\n", r, orders[r], total[r] }' | sort
