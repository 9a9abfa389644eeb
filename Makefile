# Makefile - the one build for the tree: libgman, the server, tools, tests, benchmark.
# Everything lands under $(BUILD), which mirrors the source folders. No autotools.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
SAN      ?=
WARN      = -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
CPPFLAGS += -D_GNU_SOURCE -I. -I$(BUILD)
CFLAGS   += $(OPT) -g -fPIC $(WARN) $(SAN)
LDFLAGS  += $(SAN)
EVENT_CFLAGS := $(shell pkg-config --cflags libevent_pthreads 2>/dev/null)
EVENT_LIBS   := $(shell pkg-config --libs libevent_core libevent_pthreads 2>/dev/null || echo -levent_core -levent_pthreads)
CMOCKA_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
DB_CFLAGS    := $(shell pkg-config --cflags libpq libmariadb 2>/dev/null)
DB_LIBS      := $(shell pkg-config --libs libpq libmariadb 2>/dev/null || echo -lpq -lmariadb)

LIBGMAN_SRC := $(sort $(wildcard libgman/*.c))
LIBGMAN_OBJ := $(LIBGMAN_SRC:%.c=$(BUILD)/%.o)
LIBGMAN     := $(BUILD)/libgman.a

QB_SRC      := $(sort $(wildcard queue_backends/*.c))
QB_OBJ      := $(QB_SRC:%.c=$(BUILD)/%.o)
QB_LIB      := $(BUILD)/libqb.a
SERVER_SRC  := $(sort $(wildcard server/*.c))
SERVER_OBJ  := $(SERVER_SRC:%.c=$(BUILD)/%.o)
SERVER_LIB_OBJ := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ))

BENCH_SRC   := $(sort $(wildcard bench/*.c))
BENCH_BIN   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

UNIT_LIBGMAN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/libgman/test_*.c)))
UNIT_SERVER  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/server/test_*.c)))
UNIT_QB      := $(BUILD)/tests/queue_backends/test_pg_bset
UNIT_TESTS   := $(UNIT_LIBGMAN) $(UNIT_SERVER) $(UNIT_QB)
CONTRACT_TEST := $(BUILD)/tests/queue_backends/test_contract
PG_TEST      := $(BUILD)/tests/queue_backends/test_postgres
PG_BATCH_TEST := $(BUILD)/tests/queue_backends/test_pg_batch
MYSQL_TEST   := $(BUILD)/tests/queue_backends/test_mysql

TOOLS_OBJ   := $(BUILD)/tools/opts.o
TOOLS       := $(BUILD)/gearman $(BUILD)/gearadmin

PROGRAMS := $(BUILD)/gearmand $(BENCH_BIN) $(TOOLS)

# MySQL/MariaDB UDF plugin (udf_mysql/): rules below, with install-udf and test-udf
UDF_SRC  := $(sort $(wildcard udf_mysql/*.c))
UDF_OBJ  := $(UDF_SRC:%.c=$(BUILD)/%.o)
UDF_SO   := $(BUILD)/libgearman_mysql_udf.so
PROGRAMS += $(UDF_SO)

.PHONY: all deps run test test-unit test-db test-integration test-tools test-asan test-tsan bench format format-check clean install-pg test-pg bench-pg

all: $(LIBGMAN) $(PROGRAMS) $(UNIT_TESTS)

deps:
	@sh scripts/deps.sh

run: deps all
	$(BUILD)/gearmand -L 127.0.0.1 -p 4730 -q memory -l stderr --verbose INFO

test: deps
	$(MAKE) all
	$(MAKE) test-unit test-integration test-tools test-db test-pg test-durable test-udf

test-unit: $(UNIT_TESTS)
	@sh tests/run_unit.sh $(UNIT_TESTS)

test-db: $(BUILD)/gearmand $(CONTRACT_TEST) $(PG_TEST) $(PG_BATCH_TEST) $(MYSQL_TEST)
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) sh tests/queue_backends/run.sh

.PHONY: test-durable
test-durable: $(BUILD)/gearmand $(BENCH_BIN)
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) bash tests/durable/run.sh

test-integration: $(BUILD)/gearmand
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) sh tests/integration/run.sh

test-tools: $(BUILD)/gearmand $(TOOLS)
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) sh tests/tools/run.sh

test-asan: deps
	$(MAKE) BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    test-unit test-integration test-tools test-db test-durable

test-tsan: deps
	$(MAKE) BUILD=build/tsan OPT=-O1 SAN="-fsanitize=thread" all
	$(MAKE) BUILD=build/tsan OPT=-O1 SAN="-fsanitize=thread" test-integration

# PostgreSQL extension (ext_postgres/, PGXS): install into the PostgreSQL of PG_CONFIG (as root),
# then pgTAP tests on a throwaway cluster with build/gearmand and real workers.
PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)

install-pg: $(LIBGMAN)
	$(MAKE) -C ext_postgres PG_CONFIG=$(PG_CONFIG) LIBGMAN=$(abspath $(LIBGMAN)) install

test-pg: install-pg $(BUILD)/gearmand
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) bash tests/ext_postgres/run.sh

bench-pg: install-pg $(BUILD)/gearmand
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) bash bench/pg_ext.sh

# MySQL/MariaDB UDF plugin: libgman linked in, hidden visibility, only the UDF entry points
# exported; -z nodelete keeps it mapped after DROP FUNCTION (thread-exit destructors point into it).
.PHONY: install-udf test-udf bench-udf
$(UDF_OBJ): CFLAGS += -fvisibility=hidden

$(UDF_SO): $(UDF_OBJ) $(LIBGMAN)
	$(CC) $(LDFLAGS) -shared -Wl,-z,defs -Wl,-z,nodelete -Wl,--exclude-libs,ALL -o $@ $^ \
	    -lpthread -ldl

install-udf: $(UDF_SO)
	@sh udf_mysql/install.sh $(UDF_SO)

test-udf: $(BUILD)/gearmand $(BUILD)/gearadmin $(UDF_SO)
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) bash tests/udf_mysql/run.sh

bench-udf: $(BUILD)/gearmand $(BUILD)/gearadmin $(UDF_SO)
	@GEARMAND_BIN=$(abspath $(BUILD)/gearmand) BUILD_DIR=$(abspath $(BUILD)) bash bench/mysql_udf.sh

# make bench: each benchmark in turn prints its table; a failing one does not stop the others but
# fails the target. bench/pg_ext.sh runs through bench-pg (which installs the extension first).
bench: deps all
	@rc=0; b=$(abspath $(BUILD)); \
	BUILD_DIR=$$b sh bench/run.sh || rc=1; \
	BUILD_DIR=$$b bash bench/durable.sh || rc=1; \
	BUILD_DIR=$$b sh bench/client.sh || rc=1; \
	if [ -f bench/pg_ext.sh ]; then $(MAKE) --no-print-directory bench-pg || rc=1; fi; \
	if [ -f bench/mysql_udf.sh ]; then \
	    GEARMAND_BIN=$$b/gearmand BUILD_DIR=$$b bash bench/mysql_udf.sh || rc=1; fi; \
	exit $$rc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(EVENT_CFLAGS) $(DB_CFLAGS) -MMD -MP -c $< -o $@

$(LIBGMAN): $(LIBGMAN_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(QB_LIB): $(QB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/gearmand: $(SERVER_OBJ) $(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(DB_LIBS) -lpthread

$(CONTRACT_TEST): $(BUILD)/tests/queue_backends/test_contract.o $(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(DB_LIBS) -lpthread

$(PG_TEST) $(PG_BATCH_TEST): $(BUILD)/%: $(BUILD)/%.o $(BUILD)/tests/queue_backends/pg_fixture.o \
		$(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(DB_LIBS) -lpthread

$(UNIT_QB): $(BUILD)/%: $(BUILD)/%.o $(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(DB_LIBS) -lpthread

$(MYSQL_TEST): $(BUILD)/tests/queue_backends/test_mysql.o $(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(DB_LIBS) -lpthread

# sql/<db>/<file>.sql as one C string literal: a backend embeds its schema with
# #include "sql/<db>/<file>.sql.h", so the .sql file stays the one source of truth.
$(BUILD)/sql/%.sql.h: sql/%.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@.tmp && mv $@.tmp $@

$(BUILD)/queue_backends/pg_schema.o: $(BUILD)/sql/postgres/queue.sql.h $(BUILD)/sql/postgres/batch.sql.h
$(BUILD)/queue_backends/my_schema.o: $(BUILD)/sql/mysql/queue.sql.h $(BUILD)/sql/mysql/batch.sql.h

$(TOOLS): $(BUILD)/%: $(BUILD)/tools/%.o $(TOOLS_OBJ) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

# the libgearman twin of client_bench links Debian's libgearman (libgearman-dev), not libgman
$(BUILD)/bench/libgearman_bench: $(BUILD)/bench/libgearman_bench.o
	$(CC) $(LDFLAGS) -o $@ $^ -lgearman -lpthread

$(BUILD)/tests/libgman/%: $(BUILD)/tests/libgman/%.o $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS)

$(BUILD)/tests/server/%: $(BUILD)/tests/server/%.o $(BUILD)/tests/server/fixture.o \
                         $(SERVER_LIB_OBJ) $(QB_LIB) $(LIBGMAN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(EVENT_LIBS) $(DB_LIBS) -lpthread

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
