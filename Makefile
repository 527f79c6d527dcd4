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

# RabbitMQ runs beside it (a private node on loopback, port 5679, data under .build) so
# that every run prints Switchboard's ratio to it, and a private PostgreSQL (port 5680)
# for the broker on PostgreSQL and the failover; both are stopped however the run ends.
bench:
	@scripts/bootstrap.sh bench
	swift build -c release --product switchboardd
	swift build -c release --product switchboard-gateway
	swift build -c release --product switchboard-bench
	cc -O2 -o .build/amqp-load bench/amqp-load.c -lrabbitmq -lpthread
	rm -rf .build/rabbitmq-bench .build/postgres-bench
	scripts/rabbitmq.sh start .build/rabbitmq-bench 5679
	scripts/postgres.sh start .build/postgres-bench 5680 || { scripts/rabbitmq.sh stop .build/rabbitmq-bench; exit 1; }
	.build/release/switchboard-bench --rabbitmq-port 5679 --postgres-port 5680 $(ARGS); status=$$?; \
	  scripts/rabbitmq.sh stop .build/rabbitmq-bench; scripts/postgres.sh stop .build/postgres-bench; exit $$status
