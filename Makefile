# boardpin: pins container images to the exact digest a board can run.
# CC, PKG_CONFIG, INSTALL, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX and DESTDIR are the caller's (debhelper, cross
# builds); the project's own flags sit in BP_CFLAGS, ahead of theirs.

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DOCDIR ?= $(PREFIX)/share/doc/boardpin
PKG_CONFIG ?= pkg-config
INSTALL ?= install
CFLAGS ?= -O2 -g
BUILDDIR ?= build
UNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd)
# Where bash-completion loads completions on demand; its .pc says, else the usual place under PREFIX.
COMPLETIONSDIR ?= $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),$(PREFIX)/share/bash-completion/completions)

DEPS := inih json-c libcurl libsystemd libcrypto
# Linked: what every start needs. libcurl, libcrypto and libsystemd are dlopen()ed when first used
# (agent/dl.c), so a boot that the lock answers never loads them.
LINK_DEPS := inih json-c
BP_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -Wall -Wextra -Werror -Wshadow -Wformat=2 -MMD -MP \
	-Iplatform -I$(BUILDDIR)/gen
DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(DEPS))
DEPS_LIBS = $(shell $(PKG_CONFIG) --libs $(LINK_DEPS)) -ldl

PLATFORM_SRC := $(wildcard platform/*.c)
AGENT_SRC := $(wildcard agent/*.c)
PLATFORM_OBJ := $(PLATFORM_SRC:%.c=$(BUILDDIR)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILDDIR)/%.o)
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILDDIR)/tests/%)

.PHONY: all check unit install clean deps fuzz format cross demo bench lint layers deb soak
all: $(BUILDDIR)/boardpin

$(BUILDDIR)/gen/revision-codes.inc: platform/revision-codes.tsv platform/revision-codes.awk
	@mkdir -p $(@D)
	awk -f platform/revision-codes.awk $< > $@.tmp && mv $@.tmp $@

$(BUILDDIR)/platform/board.o: $(BUILDDIR)/gen/revision-codes.inc

# platform/ is built with libc flags only: it must not reach for HTTP, INI or JSON.
$(BUILDDIR)/platform/%.o: platform/%.c
	@mkdir -p $(@D)
	$(CC) $(BP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# -Wsystem-headers: curl's type checks (typecheck-gcc.h, kept by agent/dl.h) warn from a system header,
# which gcc hides otherwise; tests/dl-typecheck.sh shows a wrong-typed curl_easy_setopt failing the build.
AGENT_CFLAGS := -Wsystem-headers
$(BUILDDIR)/agent/%.o: agent/%.c
	@mkdir -p $(@D)
	$(CC) $(BP_CFLAGS) $(AGENT_CFLAGS) -DBOARDPIN_VERSION='"$(VERSION)"' $(DEPS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILDDIR)/libplatform.a: $(PLATFORM_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILDDIR)/boardpin: $(AGENT_OBJ) $(BUILDDIR)/libplatform.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(DEPS_LIBS)

# Everything but main(): the unit tests link what they test from here.
$(BUILDDIR)/libagent.a: $(filter-out $(BUILDDIR)/agent/main.o,$(AGENT_OBJ))
	rm -f $@
	$(AR) rcs $@ $^

$(BUILDDIR)/tests/test-%: tests/unit/test-%.c $(BUILDDIR)/libagent.a $(BUILDDIR)/libplatform.a
	@mkdir -p $(@D)
	$(CC) $(BP_CFLAGS) -Iagent -DFIXTURES='"$(CURDIR)/tests/fixtures"' $(shell $(PKG_CONFIG) --cflags cmocka) \
		$(DEPS_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILDDIR)/libagent.a \
		$(BUILDDIR)/libplatform.a $(shell $(PKG_CONFIG) --libs cmocka $(DEPS)) -ldl

unit: $(UNIT_BIN)

# Everything the build and the tests need, on Debian 12, as root; does nothing when all is there.
deps:
	@tests/deps.sh

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
check: deps
	$(MAKE) BUILDDIR=build/san CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" build/san/boardpin unit
	tests/run-suites.sh build/san

# The main job on an embedded default: a throwaway registry, real boards' fixture roots, real resolve.
demo: deps all
	tests/fixtures/mkroots.sh $(BUILDDIR)/roots >/dev/null
	tests/demo.sh $(BUILDDIR)/boardpin $(BUILDDIR)/roots

# Figures side by side in one run, no assertions: registry client, boot, range selection.
bench: deps all
	tests/fixtures/mkroots.sh $(BUILDDIR)/roots >/dev/null
	/usr/bin/python3 tests/bench/bench.py $(BUILDDIR)/boardpin $(BUILDDIR)/roots $(BUILDDIR)

# A year of daily upgrades in minutes (SOAK_CYCLES, default 365): figures and end checks; not in check.
soak: deps all
	tests/fixtures/mkroots.sh $(BUILDDIR)/roots >/dev/null
	tests/soak/run.sh $(BUILDDIR)/boardpin $(BUILDDIR)/roots $(or $(SOAK_CYCLES),365)

cross: deps
	tests/cross/run.sh

fuzz: deps
	tests/fuzz/run.sh $(or $(FUZZ_SECONDS),30)

# Units are templates: @BINDIR@ becomes the installed path. The configuration is installed only where
# there is none: it belongs to the owner. It is etc/boardpin.ini with its example services commented
# out, so a fresh install pins nothing until the owner names a service.
UNITS := $(wildcard etc/systemd/*.service etc/systemd/*.timer)
install: $(BUILDDIR)/boardpin
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/boardpin $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(COMPLETIONSDIR)
	$(INSTALL) -m 0755 $(BUILDDIR)/boardpin $(DESTDIR)$(BINDIR)/boardpin
	$(INSTALL) -m 0644 etc/bash-completion/boardpin $(DESTDIR)$(COMPLETIONSDIR)/boardpin
	$(INSTALL) -m 0644 packaging/boardpin.ini.5 $(DESTDIR)$(MANDIR)/man5/boardpin.ini.5
	$(INSTALL) -m 0644 packaging/boardpin.8 $(DESTDIR)$(MANDIR)/man8/boardpin.8
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	$(INSTALL) -m 0644 etc/boardpin.ini $(wildcard etc/examples/*) $(DESTDIR)$(DOCDIR)/examples/
	test -e $(DESTDIR)$(SYSCONFDIR)/boardpin/boardpin.ini || \
		sed '/^\[service /,$$ s/^\([^;#]\)/;\1/' etc/boardpin.ini > $(DESTDIR)$(SYSCONFDIR)/boardpin/boardpin.ini

# The Debian package, built by dpkg-buildpackage from a copy of the tree with packaging/debian as
# debian/, into DEBDIR (the parent directory, as dpkg-buildpackage does). ARCH=armhf|arm64|armel
# cross-builds with Debian's cross compiler against the sysroot of tests/cross/sysroot.sh.
DEBDIR ?= ..
deb:
	packaging/deb.sh $(or $(ARCH),native) $(DEBDIR)

# cppcheck does not model __attribute__((cleanup)): each of its false leak reports on a _cleanup_ variable
# is suppressed inline, on the line before, with that reason; every other leak report fails. Part of make check.
lint: $(BUILDDIR)/gen/revision-codes.inc
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE \
		-Iplatform -Iagent -I$(BUILDDIR)/gen --suppress=missingIncludeSystem --inline-suppr platform agent

# The include arrows between modules against the one table of layers, tests/layers.txt.
layers:
	tests/layers.py

format:
	clang-format -i platform/*.[ch] agent/*.[ch] tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build

-include $(PLATFORM_OBJ:.o=.d) $(AGENT_OBJ:.o=.d)
