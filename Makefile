# labd - one non-recursive Makefile.  Objects go to build/, nothing is
# written into the source folders.  Each folder adds its sources below.
#
#   make deps           install the Debian packages (idempotent)
#   make                build/labd, build/labctl, build/labtui
#   make check          unit tests, then integration tests with real guests
#   make asan           the same tests against an AddressSanitizer build
#   make template-tiny  build/templates/tiny.{qcow2,ini,...}
#   make demo           a course of three on loopback, access sheet printed
#   make install        PREFIX=/usr/local
#   make clean

B		?= build
PREFIX		?= /usr/local
CC		?= cc
PKGS		:= jansson sqlite3 libssh ncursesw libnftables
CPPFLAGS	+= -I. -D_GNU_SOURCE \
		   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS		?= -O2 -g
CFLAGS		+= -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation -pthread -MMD -MP
ifeq ($(CI),true)
CFLAGS		+= -Werror
endif
LDLIBS		+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
		   -lcrypt -pthread

VMM_SRCS	:= $(wildcard vmm/*.c)
PF_SRCS		:= $(wildcard portforward/*.c)
LABCTL_SRCS	:= $(wildcard labd/labctl*.c)
LABD_MAINS	:= labd/main.c $(LABCTL_SRCS)
LABD_SRCS	:= $(filter-out $(LABD_MAINS),$(wildcard labd/*.c))
TUI_SRCS	:= $(wildcard tui/*.c)
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)

obj		= $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBS		:= $(B)/liblabd.a $(B)/libvmm.a $(B)/libpf.a
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
PROGS		:= $(B)/labd $(B)/labctl $(B)/labtui

.PHONY: all deps check check-run unit integration asan demo demo-stop \
	template-tiny install clean bench
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

$(B)/labd: $(call obj,labd/main.c) $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/labctl: $(call obj,$(LABCTL_SRCS)) $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# labtui speaks only the protocol: of labd it links the client alone.
$(B)/labtui: $(call obj,$(TUI_SRCS)) $(B)/liblabd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(call obj,tests/unit/%.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

# --- packages -------------------------------------------------------------
# Everything the build, the tests and the guest images need.  Only missing
# packages are installed, so a second run does nothing.
DEB_PKGS := build-essential pkg-config libjansson-dev libsqlite3-dev \
	libssh-dev libncurses-dev libvncserver-dev libnftables-dev \
	libcriterion-dev libcrypt-dev qemu-system-x86 qemu-utils \
	busybox-static dropbear-bin e2fsprogs cpio genisoimage kmod \
	openssh-client iproute2 nftables tmux sqlite3 procps psmisc \
	ca-certificates jq socat bc
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
		$(wildcard templates/tiny/*.sh)
	templates/tiny/build.sh $(B)/templates

# --- tests ----------------------------------------------------------------
# check installs what it needs first, then runs in a new make so that the
# pkg-config flags are read with the packages present.
check:
	$(MAKE) deps
	$(MAKE) B=$(B) check-run

check-run: all $(UNIT_BINS) template-tiny
	tests/run-unit $(UNIT_BINS)
	tests/integration/run $(B)

unit: $(UNIT_BINS)
	tests/run-unit $(UNIT_BINS)

integration: all template-tiny
	tests/integration/run $(B)

asan:
	$(MAKE) deps
	$(MAKE) B=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check-run

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

# --- install --------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(B)/labd $(DESTDIR)$(PREFIX)/sbin/labd
	install -m 0755 $(B)/labctl $(DESTDIR)$(PREFIX)/bin/labctl
	install -m 0755 $(B)/labtui $(DESTDIR)$(PREFIX)/bin/labtui
	install -m 0644 course-guide/man/labtui.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 course-guide/man/labctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 course-guide/man/labd.ini.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 course-guide/man/labd.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
