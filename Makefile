# mdcred - MotherDuck service-account token helper.
# Quick start: `make demo`, `make check`. See README.md.

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=

CC ?= cc
PKGS := libcurl openssl libmicrohttpd libnghttp2 libprotobuf-c
DEB_PKGS := build-essential pkg-config libcurl4-openssl-dev libssl-dev check \
	libjsmn-dev libmicrohttpd-dev hyperfine jq curl python3 python3-requests openssl \
	libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler golang-go python3-grpcio \
	golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev golang-goprotobuf-dev \
	golang-google-protobuf-dev clang

ifeq ($(SANITIZE),1)
B := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT := -O1 -g
HARDEN :=
else
B := build
SAN_FLAGS :=
OPT := -O2 -g
HARDEN := -D_FORTIFY_SOURCE=2
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS := -MMD -MP -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) \
	-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation \
	$(HARDEN) -fstack-protector-strong -fPIE $(SAN_FLAGS) -Ilib
LDFLAGS := -pie -Wl,-z,relro,-z,now $(SAN_FLAGS)
LIBS = $(PKG_LIBS) -lpthread

# lib/ is one folder per layer, one archive each (lib/README.md); what may
# include what is checked by tests/layers.sh (`make layers`, and in check).
LAYERS := base net motherduck store deliver vault
LIB_SRC := $(foreach l,$(LAYERS),$(wildcard lib/$(l)/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
layer_lib = $(B)/libmd$(1).a
# Link order: a layer before the layers it uses.
HELPER_LIBS := $(foreach l,deliver store motherduck net base,$(call layer_lib,$(l)))
PLUGIN_LIBS := $(foreach l,vault net base,$(call layer_lib,$(l)))
EMU_LIBS := $(call layer_lib,base)
ALL_LIBS := $(foreach l,deliver store motherduck vault net base,$(call layer_lib,$(l)))
HELPER_SRC := $(wildcard helper/*.c)
HELPER_OBJ := $(HELPER_SRC:%.c=$(B)/%.o)
EMU_SRC := $(wildcard emulator/*.c)
EMU_OBJ := $(EMU_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
INTEG_SRC := $(wildcard tests/integration/*.c)
# Protocol buffers: our .proto files, compiled by protoc-c at build time
# (generated code is never committed).
PROTO := $(wildcard vendor/proto/*.proto)
GEN_C := $(PROTO:vendor/proto/%.proto=$(B)/gen/%.pb-c.c)
GEN_H := $(GEN_C:.c=.h)
GEN_OBJ := $(GEN_C:.c=.o)
PLUGIN_SRC := $(wildcard plugin/*.c)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(B)/%.o)
PLUGIN_BIN := $(B)/vault-plugin-secrets-motherduck
INTEG_OBJ := $(INTEG_SRC:%.c=$(B)/%.o)

.PHONY: all deps demo check test unit integration leakscan bench install clean fuzz layers
all: $(B)/mdcred $(B)/mdcred-emulator $(if $(PLUGIN_SRC),$(PLUGIN_BIN))

deps:
	@sh tests/deps.sh $(DEB_PKGS)

# Header dependencies are tracked by the compiler (-MMD), per object.
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC    $<'
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: vendor/proto/%.proto
	@mkdir -p $(B)/gen
	@echo '  PROTO $<'
	@protoc-c --proto_path=vendor/proto --c_out=$(B)/gen $<

# Generated code: strict enough, but not our -Wextra house rules.
$(B)/gen/%.pb-c.o: $(B)/gen/%.pb-c.c $(GEN_H)
	@echo '  CC    $<'
	@$(CC) -std=c11 $(OPT) -Wall -Werror $(HARDEN) -fstack-protector-strong -fPIE $(SAN_FLAGS) \
		$(PKG_CFLAGS) -c -o $@ $<

$(PLUGIN_OBJ): | $(GEN_H)
$(PLUGIN_OBJ): CFLAGS += -I$(B)/gen

$(PLUGIN_BIN): $(PLUGIN_OBJ) $(GEN_OBJ) $(PLUGIN_LIBS)
	@echo '  LD    $@'
	@$(CC) $(LDFLAGS) -o $@ $(PLUGIN_OBJ) $(GEN_OBJ) $(PLUGIN_LIBS) \
		$(shell pkg-config --libs libnghttp2 libprotobuf-c openssl 2>/dev/null) -ldl -lpthread

# One archive per layer: libmdbase.a, libmdnet.a, ... libmdvault.a.
define layer_rule
$(call layer_lib,$(1)): $(filter $(B)/lib/$(1)/%,$(LIB_OBJ))
	@mkdir -p $$(dir $$@)
	@echo '  AR    $$@'
	@rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

# mdcred links only libc: libcurl is loaded on first use (lib/net/curl_dl.h).
$(B)/mdcred: $(HELPER_OBJ) $(HELPER_LIBS)
	@echo '  LD    $@'
	@$(CC) $(LDFLAGS) -o $@ $(HELPER_OBJ) $(HELPER_LIBS) -ldl -lpthread

$(B)/mdcred-emulator: $(EMU_OBJ) $(EMU_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(EMU_OBJ) $(EMU_LIBS) $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS) $(CHECK_LIBS)

$(B)/tests/test_grpc_plugin: $(PLUGIN_BIN) # it runs the plugin
$(B)/tests/test_integration: $(INTEG_OBJ) $(HELPER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(INTEG_OBJ) $(HELPER_LIBS) $(LIBS) $(CHECK_LIBS)

# The layers' include rules (tests/layers.sh).
layers:
	@sh tests/layers.sh

demo: deps
	@$(MAKE) --no-print-directory all $(B)/vault-host
	@sh tests/demo.sh $(B)

bench: deps
	@$(MAKE) --no-print-directory all $(B)/vault-host $(B)/bench/deadlines
	@sh bench/bench.sh $(B)

# Wall-clock numbers the tests do not assert (bench/deadlines.c).
$(B)/bench/deadlines: bench/deadlines.c $(call layer_lib,net) $(call layer_lib,base)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call layer_lib,net) $(call layer_lib,base) -ldl -lpthread

# Scheduling files (packaging/README.md): the systemd template unit and
# timer where systemd looks for a package's units ($(PREFIX)/lib/systemd/system:
# /usr/lib/... or /usr/local/lib/...), the unit's wrapper under libexec, and
# the cron and Kubernetes examples (with that README) under the doc dir.
# The unit and wrapper get the installed paths of the wrapper and of mdcred.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
LIBEXECDIR ?= $(PREFIX)/libexec
DOCDIR ?= $(PREFIX)/share/doc/mdcred
EXAMPLES := $(DESTDIR)$(DOCDIR)/examples

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(LIBEXECDIR)/mdcred \
		$(EXAMPLES)/systemd $(EXAMPLES)/cron $(EXAMPLES)/kubernetes $(B)/packaging
	install -m 0755 $(B)/mdcred $(B)/mdcred-emulator $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(PLUGIN_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 doc/mdcred.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	sed 's|/usr/libexec/mdcred/|$(LIBEXECDIR)/mdcred/|' packaging/systemd/mdcred-rotate@.service \
		>$(B)/packaging/mdcred-rotate@.service
	sed 's|"$${MDCRED:-mdcred}"|"$${MDCRED:-$(PREFIX)/bin/mdcred}"|' packaging/systemd/mdcred-rotate-unit \
		>$(B)/packaging/mdcred-rotate-unit
	install -m 0644 $(B)/packaging/mdcred-rotate@.service packaging/systemd/mdcred-rotate@.timer \
		$(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0755 $(B)/packaging/mdcred-rotate-unit $(DESTDIR)$(LIBEXECDIR)/mdcred/
	install -m 0644 packaging/README.md $(EXAMPLES)/
	install -m 0644 packaging/systemd/ROLE.env.example $(EXAMPLES)/systemd/
	install -m 0644 packaging/cron/mdcred-rotate.cron $(EXAMPLES)/cron/
	install -m 0644 packaging/kubernetes/*.yaml $(EXAMPLES)/kubernetes/

# Fuzz targets (libFuzzer, clang, ASan + UBSan): the gRPC framing, the
# plugin's message decoders through the engine, the store URI parser, the
# rotate --config parser, durations and other small values, and the API's
# answer decoders (tests/fuzz/RESULTS.md). `make check` runs each briefly
# over its committed corpus and crash inputs (tests/fuzz/run.sh);
# `make fuzz FUZZ_RUNS=N` (or FUZZ_SECONDS=N) is a campaign that also
# merges what it finds into tests/fuzz/corpus/.
FUZZ_SECONDS ?= 10
FUZZ_RUNS ?=
FUZZ_FLAGS = -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-Ilib -I$(B)/gen $(PKG_CFLAGS)
# The engine and the layers it may use (tests/layers.sh: base, net).
FUZZ_LIB = lib/vault/engine.c $(wildcard lib/base/*.c) $(wildcard lib/net/*.c)
$(B)/fuzz/fuzz_grpc_frame: tests/fuzz/fuzz_grpc_frame.c lib/vault/grpc_frame.c lib/vault/grpc_frame.h
	@mkdir -p $(dir $@)
	@echo '  FUZZ  $@'
	@clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_grpc_frame.c lib/vault/grpc_frame.c
$(B)/fuzz/fuzz_decoders: tests/fuzz/fuzz_decoders.c $(GEN_C) $(GEN_H) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	@echo '  FUZZ  $@'
	@clang $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_decoders.c $(GEN_C) $(FUZZ_LIB) \
		$(shell pkg-config --libs libprotobuf-c 2>/dev/null) -ldl -lpthread
# The other targets link the helper's core (not the plugin's transport),
# compiled once with coverage instrumentation.
FUZZ_CORE_SRC := $(filter-out lib/vault/%,$(LIB_SRC))
FUZZ_CORE_OBJ := $(FUZZ_CORE_SRC:%.c=$(B)/fuzzobj/%.o)
$(B)/fuzzobj/%.o: %.c $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	@clang $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_FLAGS)) -c -o $@ $<
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo '  FUZZ  $@'
	@clang $(FUZZ_FLAGS) -o $@ $< $(FUZZ_CORE_OBJ) -ldl -lpthread
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_BIN)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_TARGETS); do \
		FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_MERGE=1 \
		sh tests/fuzz/run.sh $$f $(B)/fuzz-run || exit 1; done

# The Go host that launches the plugin as Vault does, and the Go reference
# plugin (GOPATH mode, Debian's Go packages, no network).
$(B)/vault-host $(B)/go-reference-plugin: $(wildcard tests/vault-host/*/*.go) tests/vault-host/build.sh vendor/proto/backend.proto
	@echo '  GO    $(B)/vault-host $(B)/go-reference-plugin'
	@sh tests/vault-host/build.sh $(B)

clean:
	rm -rf build build-san tests/run bench/run

tests: $(UNIT_BIN) $(B)/tests/test_integration $(PLUGIN_BIN) $(B)/vault-host $(if $(SANITIZE),,$(FUZZ_BIN))

# The test phase (tests/run_all.sh) runs every unit binary, integration test
# case (each with its own emulator and fakes), fuzz target and the layers
# check side by side, TEST_JOBS at a time (default 4 per core), each fuzz
# target for CHECK_FUZZ_SECONDS (or CHECK_FUZZ_RUNS executions, when set);
# then the leak scan.
TEST_JOBS ?=
CHECK_FUZZ_SECONDS ?= 2
CHECK_FUZZ_RUNS ?=
check: deps
	@$(MAKE) --no-print-directory all tests SANITIZE=$(SANITIZE)
	@TEST_JOBS=$(TEST_JOBS) FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) FUZZ_RUNS=$(CHECK_FUZZ_RUNS) \
		sh tests/run_all.sh $(B)

# Pieces of `make check`, for quick runs while working.
unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do CK_FORK=yes $$t || exit 1; done

# Every suite in one process, one after another (CK_RUN_SUITE=NAME
# CK_RUN_CASE=CASE narrows it; `test_integration --list` names them).
integration: $(B)/tests/test_integration $(B)/mdcred $(B)/mdcred-emulator
	@mkdir -p tests/run
	MDCRED_BIN=$(B)/mdcred EMULATOR_BIN=$(B)/mdcred-emulator TEST_RUN_DIR=tests/run \
		VAULT_HOST_BIN=$(B)/vault-host PLUGIN_BIN=$(PLUGIN_BIN) $(B)/tests/test_integration
.SECONDARY:

# What the compiler recorded of each object's headers (-MMD).
-include $(wildcard $(B)/lib/*/*.d $(B)/helper/*.d $(B)/plugin/*.d $(B)/emulator/*.d \
	$(B)/tests/*/*.d)
