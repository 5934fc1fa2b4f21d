# boxlet — the front door. CMake does the building; this file names the jobs.
#   make          build everything into build/
#   make run      build boxlet and its agent (quietly), then stream a command's
#                 output from boxlet's engine (scripts/run-demo.sh)
#   make test     install deps, then every stage, whatever the others did: the
#                 format check, the suite, the suite under ASan+UBSan, a bounded
#                 fuzz run of every decoder; one summary of all of them at the
#                 end (scripts/test.sh)
#   make asan     the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz     fuzz the decoders for FUZZ_SECONDS each (libFuzzer, clang),
#                 FUZZ_JOBS of them side by side (default: the cores)
#   make prebuild build what asan and fuzz run, nothing more (make test does it
#                 in the background while the suite runs)
#   make install PREFIX=/usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 20
JOBS       := $(shell nproc 2>/dev/null || echo 2)
# ctest's slots: most tests wait on boxes, servers and timers, not on a core,
# so twice the cores; a test that keeps a core busy takes two slots
# (PROCESSORS in tests/CMakeLists.txt). docs/testing.md has the measurements.
TEST_JOBS  ?= $(shell echo $$(( $(JOBS) * 2 )))

.PHONY: all deps build run test unit asan asan-build fuzz fuzz-build prebuild install clean bench format format-check

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j$(JOBS) -- -s

run:
	@MAKEFLAGS= sh scripts/run-demo.sh $(BUILD)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS)

test:
	@MAKE="$(MAKE)" LOGS="$(CURDIR)/build-logs" sh scripts/test.sh

asan: deps asan-build
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(TEST_JOBS)

fuzz: deps fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The builds alone, without deps (make test runs them beside the suite, whose
# deps already ran: two apt-get at once would fight over its lock).
asan-build:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DBOXLET_SANITIZE=ON >/dev/null
	@MAKEFLAGS= cmake --build $(ASAN_BUILD) -j$(JOBS) -- -s

fuzz-build:
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DBOXLET_FUZZ=ON >/dev/null
	@MAKEFLAGS= cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers -- -s

prebuild: asan-build fuzz-build

bench: build
	@sh bench/run.sh $(BUILD)

# The house style is .clang-format; `make test` refuses unformatted C.
format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check: deps
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

# Installs what `make` built, as built: build/ is not configured again.
# ldconfig runs for prefixes the loader searches (cmake/install_pkgconfig.cmake).
install:
	@test -f $(BUILD)/CMakeCache.txt || $(MAKE) --no-print-directory build
	@MAKEFLAGS= cmake --build $(BUILD) -j$(JOBS) -- -s
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-logs
