#!/bin/sh
# jsonapi-rounds.sh STORE BATCH CALLS ROUNDS: the registration loads of
# BenchmarkJSONAPI (registerURLs, PUT /links, PUT /sources; 50 clients
# through a whole lmsd) alternated round by round, each in a process and on a
# store of its own, the order changed every round, so that the machine's
# drift falls on all three alike. It prints every run, then per load the sum
# of URLs/s over the rounds and its ratio to registerURLs'.
#
#   sh bench/jsonapi-rounds.sh bolt 100 1200 8
#   LMS_REQUIRE_POSTGRES=1 sh bench/jsonapi-rounds.sh postgres 100 1200 8
set -eu
store=${1:?store: bolt or postgres} batch=${2:?batch} calls=${3:-600} rounds=${4:-4}
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/lmsd.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./examples/lmsd
cd examples/lmsd
r=1
while [ "$r" -le "$rounds" ]; do
	if [ $((r % 2)) -eq 0 ]; then order="PUT-sources PUT-links registerURLs"; else order="registerURLs PUT-links PUT-sources"; fi
	for load in $order; do
		"$bin" -test.run '^$' -test.bench "BenchmarkJSONAPI/$store/batch=$batch\$/$load\$" -test.benchtime "${calls}x" |
			awk -v r="$r" -v load="$load" '/urls\/s/ { print "round", r, load, $(NF-1), "URLs/s" }'
	done
	r=$((r + 1))
done | tee /dev/stderr | awk '
	{ sum[$3] += $4 }
	END { for (l in sum) printf "%-13s sum %8d URLs/s  %.3fx of registerURLs\n", l, sum[l], sum[l] / sum["registerURLs"] }'
