# GeoETL Scheduler. `make run` starts the service on SQLite; `make test`
# runs every test (PostgreSQL and browser tests skip outside CI when their
# server or browser is missing, and fail in CI).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/geoetl
FUZZTIME  ?= 30s

.PHONY: run build test generate generate-check lint bench fuzz chaos load clean

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

test: generate-check lint
	$(GO) test -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./cron/
	$(GO) test -run '^$$' -fuzz FuzzNext -fuzztime $(FUZZTIME) ./cron/

clean:
	rm -rf bin
