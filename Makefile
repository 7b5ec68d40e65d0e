# msf: build, test, benchmark and install.
#
#   make            library build/libmsf.a and the CLI bin/msf
#   make test       Check suites and CLI tests (the CI command)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan (separate build dir)
#   make check-full full-size cross-checks against PyTorch (needs python3-torch; not in CI)
#   make bench      operator benchmarks against raw OpenBLAS sgemm, then bench-mpi
#   make bench-mpi  msf run with 1 and 2 MPI ranks vs 1 process with 2 threads
#   make fuzz       libFuzzer targets (clang) for FUZZ_SECONDS each (make deps-fuzz)
#   make paper      paper/REPRODUCTION.md from results/ (msf report)
#   make demo       the main job: installs missing packages, builds, runs
#                   experiments/fmnist_demo.yaml (trained Fashion-MNIST models)
#                   into build/demo/ (DEMO_RESULTS=results remakes the committed run)
#   make format     rewrite the C sources in the house style (.clang-format; clang-format)
#   make format-check  list the C files that differ from it (exit 1 if any)
#   make deps       install the Debian packages (apt-get when root, else print the command)
#   make deps-python  the same for the Python tools (python3-torch, h5py, numpy, scipy, pywt, PIL)
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
CC ?= cc

PKGS := openblas hdf5-serial fftw3f libpng zlib libzip yaml-0.1
DEB_PKGS := build-essential pkg-config libopenblas-openmp-dev libfftw3-dev libhdf5-dev libpng-dev \
            zlib1g-dev libzip-dev libyaml-dev check libsubunit-dev gnuplot-nox dataset-fashion-mnist \
            libopenmpi-dev openmpi-bin libdnnl-dev
DEB_PY_PKGS := python3-torch python3-h5py python3-numpy python3-scipy python3-pywt python3-pil

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# -std=c11 keeps GCC from contracting a*b+c into FMAs behind our back
# (-ffp-contract=off stated anyway): the reference kernels must match PyTorch.
OPT ?= -O3
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) -g -fopenmp -ffp-contract=off \
               -Wall -Wextra -Wshadow -Wno-unused-parameter -Isrc -I.
LDLIBS_BASE := -fopenmp $(PKG_LIBS) -lm

# V=1 shows the full compiler command lines.
Q := $(if $(filter 1,$(V)),,@)

BUILD := build
ifeq ($(SANITIZE),1)
  BUILD := build/san
  CFLAGS_BASE += -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
                 -fno-sanitize-recover=undefined,float-cast-overflow
  LDLIBS_BASE += -fsanitize=address,undefined
endif
ifeq ($(WERROR),1)
  CFLAGS_BASE += -Werror
endif

# MPI (msf run under mpirun/srun, src/core/dist.c): on when OpenMPI's
# pkg-config file is found (libopenmpi-dev), or MPI=1 / MPI=0 to force it.
ifeq ($(origin MPI),undefined)
  MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
endif
ifeq ($(MPI),1)
  MPI_CFLAGS := -DMSF_MPI $(shell pkg-config --cflags ompi-c 2>/dev/null)
  MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null)
  ifeq ($(MPI_LIBS),)
    $(error MPI=1 but pkg-config finds no ompi-c: install libopenmpi-dev openmpi-bin (make deps))
  endif
endif

# oneDNN (the bf16 path, src/nn/linear_bf16.c): on when <oneapi/dnnl/dnnl.h>
# and -ldnnl are found (libdnnl-dev ships no pkg-config file), or DNNL=1 /
# DNNL=0 to force it.
ifeq ($(origin DNNL),undefined)
  DNNL := $(shell printf '\043include <oneapi/dnnl/dnnl.h>\nint main(void) { return dnnl_version() == 0; }\n' | \
            $(CC) -x c - -ldnnl -o /dev/null 2>/dev/null && echo 1 || echo 0)
endif
ifeq ($(DNNL),1)
  DNNL_CFLAGS := -DMSF_DNNL
  DNNL_LIBS := -ldnnl
endif

ALL_CFLAGS := $(CFLAGS_BASE) $(MPI_CFLAGS) $(DNNL_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL := $(LDLIBS_BASE) $(MPI_LIBS) $(DNNL_LIBS)

LIB_SRC := $(sort $(wildcard src/core/*.c src/nn/*.c src/io/*.c src/models/*.c src/diffusion/*.c src/msf/*.c src/config/*.c src/run/*.c eval/*.c))
CLI_MAIN := src/cli/msf.c
CLI_SRC := $(filter-out $(CLI_MAIN),$(sort $(wildcard src/cli/*.c)))
TEST_UTIL_SRC := tests/testutil.c
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))

LIB := $(BUILD)/libmsf.a
CLI_LIB := $(BUILD)/libmsfcli.a
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
CLI_MAIN_OBJ := $(CLI_MAIN:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
ifeq ($(SANITIZE),1)
  MSF := $(BUILD)/bin/msf
else
  MSF := bin/msf
endif

.PHONY: format format-check deps-format test-tools all test check-full bench bench-mpi clean install deps deps-python golden paper demo deps-if-missing fuzz deps-fuzz
all: $(LIB) $(MSF)

# Objects are rebuilt when the compiler flags change (OPT=, WERROR=, ...).
$(shell mkdir -p $(BUILD) && (echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $(BUILD)/flags.txt || echo '$(CC) $(ALL_CFLAGS)' >$(BUILD)/flags.txt))

$(BUILD)/obj/%.o: %.c $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The build commit is compiled into version.o, rebuilt when the commit changes.
GIT_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(shell mkdir -p $(BUILD) && (echo '$(GIT_COMMIT)' | cmp -s - $(BUILD)/commit.txt || echo '$(GIT_COMMIT)' >$(BUILD)/commit.txt))
$(BUILD)/obj/src/core/version.o: ALL_CFLAGS += -DMSF_GIT_COMMIT='"$(GIT_COMMIT)"'
$(BUILD)/obj/src/core/version.o: $(BUILD)/commit.txt

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

# The CLI's helpers (progress bar, ...) are a library too, so tests can link them.
$(CLI_LIB): $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(MSF): $(CLI_MAIN_OBJ) $(CLI_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(CLI_MAIN_OBJ) $(CLI_LIB) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/%.c $(TEST_UTIL_SRC) tests/testutil.h $(CLI_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(TEST_UTIL_SRC) $(CLI_LIB) $(LIB) $(CHECK_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(CLI_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(CLI_LIB) $(LIB) $(LDLIBS_ALL)

# Fuzz targets (tests/fuzz/fuzz_NAME.c): `make test` replays their seed
# corpus and regression inputs through them with this compiler (and the
# sanitizers with SANITIZE=1); `make fuzz` builds them with clang's libFuzzer.
REPLAY_TARGETS := npz idx png yaml h5
REPLAY_BIN := $(REPLAY_TARGETS:%=$(BUILD)/fuzz/replay_%)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(CLI_LIB) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay.c $(CLI_LIB) $(LIB) $(LDLIBS_ALL)

# Each suite runs from the repository root (golden files are read from tests/golden/).
test: $(TEST_BIN) $(MSF) $(REPLAY_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t; done
	@set -e; for s in tests/cli_*.sh; do echo "== $$s"; MSF=$(MSF) sh $$s; done
	@set -e; for f in $(REPLAY_TARGETS); do echo "== fuzz corpus $$f"; \
	  asan=; [ $$f != h5 ] || asan=allocator_may_return_null=1:max_allocation_size_mb=2000; \
	  ASAN_OPTIONS=$$asan LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
	  $(BUILD)/fuzz/replay_$$f tests/fuzz/corpus/$$f $$(ls -d tests/fuzz/regressions/$$f 2>/dev/null); done
ifneq ($(SANITIZE),1)
	@$(MAKE) --no-print-directory test-tools
endif
	@echo "all tests passed"

# The Python tools' own tests (converters, HDF5 layouts, training smoke runs,
# the reference models): python3-torch etc. (make deps-python). Skipped under
# SANITIZE=1 (no C code of ours runs in them). Without torch they say SKIP,
# which under CI (CI=true) is a failure.
test-tools:
	@if /usr/bin/python3 -c 'import torch, h5py, numpy' 2>/dev/null; then \
	  set -e; for t in tools/test_tools.py tools/test_msf_tools.py; do echo "== $$t"; /usr/bin/python3 $$t; done; \
	elif [ "$${CI:-}" = true ]; then echo "FAIL: SKIP in CI: tools tests need python3-torch, h5py, numpy"; exit 1; \
	else echo "SKIP: tools tests (python3-torch, h5py or numpy missing: make deps-python)"; fi

# make fuzz [FUZZ_SECONDS=30] [FUZZ_TARGETS="npz idx"]: each target under
# libFuzzer (clang, -fsanitize=fuzzer,address,undefined) for FUZZ_SECONDS,
# starting from tests/fuzz/corpus/NAME; what it learns goes to
# build/fuzz-clang/corpus/NAME, a crashing input to
# build/fuzz-clang/crash-NAME-* (copy it to tests/fuzz/regressions/NAME/ once
# fixed). 2 GB memory limit per target: a larger allocation is a finding.
# The h5 target runs with ASan's allocator_may_return_null=1 and
# max_allocation_size_mb=2000: libhdf5 itself asks malloc for up to a
# terabyte when a corrupt file's metadata says so, and handles the NULL as a
# read error (what the normal build does); leaks inside libhdf5 on corrupt
# files are suppressed (tests/fuzz/lsan.supp). libhdf5's own crashes happen
# in msf's probing child (src/io/h5read.c), which the target survives as an
# error; tests/fuzz/known-crashes/README.md lists what they were.
FUZZ_TARGETS ?= npz idx png yaml h5
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_BUILD := build/fuzz-clang
FUZZ_CFLAGS := $(filter-out -fopenmp -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS_BASE)) -fopenmp \
               -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libmsf.a: $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libmsf.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libmsf.a \
	  $(filter-out -fsanitize=%,$(LDLIBS_BASE)) -fsanitize=fuzzer,address,undefined

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$f; echo "== fuzz $$f ($(FUZZ_SECONDS) s)"; \
	  log=$(FUZZ_BUILD)/fuzz_$$f.log; \
	  asan=; [ $$f != h5 ] || asan=allocator_may_return_null=1:max_allocation_size_mb=2000; \
	  ASAN_OPTIONS=$$asan LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp $(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$f- $(FUZZ_BUILD)/corpus/$$f tests/fuzz/corpus/$$f >$$log 2>&1 || \
	    { tail -n 60 $$log; echo "fuzz $$f: crash (log $$log)"; exit 1; }; \
	  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)" $$log; done
	@echo "fuzz: no crash"

# Full-size cross-checks: PyTorch writes inputs and outputs at real model
# shapes to a temporary directory; the same C suites then compare against them.
check-full: $(TEST_BIN)
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	for g in tools/golden/gen_*.py; do $(PYTHON) $$g --full --out "$$d"; done; \
	for t in $(TEST_BIN); do echo "== $$t (full)"; MSF_GOLDEN_DIR="$$d" $$t; done

# Regenerate the committed golden files (needs python3-torch, python3-h5py).
golden:
	@set -e; for g in tools/golden/gen_*.py; do $(PYTHON) $$g --out tests/golden; done

# The reproduction report: reported (paper/reported.csv) vs reproduced (results/).
paper: $(MSF)
	$(MSF) report --results-dir results --reported paper/reported.csv --out paper/REPRODUCTION.md

# The main job on a fresh clone: packages (only when one is missing), build,
# then the Fashion-MNIST demo experiment, sampled afresh (--force) into
# DEMO_RESULTS (default build/demo, so the checkout stays clean; the
# committed run is results/fmnist_demo/, remade with DEMO_RESULTS=results);
# prints its table and where it is.
DEMO_RESULTS ?= build/demo
demo:
	@$(MAKE) --no-print-directory deps-if-missing
	@$(MAKE) --no-print-directory -j$$(nproc) all
	$(MSF) run experiments/fmnist_demo.yaml --force --results-dir $(DEMO_RESULTS)
	@cat $(DEMO_RESULTS)/fmnist_demo/table.md
	@echo "demo results: $(DEMO_RESULTS)/fmnist_demo/ (the committed run: results/fmnist_demo/)"

deps-if-missing:
	@dpkg-query -W -f='$${Status}\n' $(DEB_PKGS) 2>/dev/null | grep -c 'install ok installed' | \
	  grep -qx "$(words $(DEB_PKGS))" || $(MAKE) --no-print-directory deps

bench: $(BENCH_BIN) $(MSF)
	@set -e; for b in $(BENCH_BIN); do $$b; done
	@MSF=$(MSF) sh bench/mpi_scaling.sh

# msf run with 1 and 2 MPI ranks against 1 process with 2 threads (alone).
bench-mpi: $(MSF)
	@MSF=$(MSF) sh bench/mpi_scaling.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/msf
	install -m 755 bin/msf $(DESTDIR)$(PREFIX)/bin/msf
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libmsf.a
	cd src && find core nn io models diffusion msf -name '*.h' -exec install -D -m 644 {} $(DESTDIR)$(PREFIX)/include/msf/{} \;

# deps: what the build and `make test` need; deps-python: the Python tools
# (converters, golden generators, check-full, the converter tests in make test).
deps:
	@$(call apt_install,$(DEB_PKGS))
deps-python:
	@$(call apt_install,$(DEB_PY_PKGS))
deps-format:
	@$(call apt_install,clang-format)
# make fuzz: clang with libFuzzer and the LLVM OpenMP runtime.
deps-fuzz:
	@$(call apt_install,clang libclang-rt-14-dev libomp-dev)
apt_install = if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1); \
	else \
	  echo "run as root: apt-get update && apt-get install -y $(1)"; \
	fi

# The C sources the house style covers (.clang-format, clang-format 14).
FORMAT_SRC = $(shell git ls-files 'src/*.[ch]' 'eval/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 2>/dev/null)
CLANG_FORMAT ?= clang-format
format:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format: no $(CLANG_FORMAT) (apt-get install clang-format)"; exit 1; }
	$(CLANG_FORMAT) -i $(FORMAT_SRC)
format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format-check: no $(CLANG_FORMAT) (apt-get install clang-format)"; exit 1; }
	@bad=0; for f in $(FORMAT_SRC); do $(CLANG_FORMAT) "$$f" | cmp -s "$$f" - || { echo "not formatted: $$f"; bad=1; }; done; \
	  [ $$bad = 0 ] && echo "format-check: $(words $(FORMAT_SRC)) files in the house style"

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CLI_MAIN_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
