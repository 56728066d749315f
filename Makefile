# maild — `make run` and `make test` install what they need first (Debian packages, a Python venv).

SWIFT    ?= swift
PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
BIN      := .build/debug
RELEASE  := .build/release
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX   ?= /usr
SYSCONFDIR ?= /etc
UNITDIR  ?= /lib/systemd/system
DESTDIR  ?=

APT_PACKAGES := libssl-dev libsqlite3-dev pkg-config openssl python3 python3-venv
PIP_PACKAGES := aiosmtpd==1.4.6 pytest

.PHONY: all deps deps-test build release run test unit integration bench install install-sendmail clean

all: build

## Debian packages the build and the tests need (installed only when missing).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make: installing $$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## A Python venv with aiosmtpd (the development and test relay) and pytest.
$(VPY):
	$(PYTHON) -m venv $(VENV)

deps-test: deps $(VPY)
	@$(VPY) -c "import aiosmtpd, pytest" 2>/dev/null || $(VPY) -m pip install -q $(PIP_PACKAGES)

build: deps
	$(SWIFT) build

## The Swift runtime is linked in: a production host needs only libssl and libsqlite3 (SPEC §1).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## Builds, starts a development relay on 127.0.0.1:2525 that prints every message, and runs maild in
## the foreground on config/maild.dev.toml (socket var/maild.sock). Ctrl-C stops both.
run: deps-test build
	@scripts/dev-run.sh $(VPY) $(BIN)

unit: deps build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration: deps-test build
	MAILD_BIN_DIR=$(abspath $(BIN)) $(VPY) -m pytest -q Tests/Integration

test: unit integration

bench: deps-test release
	@Benchmarks/run.sh $(VPY) $(RELEASE)

## INSTALL_FROM names the build to install; NO_BUILD=1 skips building it (the tests use the debug build).
INSTALL_FROM ?= $(RELEASE)
install: $(if $(NO_BUILD),,release)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 -s $(INSTALL_FROM)/maild $(DESTDIR)$(PREFIX)/sbin/maild
	install -m 0755 -s $(INSTALL_FROM)/mailctl $(DESTDIR)$(PREFIX)/bin/mailctl
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	sed -e 's|^ExecStart=/usr/sbin/maild|ExecStart=$(PREFIX)/sbin/maild|' -e 's|--config /etc/maild/|--config $(SYSCONFDIR)/maild/|' \
		systemd/maild.service > $(DESTDIR)$(UNITDIR)/maild.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/maild.service
	install -m 0644 systemd/maild.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/maild.conf
	install -m 0644 systemd/maild.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/maild.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/maild/companies.d
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/maild/maild.toml ]; then \
		echo "make: keeping the existing $(DESTDIR)$(SYSCONFDIR)/maild/maild.toml"; \
	else \
		install -m 0644 config/maild.toml $(DESTDIR)$(SYSCONFDIR)/maild/maild.toml; \
	fi
	install -m 0644 config/companies.d/acme.toml.example $(DESTDIR)$(SYSCONFDIR)/maild/companies.d/acme.toml.example

## A `sendmail` link to mailctl, only when asked (it replaces any other MTA's sendmail).
install-sendmail: install
	install -d $(DESTDIR)$(PREFIX)/sbin
	ln -sf ../bin/mailctl $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf mailctl $(DESTDIR)$(PREFIX)/bin/mailq

clean:
	rm -rf .build var
