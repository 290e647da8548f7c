# duct: one binary, ./duct, plus unit tests, fuzzers and an ASan/UBSan build.
#   make            build ./duct
#   make run        build and serve the built-in demo site on 127.0.0.1:8080
#   make test       build and run every test; ends with "N passed, N failed, N skipped"
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build and briefly run the libFuzzer targets (clang)
#   make report     measure every model and write docs/report/ (QUICK=1: a first look)

CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
CFLAGS  ?=
# Codecs for compression on the fly (libzstd-dev, libbrotli-dev, zlib1g-dev),
# password hashes for --auth (libcrypt-dev); OpenSSL (libssl-dev) for TLS, and
# for the base64 of Basic credentials and the HMAC of verified ones.
LDLIBS  := -lssl -lcrypto -lpthread -lm -lzstd -lbrotlienc -lz -lcrypt

ifeq ($(SAN),1)
BUILD   := build/san
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
BIN     := $(BUILD)/duct
else
BUILD   := build/rel
SANFLAGS:=
BIN     := duct
endif

# io_uring is optional: the build includes it when pkg-config finds liburing.
URING_LIBS := $(shell pkg-config --libs liburing 2>/dev/null)
ifneq ($(URING_LIBS),)
CSTD    += -DDUCT_HAVE_URING=1
LDLIBS  += $(URING_LIBS)
endif

# systemd socket activation needs libsystemd (sd_listen_fds_with_names); without
# it, a duct given sockets by systemd says so and exits.
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)
ifneq ($(SYSTEMD_LIBS),)
CSTD    += -DDUCT_HAVE_SYSTEMD=1
LDLIBS  += $(SYSTEMD_LIBS)
endif

ALL_CFLAGS := $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -Isrc -I$(BUILD)/gen $(CFLAGS)

LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(BUILD)/obj/demo_assets.o
MAIN_OBJ := $(BUILD)/obj/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# The latest models report (docs/report/models.html, `make report`) is part of the demo site.
DEMO     := $(sort $(wildcard src/serve/demo/site/*)) $(wildcard docs/report/models.html)
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

.PHONY: all run test unit integration fuzz clean bench install uninstall report
all: $(BIN)

$(BIN): $(MAIN_OBJ) $(LIB_OBJ)
	@echo "  LINK  $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) -DDUCT_VERSION='"$(VERSION)"' -MMD -MP -c -o $@ $<

# The demo site is compiled into the binary so that `duct serve` with no DIR shows a real page.
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -o $@ $<

$(BUILD)/gen/demo_assets.c: $(BUILD)/tools/embed $(DEMO)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $(DEMO) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/demo_assets.o: $(BUILD)/gen/demo_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJ) $(LDLIBS)

# --allow-root: `make run` as root (a container) serves as root; as anyone else it changes nothing.
run: $(BIN)
	./$(BIN) serve --allow-root

test: $(BIN) $(UNIT_BIN)
	@DUCT_BIN=$(abspath $(BIN)) UNIT_DIR=$(BUILD)/tests DUCT_SANITIZED=$(if $(filter 1,$(SAN)),1,0) tests/run

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
# The HTTP core, the clients' URL readers and the PROXY header parser (pure: no I/O, no allocation).
FUZZ_LIB := $(filter src/http/%,$(LIB_SRC)) src/get/url.c src/bench/url.c src/net/proxy.c
FUZZ_SECONDS ?= 20
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< $(FUZZ_LIB) -lcrypto

# Each target is its own make goal, so `make -j2 fuzz` runs two at a time.
FUZZ_RUNS := $(patsubst build/fuzz/%,fuzz-run-%,$(FUZZ_BIN))
.SECONDARY: $(FUZZ_BIN)
fuzz: $(FUZZ_RUNS)

fuzz-run-%: build/fuzz/%
	@mkdir -p build/fuzz/corpus/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS)s"
	@$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$* tests/fuzz/corpus/$* \
	  >build/fuzz/$*.log 2>&1 || { tail -40 build/fuzz/$*.log; exit 1; }
	@echo "fuzz: $* done, $$(grep -h 'stat::number_of_executed_units' build/fuzz/$*.log | awk '{print $$2}') runs, no crash"

# make install PREFIX=/usr/local DESTDIR=/tmp/stage: the binary, the man page, and
# the deploy/ examples with README.md and docs/DEPLOY.md under share/doc/duct.
# make uninstall (same PREFIX and DESTDIR) removes exactly those files.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MAN1DIR ?= $(PREFIX)/share/man/man1
DOCDIR  ?= $(PREFIX)/share/doc/duct
DOC_FILES := README.md docs/DEPLOY.md $(shell find deploy -type f 2>/dev/null | sort)

install: $(BIN)
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MAN1DIR)"
	install -m 0755 $(BIN) "$(DESTDIR)$(BINDIR)/duct"
	install -m 0644 man/duct.1 "$(DESTDIR)$(MAN1DIR)/duct.1"
	@for f in $(DOC_FILES); do \
	    d="$(DESTDIR)$(DOCDIR)/$$(dirname "$${f#docs/}")"; \
	    install -d "$$d" && install -m 0644 "$$f" "$$d/" || exit 1; \
	    echo "install -m 0644 $$f $$d/"; \
	    case "$$f" in *.service) sed -i 's|/usr/local/bin/duct|$(BINDIR)/duct|' "$$d/$$(basename "$$f")";; esac; \
	done

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/duct" "$(DESTDIR)$(MAN1DIR)/duct.1"
	@for f in $(DOC_FILES); do rm -f "$(DESTDIR)$(DOCDIR)/$${f#docs/}"; done
	@if [ -d "$(DESTDIR)$(DOCDIR)" ]; then find "$(DESTDIR)$(DOCDIR)" -depth -type d -empty -delete; fi

clean:
	rm -rf build duct

-include $(shell find build -name '*.d' 2>/dev/null)

# Side-by-side benchmark against nginx, lighttpd and h2o; see docs/BENCHMARKS.md.
bench: $(BIN)
	bench/compare.sh

# Every concurrency model of duct serve measured with duct bench: docs/report/models.html (plots),
# summary.md and report.json; under 10 minutes, QUICK=1 under 2. See bench/report.py.
report: $(BIN)
	QUICK=$(QUICK) bench/report.py
