# The README's two commands. Each installs what is missing first.
#   make run   builds and starts switchboardd on its embedded defaults
#   make test  builds everything and runs the whole test suite
#   make bench builds in release mode and runs switchboard-bench (ARGS="--depth 1000000")
.PHONY: run test build bench

run:
	@scripts/bootstrap.sh run
	swift run switchboardd $(ARGS)

build:
	@scripts/bootstrap.sh
	swift build --build-tests

test: build
	@scripts/bootstrap.sh test
	swift test --skip-build
	@if [ -d Tests/Interop ] && ls Tests/Interop/test_*.py >/dev/null 2>&1; then \
	  SWITCHBOARDD="$$(swift build --show-bin-path)/switchboardd" python3 -m pytest -q Tests/Interop; fi

bench:
	@scripts/bootstrap.sh
	swift build -c release --product switchboardd
	swift build -c release --product switchboard-gateway
	swift build -c release --product switchboard-bench
	.build/release/switchboard-bench $(ARGS)
