# ttpstore build, generation and test entry points. sqlc and goose are
# pinned in tools/go.mod and run through `go tool`, so a fresh machine
# fetches and builds exactly those versions on first use.

GO      ?= go
SQLC    := $(GO) tool -modfile=tools/go.mod sqlc
GOOSE   := $(GO) tool -modfile=tools/go.mod goose
# The MySQL leg of the suites; TTP_REQUIRE_MYSQL=1 makes a skipped leg fail.
TTP_TEST_MYSQL_DSN ?= root@tcp(127.0.0.1:3306)/
export TTP_TEST_MYSQL_DSN
# Extra flags for go test, e.g. GOTESTFLAGS=-v.
GOTESTFLAGS ?=

.PHONY: all build generate check-generated test test-sqlite mariadb vet bench demo

all: build

build:
	$(GO) build ./...

## generate: regenerate db/sqlitedb and db/mysqldb from queries/ and migrations/.
generate:
	$(SQLC) generate

## check-generated: fail when the committed generated code is stale.
check-generated: generate
	@git diff --exit-code -- db/ || { echo "generated code in db/ is stale: run 'make generate' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- db/)" || { git status --short -- db/; echo "untracked generated files in db/: run 'make generate' and commit" >&2; exit 1; }

## mariadb: make sure MariaDB answers on 127.0.0.1:3306 (starts or installs it).
mariadb:
	./scripts/mariadb-up

## test: every suite, SQLite and MySQL; fails if the MySQL leg cannot run.
test: mariadb
	TTP_REQUIRE_MYSQL=1 $(GO) test -count=1 $(GOTESTFLAGS) ./...

## test-sqlite: the suites on SQLite only, no server needed.
test-sqlite:
	TTP_TEST_MYSQL_DSN= $(GO) test -count=1 $(GOTESTFLAGS) ./...

vet:
	$(GO) vet ./...

## bench: ingest and rollup benchmarks on SQLite, and on MySQL when
## TTP_TEST_MYSQL_DSN is set (set it empty for SQLite only). Query tables
## are built once and cached; sizes and knobs: README, "Performance".
BENCHFLAGS ?=
bench:
	$(GO) test -run '^$$' -bench '^BenchmarkIngest$$' -benchtime=1x -timeout 60m $(BENCHFLAGS) ./tests
	$(GO) test -run '^$$' -bench '^BenchmarkQuery$$' -benchtime=2000x -timeout 60m $(BENCHFLAGS) ./tests
	$(GO) test -run '^$$' -bench '^BenchmarkFlatness$$' -benchtime=2000x -timeout 60m $(BENCHFLAGS) ./tests
	$(GO) test -run '^$$' -bench '^BenchmarkPreparedStatements$$' -benchtime=2000x -timeout 60m $(BENCHFLAGS) ./tests

## demo: the main job on an embedded SQLite database.
demo:
	$(GO) run ./cmd/ttpctl demo
