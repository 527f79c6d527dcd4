#!/usr/bin/env bash
# Builds and runs a libFuzzer target: scripts/fuzz.sh mdp|envelope [seconds]
# The binary lands in .build-fuzz/; crashes are written there as crash-* files.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh mdp|envelope [seconds]}
seconds=${2:-60}
mkdir -p .build-fuzz
case "$target" in
  mdp)
    # MDP.swift imports ZeroMQ; compile Frame.swift into a module of that name.
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name ZeroMQ -emit-library -static \
      -emit-module -emit-module-path .build-fuzz/ZeroMQ.swiftmodule -o .build-fuzz/libZeroMQ.a Sources/ZeroMQ/Frame.swift
    swiftc -sanitize=fuzzer,address -parse-as-library -O -I .build-fuzz -L .build-fuzz -lZeroMQ \
      -o .build-fuzz/fuzz-mdp Sources/Majordomo/MDP.swift Fuzz/FuzzMDP.swift
    ;;
  envelope)
    swiftc -sanitize=fuzzer,address -parse-as-library -O -o .build-fuzz/fuzz-envelope \
      Sources/SwitchboardCore/JSONValue.swift Sources/SwitchboardCore/EnvelopeDecoder.swift \
      Sources/SwitchboardCore/Inquiry.swift Sources/SwitchboardCore/IngestError.swift Sources/SwitchboardCore/InquiryID.swift \
      Fuzz/FuzzEnvelope.swift
    ;;
  *) echo "unknown target $target: mdp or envelope" >&2; exit 2 ;;
esac
cd .build-fuzz && "./fuzz-$target" -max_total_time="$seconds" -max_len=70000
