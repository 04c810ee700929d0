# GeoETL Scheduler. `make run` starts the service on SQLite; `make test`
# runs every test (PostgreSQL and browser tests skip outside CI when their
# server or browser is missing, and fail in CI).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/geoetl
FUZZTIME  ?= 30s

.PHONY: run build test generate generate-check lint bench bench-binary fuzz chaos load clean

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/geoetl serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/geoetl

generate:
	$(GO) tool templ generate

# Fails when a generated *_templ.go file does not match its .templ source.
generate-check:
	$(GO) tool templ generate -check

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Packages run two at a time (go test's default on a 2-core machine);
# inside a package, up to 4 tests that call t.Parallel run at once, since
# most of their time is spent waiting (for a database to be created, a
# browser, a scenario's clock), not computing. The chaos package runs all
# its short scenarios at once (it raises -parallel itself; they mostly
# sleep, and only four of them use PostgreSQL). More packages at once
# would also add PostgreSQL sessions: the cluster and chaos tests alone
# hold about 140 of the 300 CI allows.
test: generate-check lint
	$(GO) test -count=1 -parallel 4 -timeout 20m ./...

# In-process benchmarks (go test), then the real binary measured from
# outside (bench-binary).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./...
	$(MAKE) bench-binary

# The real `geoetl serve` on SQLite, driven and measured from outside: N
# every-second no-op schedules created through the API and lined up by
# next_run_at, the executions table read after a graceful stop, CPU and
# memory of the whole process tree from /proc (flags: go run
# ./internal/cmd/geoetl-load -h). Then the same after 3 minutes down, and an
# import of 100,000 schedules.
BENCHSCHEDULES ?= 1000 10000
BENCHDURATION  ?= 60s
bench-binary:
	@for n in $(BENCHSCHEDULES); do $(GO) run ./internal/cmd/geoetl-load -sched -schedules $$n -duration $(BENCHDURATION) -lead 20s || true; done
	$(GO) run ./internal/cmd/geoetl-load -sched -schedules 1000 -duration 30s -down 3m
	$(GO) run ./internal/cmd/geoetl-load -import 100000

# Every fuzz target of these packages, each for FUZZTIME (the seeds and a
# bounded mutation run are part of `make test` already).
FUZZPKGS  ?= ./cron ./etl ./handlers ./internal/badinput
fuzz:
	@for pkg in $(FUZZPKGS); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The long chaos runs (minutes per scenario with the production lease of
# 30 s; restarts the PostgreSQL server, which needs root). `make test` runs
# the same scenarios briefly, on a 6 s lease, all at once. The full
# log goes to CHAOSLOG; the scenario reports are printed at the end.
CHAOSLOG  ?= $(or $(TMPDIR),/tmp)/geoetl-chaos.log
chaos:
	@GEOETL_CHAOS_LONG=1 $(GO) test -count=1 -v -timeout 90m -run 'TestChaos|TestCheck' ./internal/chaos/ > $(CHAOSLOG) 2>&1; rc=$$?; \
	  grep -E 'chaos report|^(--- |ok|FAIL)' $(CHAOSLOG); exit $$rc

# The load test: 1,000 every-second schedules under concurrent API readers
# and writers, and a 100,000-schedule list (flags: go run ./internal/cmd/geoetl-load -h).
LOADFLAGS ?=
load:
	$(GO) run ./internal/cmd/geoetl-load $(LOADFLAGS)

clean:
	rm -rf bin
