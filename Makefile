# goc — top-level driver over CMake + CTest. `make run` and `make test` are all a user needs.
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build run test bench install clean format asan tsan check-deps

all: build

check-deps:
	@command -v cmake >/dev/null 2>&1 || { \
	  echo "cmake not found: installing it with apt-get"; \
	  (apt-get update -qq && apt-get install -y -qq cmake) || \
	  { echo "please install cmake (apt-get install cmake)"; exit 1; }; }

$(BUILD)/CMakeCache.txt: | check-deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# The showcase program (a demo of what has landed).
run: build
	./$(BUILD)/goc-demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 300

bench: build
	./bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DGOC_SANITIZE=address"

tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DGOC_SANITIZE=thread"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
