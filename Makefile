# boxlet — the front door. CMake does the building; this file names the jobs.
#   make          build everything into build/
#   make run      build, then stream a command's output from boxlet's engine
#   make test     install deps, build, run the suite, then the suite under
#                 ASan+UBSan, then a bounded fuzz run of every decoder
#   make asan     the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz     fuzz the decoders for FUZZ_SECONDS each (libFuzzer, clang)
#   make install PREFIX=/usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 20
JOBS       := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test unit asan fuzz install clean bench format format-check

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j$(JOBS) -- -s

run: build
	@sh scripts/run-demo.sh $(BUILD)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test: format-check unit
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory fuzz

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DBOXLET_SANITIZE=ON >/dev/null
	@MAKEFLAGS= cmake --build $(ASAN_BUILD) -j$(JOBS) -- -s
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DBOXLET_FUZZ=ON >/dev/null
	@MAKEFLAGS= cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers -- -s
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@sh bench/run.sh $(BUILD)

# The house style is .clang-format; `make test` refuses unformatted C.
format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check: deps
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
