# fernetflow — see README.md. Every target works from a clean clone.
SHELL := /bin/bash
GO        ?= go
BIN       := bin/fernetflow
PKGS      := ./...
FUZZTIME  ?= 10s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build test integration bench fuzz demo lint promtool clean

build:
	$(GO) build -o $(BIN) ./cmd/fernetflow

## test: unit tests with the race detector, plus vet (the README's test command)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

## integration: suites against Debian's Keystone, python3-cryptography, age,
## python3-yaql/mistral; each suite starts what it needs on 127.0.0.1 and stops it.
integration: build
	$(GO) test -tags integration -count=1 -timeout 50m -v ./test/integration/...

## bench: every Go benchmark; compare runs with benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=6 $(PKGS)

## fuzz: run each Fuzz target for FUZZTIME (.ci/fuzz says how a failure
## is told from golang/go#75804, Go's own deadline race)
fuzz:
	GO=$(GO) bash .ci/fuzz $(FUZZTIME)

## demo: the main job on a throwaway local repository, no cloud needed
demo: build
	./$(BIN) demo

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## promtool: check the example alert rules and run their unit tests with
## Debian's promtool (package prometheus); fails when promtool is missing
promtool:
	promtool check rules examples/prometheus/fernetflow.rules.yml
	cd examples/prometheus && promtool test rules fernetflow.rules.test.yml

clean:
	rm -rf bin
