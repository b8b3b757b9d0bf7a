# SPDX-License-Identifier: ISC
# labd - one non-recursive Makefile.  Objects go to build/, nothing is
# written into the source folders.  Each folder adds its sources below.
#
#   make deps           install the Debian packages (idempotent)
#   make                build/labd, build/labctl, build/labtui
#   make check          unit tests, then integration tests with real guests
#   make check-debian   a course on the Debian 12 template, end to end
#   make asan           the same tests against an AddressSanitizer build
#   make fuzz           libFuzzer harnesses (clang, ASan, UBSan), each for
#                       FUZZ_SECONDS after its regression inputs
#   make template-tiny  build/templates/tiny.{qcow2,ini,...}
#   make template-debian build/templates/debian-12.{qcow2,ini}
#   make collector      build/templates/collector-{vmlinuz,initrd}: the
#                       appliance that collects from stopped VMs
#   make demo           a course of three on loopback, access sheet printed
#   make install        PREFIX=/usr/local: programs, man pages, labd.service,
#                       a sample /etc/labd/labd.ini (never over an existing one)
#   make clean

B		?= build
PREFIX		?= /usr/local
CC		?= cc
PKGS		:= jansson sqlite3 libssh ncursesw libnftables libvncserver \
		   libvncclient
CPPFLAGS	+= -I. -D_GNU_SOURCE -DLABD_SHAREDIR='"$(PREFIX)/share/labd"' \
		   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS		?= -O2 -g
CFLAGS		+= -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation -pthread -MMD -MP
ifeq ($(CI),true)
CFLAGS		+= -Werror
endif
# iniparser (labd.ini, template profiles) has no pkg-config file in
# Debian 12: its header is <iniparser/iniparser.h>, its library -liniparser.
LDLIBS		+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
		   -liniparser -lcrypt -pthread
# The clients link the client library alone, and only what it needs.
CLIENT_LDLIBS	:= $(shell pkg-config --libs jansson 2>/dev/null) -liniparser \
		   -pthread

# Each program's sources are its folder: labd/ the daemon, labctl/ the
# CLI, tui/ labtui; proto/ is the protocol and client library both
# clients link, vmm/ and portforward/ the daemon's leaf libraries.
VMM_SRCS	:= $(wildcard vmm/*.c)
PF_SRCS		:= $(wildcard portforward/*.c)
CLIENT_SRCS	:= $(wildcard proto/*.c)
LABCTL_SRCS	:= $(wildcard labctl/*.c)
LABD_SRCS	:= $(filter-out labd/main.c,$(wildcard labd/*.c))
TUI_SRCS	:= $(wildcard tui/*.c)
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)

obj		= $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBS		:= $(B)/liblabd.a $(B)/libvmm.a $(B)/libpf.a $(B)/libclient.a
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
PROGS		:= $(B)/labd $(B)/labctl $(B)/labtui

.PHONY: all deps check check-build check-run check-debian unit integration asan \
	demo bench-vnc demo-stop template-tiny template-debian collector install \
	clean bench bench-debian fuzz fuzz-build fuzz-run
all: $(PROGS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libvmm.a: $(call obj,$(VMM_SRCS))
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libpf.a: $(call obj,$(PF_SRCS))
	@rm -f $@; $(AR) rcs $@ $^
$(B)/liblabd.a: $(call obj,$(LABD_SRCS))
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libclient.a: $(call obj,$(CLIENT_SRCS))
	@rm -f $@; $(AR) rcs $@ $^

# The wall's label font, from a console font of Debian's
# console-setup-linux (labd/vnc_font.py says why).
VNC_PSF		:= /usr/share/consolefonts/Lat15-Fixed16.psf.gz
$(B)/gen/vnc_font.h: labd/vnc_font.py
	@mkdir -p $(dir $@)
	python3 labd/vnc_font.py $(VNC_PSF) $@
$(call obj,labd/vnc_layout.c): $(B)/gen/vnc_font.h
$(call obj,labd/vnc_layout.c): CPPFLAGS += -I$(B)/gen

# The guest's programs that the seed installs (labd/guestfiles.c):
# lab-check and labd-agent, each as a C string named after it.
$(B)/gen/guest-%.h: templates/guest/%
	@mkdir -p $(dir $@)
	{ echo 'static const char $(subst -,_,$*)_script[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' \
	    -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } >$@.tmp && mv $@.tmp $@
$(call obj,labd/guestfiles.c): $(B)/gen/guest-lab-check.h \
	$(B)/gen/guest-labd-agent.h
$(call obj,labd/guestfiles.c): CPPFLAGS += -I$(B)/gen

$(B)/labd: $(call obj,labd/main.c) $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# labctl and labtui speak only the protocol: they link the client library
# alone (labctl finds the socket in labd.ini with its ini reader).
$(B)/labctl: $(call obj,$(LABCTL_SRCS)) $(B)/libclient.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLIENT_LDLIBS)
$(B)/labtui: $(call obj,$(TUI_SRCS)) $(B)/libclient.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
		$(shell pkg-config --libs ncursesw 2>/dev/null) $(CLIENT_LDLIBS)

# Objects before the libraries, whatever order the rules gave them in.
# The tests' objects are kept (make would delete them as intermediate
# files, and the next make, which reads their .d files, would build them
# and the tests again: check builds in one make and runs in another).
.SECONDARY: $(call obj,$(UNIT_SRCS) $(wildcard tests/fuzz/fuzz_*.c))
$(B)/tests/%: $(call obj,tests/unit/%.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) \
		$(LDLIBS) -lcriterion
# labctl's lookup is tested on its own object: labctl.c holds a main.
$(B)/tests/test_lookup: $(call obj,labctl/lookup.c)
# The access sheet, with the calls access.c makes (labctl/call.c).
$(B)/tests/test_access: $(call obj,labctl/access.c labctl/call.c)
# labtui's check cell and lines, on their own object.
$(B)/tests/test_tuichecks: $(call obj,tui/checks.c)

# The VNC viewer the integration tests drive (tests/integration/test_vnc.sh).
$(B)/tests/vncpeek: $(call obj,tests/integration/vncpeek.c)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
		$(shell pkg-config --libs libvncclient 2>/dev/null)
# labd's limits on a kernel with cgroup v2 only, in a guest
# (tests/integration/test_cgroup2.sh).
$(B)/tests/cg2probe: $(call obj,tests/integration/cg2probe.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- packages -------------------------------------------------------------
# Everything the build, the tests and the guest images need.  Only missing
# packages are installed, so a second run does nothing.
DEB_PKGS := build-essential pkg-config libjansson-dev libsqlite3-dev \
	libssh-dev libncurses-dev libvncserver-dev libnftables-dev \
	libiniparser-dev console-setup-linux vncsnapshot tigervnc-tools \
	novnc chromium \
	libcriterion-dev libcrypt-dev qemu-system-x86 qemu-utils \
	busybox-static dropbear-bin e2fsprogs cpio genisoimage kmod \
	mmdebstrap fdisk \
	openssh-client iproute2 nftables tmux sqlite3 procps psmisc \
	ca-certificates jq socat bc python3 systemd util-linux \
	clang-14 libclang-rt-14-dev
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing; \
	else echo "deps: all $(words $(DEB_PKGS)) packages present"; fi

# --- templates ------------------------------------------------------------
template-tiny: $(B)/templates/tiny.ini
$(B)/templates/tiny.ini: templates/tiny/build.sh $(wildcard templates/tiny/rootfs/*) \
		$(wildcard templates/tiny/*.sh) templates/guest/reseed.c \
		templates/lib/initramfs.sh
	templates/tiny/build.sh $(B)/templates

# The collector appliance (labd/offline.c): the tiny template's kernel,
# from the package cache its build keeps (or downloaded), and a busybox
# initramfs.  make install installs it: no tiny template needed for that.
collector: $(B)/templates/collector-initrd
$(B)/templates/collector-initrd: templates/collector/build.sh \
		templates/collector/collector-init.sh templates/lib/initramfs.sh
	templates/collector/build.sh $(B)/templates

# The Debian 12 template: a few minutes and ~300 MB from the package
# mirror the first time; again only when its recipe (the package list
# among it) changes.  course-guide/ tells how to add packages.
DEBIAN_RECIPE := templates/debian/build.sh templates/debian/customize.sh \
	templates/debian/packages templates/debian/cmdline \
	templates/debian/labd-golden templates/debian/labd-golden.service \
	templates/guest/reseed.c
template-debian: $(B)/templates/debian-12.ini
$(B)/templates/debian-12.ini: $(DEBIAN_RECIPE)
	templates/debian/build.sh $(B)/templates

# --- tests ----------------------------------------------------------------
# check installs what it needs first, then runs in a new make so that the
# pkg-config flags are read with the packages present.
# The programs and tests are compiled one a core (NPROC): the templates
# after, one at a time, as the collector's build reads the tiny one's
# package cache.
NPROC		:= $(shell nproc 2>/dev/null || echo 1)
check:
	$(MAKE) deps
	$(MAKE) -j$(NPROC) B=$(B) check-build
	$(MAKE) B=$(B) check-run
	@# Each parser fuzzed for a bounded time (5 s each, about 1 min in all).
	$(MAKE) fuzz FUZZ_SECONDS=5

# The folders' files must not call each other round a loop (see
# tests/structure/cycles.py; tui/ is not there yet).
STRUCTURE_DIRS	:= labd proto labctl vmm portforward
check-build: all $(UNIT_BINS) $(B)/tests/vncpeek $(B)/tests/cg2probe

check-run: check-build template-tiny collector
	tests/run-unit $(UNIT_BINS)
	python3 tests/structure/cycles.py $(B) $(STRUCTURE_DIRS)
	tests/integration/run $(B)

# Its own target: booting Debian under TCG takes minutes (.ci/run runs
# it after check).
check-debian:
	$(MAKE) deps
	$(MAKE) B=$(B) all template-debian
	tests/integration/run $(B) debian

unit: $(UNIT_BINS) all
	tests/run-unit $(UNIT_BINS)
	python3 tests/structure/cycles.py $(B) $(STRUCTURE_DIRS)

integration: all $(B)/tests/vncpeek $(B)/tests/cg2probe template-tiny \
		collector
	tests/integration/run $(B)

# CFLAGS in the environment keeps the warnings and -MMD (see fuzz below);
# UB aborts rather than print a line that no test looks at.
asan:
	$(MAKE) deps
	CFLAGS="-O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)" \
		$(MAKE) B=build/asan LDFLAGS="$(FUZZ_SAN)" check-run

# --- fuzzing --------------------------------------------------------------
# One libFuzzer harness a parser (tests/fuzz/fuzz_*.c), built by clang with
# ASan and UBSan (UB aborts) into build/fuzz/, apart from the normal build.
# tests/fuzz/run replays each one's regression inputs, then fuzzes it for
# FUZZ_SECONDS; a crash, a leak, UB or a harness that does not build fails.
FUZZ_SECONDS	?= 30
FUZZ_CC		?= clang-14
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_BINS	:= $(patsubst tests/fuzz/%.c,$(B)/tests/%,\
		   $(wildcard tests/fuzz/fuzz_*.c))
# CFLAGS goes in the environment: on make's command line it would replace
# the warnings and -MMD that this file adds with +=.
FUZZ_CFLAGS	:= -O1 -g -fno-omit-frame-pointer -Wno-unknown-warning-option \
		   $(FUZZ_SAN) -fsanitize=fuzzer-no-link
fuzz:
	$(MAKE) deps
	CFLAGS="$(FUZZ_CFLAGS)" $(MAKE) -j$(NPROC) B=build/fuzz CC=$(FUZZ_CC) \
		LDFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer" fuzz-build
	CFLAGS="$(FUZZ_CFLAGS)" $(MAKE) B=build/fuzz CC=$(FUZZ_CC) \
		LDFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer" fuzz-run

fuzz-build: $(FUZZ_BINS)

fuzz-run: $(FUZZ_BINS)
	tests/fuzz/run $(B) $(FUZZ_SECONDS)

$(B)/tests/fuzz_%: $(call obj,tests/fuzz/fuzz_%.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- demo -----------------------------------------------------------------
demo:
	$(MAKE) deps
	$(MAKE) B=$(B) all template-tiny
	examples/demo/run $(B)
demo-stop:
	examples/demo/stop $(B)

BENCH_BINS	:= $(B)/bench/overlay_bench $(B)/bench/nft_bench
$(B)/bench/%: $(call obj,bench/%.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: all template-tiny $(BENCH_BINS)
	bench/run $(B)
	bench/tui_bench.sh $(B)

# The wall's cost: labd's CPU and bytes a second to a viewer of N still
# tiny VMs, key-to-pixels in a zoomed tile (N=10 unless given).
bench-vnc: all $(B)/tests/vncpeek template-tiny
	bench/vnc.sh $(B)

# The Debian template's figures: RAM reset against reboot, pristine's
# size, course create, KSM (root; about half an hour under TCG).
bench-debian: all template-debian
	bench/debian.sh $(B)

# --- install --------------------------------------------------------------
install: all collector
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/labd \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(B)/labd $(DESTDIR)$(PREFIX)/sbin/labd
	install -m 0755 $(B)/labctl $(DESTDIR)$(PREFIX)/bin/labctl
	install -m 0755 $(B)/labtui $(DESTDIR)$(PREFIX)/bin/labtui
	install -m 0644 course-guide/man/labtui.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 course-guide/man/labctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 course-guide/man/labd.ini.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 course-guide/man/labd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	@# The collector appliance (collect from stopped VMs): labd finds it
	@# here without [vmm] collector.
	install -m 0644 $(B)/templates/collector-vmlinuz \
		$(B)/templates/collector-initrd $(DESTDIR)$(PREFIX)/share/labd/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)/etc/labd
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' examples/systemd/labd.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/labd.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/labd.service
	@# An existing labd.ini is the admin's: never replaced.
	@if [ -e $(DESTDIR)/etc/labd/labd.ini ]; then \
		echo "kept $(DESTDIR)/etc/labd/labd.ini"; \
	else install -m 0644 examples/etc/labd.ini $(DESTDIR)/etc/labd/labd.ini && \
		echo "installed a sample $(DESTDIR)/etc/labd/labd.ini: edit its addresses"; fi

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
