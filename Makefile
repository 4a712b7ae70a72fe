# Umbra build.  `make` builds the hypervisor and the built-in guests,
# `make run` runs the demo (one workload under every mode), `make test` runs every test (both install missing
# dependencies first), `make debug` starts QEMU halted for gdb.
# The build prints one line per step (`CC core/exit.c`); `make V=1` prints
# the full commands.

CROSS     ?= riscv64-unknown-elf-
HYP_CC    := $(CROSS)gcc
HYP_OBJCOPY := $(CROSS)objcopy
HOST_CC   ?= gcc
BUILD     := build
PYTHON    ?= python3

# Kbuild-style quiet output: $(call quiet,TAG,what) before a command.
# `make test` builds with BUILD_QUIET=1: no line per step, so its test
# output starts on the first screen (errors still print).
V ?= 0
ifeq ($(V),1)
Q :=
quiet =
else ifeq ($(BUILD_QUIET),1)
Q := @
quiet = @
else
Q := @
quiet = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif
export V

WARN      := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wvla
COMMON    := -std=c11 $(WARN) -O2 -g -I.
# Umbra itself uses no floating point: the F/D registers belong to the guest
# running on the hart, so the hypervisor is built for rv64imac only.
HYP_ARCH  := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -mno-relax
HYP_CFLAGS := $(COMMON) -I$(BUILD)/gen $(HYP_ARCH) -ffreestanding -nostdlib -fno-pic \
              -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
              -MMD -MP
HYP_LDFLAGS := -nostdlib -static -Wl,--gc-sections -Wl,-T,linker/umbra.ld -Wl,--no-warn-rwx-segments -Wl,--no-relax

# Portable code lives in whole folders: every file in them is built for the
# hypervisor and for the host unit tests.  core/lib is also the only part of
# Umbra the built-in guests use (guests/guests.mk).
PORTABLE_DIRS := core/lib core/portable mm iommu/riscv iommu/pci iommu/viommu iommu/mediator iommu/coiommu
PORTABLE_SRCS := $(wildcard $(addsuffix /*.c,$(PORTABLE_DIRS)))
# Everything else under these folders is hypervisor-only.
HYP_DIRS  := arch/riscv core core/devices core/mmu core/monitor iommu/driver iommu/hostbridge iommu/passthrough iommu/provider iommu/share iommu/pinning
HYP_SRCS  := $(filter-out arch/riscv/asm_offsets.c,$(wildcard $(addsuffix /*.S,$(HYP_DIRS)) $(addsuffix /*.c,$(HYP_DIRS)))) \
             $(PORTABLE_SRCS)
HYP_OBJS  := $(patsubst %,$(BUILD)/hyp/%.o,$(HYP_SRCS))
# Offsets and constants the assembly uses, generated from the C structs.
ASM_OFFSETS := $(BUILD)/gen/asm_offsets.h

HOST_CFLAGS := $(COMMON) -DUMBRA_HOST -fsanitize=address,undefined -fno-omit-frame-pointer -MMD -MP
HOST_OBJS := $(patsubst %,$(BUILD)/host/%.o,$(PORTABLE_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
TEST_GUESTS := $(patsubst tests/guests/%.S,$(BUILD)/tests/%.bin,$(wildcard tests/guests/*.S))

QEMU      ?= qemu-system-riscv64
OPENSBI   ?= /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

.PHONY: all deps run hello test unit debug clean test-guests fuzz soak bench bench-tlb pictures tlbsim
all: $(BUILD)/umbra.elf guests test-guests tlbsim

GUESTS :=
-include guests/guests.mk
include guests/linux/linux.mk

deps:
	@tools/install-deps.sh

test-guests: $(TEST_GUESTS)

$(BUILD)/umbra.elf: $(HYP_OBJS) linker/umbra.ld
	$(call quiet,LD,$@)$(HYP_CC) $(HYP_CFLAGS) $(HYP_LDFLAGS) -o $@ $(HYP_OBJS) -lgcc

# asm_offsets.c is compiled to assembly only; each DEFINE() in it leaves a
# "->NAME value" marker that becomes one #define (as Linux and Bao do).
$(ASM_OFFSETS): arch/riscv/asm_offsets.c
	@mkdir -p $(dir $@) $(BUILD)/hyp/arch/riscv
	$(call quiet,GEN,$@)$(HYP_CC) $(HYP_CFLAGS) -MT $@ -MF $(BUILD)/hyp/arch/riscv/asm_offsets.d -S $< -o $(BUILD)/hyp/arch/riscv/asm_offsets.s && \
	{ echo "/* Generated from arch/riscv/asm_offsets.c: do not edit. */"; \
	  echo "#ifndef UMBRA_GEN_ASM_OFFSETS_H"; echo "#define UMBRA_GEN_ASM_OFFSETS_H"; \
	  sed -n 's/^.*->\([A-Za-z0-9_]*\) [#$$]*\(-\{0,1\}[0-9][0-9]*\).*$$/#define \1 \2/p' $(BUILD)/hyp/arch/riscv/asm_offsets.s; \
	  echo "#endif"; } > $@.tmp && mv $@.tmp $@

$(BUILD)/hyp/%.S.o: %.S $(ASM_OFFSETS)
	@mkdir -p $(dir $@)
	$(call quiet,AS,$<)$(HYP_CC) $(HYP_CFLAGS) -c $< -o $@

$(BUILD)/hyp/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(HYP_CC) $(HYP_CFLAGS) -c $< -o $@

$(BUILD)/host/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,HOSTCC,$<)$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.c tests/unit/unit.h $(HOST_OBJS)
	@mkdir -p $(dir $@)
	$(call quiet,HOSTLD,$@)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< tests/unit/unit.c $(HOST_OBJS) -pthread

unit: $(UNIT_BINS)

# tlbsim (tools/tlbsim): the QEMU plugin that simulates the harts' TLBs and
# page walks for `make bench-tlb`.  Its TLB and walk model is host C that
# the unit test test_tlbsim links directly.
TLBSIM_MODEL := tools/tlbsim/tlb.c tools/tlbsim/walk.c
TLBSIM_SRCS := tools/tlbsim/plugin.c $(TLBSIM_MODEL)
TLBSIM := $(BUILD)/tlbsim/libtlbsim.so
tlbsim: $(TLBSIM)

$(TLBSIM): $(TLBSIM_SRCS) $(wildcard tools/tlbsim/*.h)
	@mkdir -p $(dir $@)
	$(call quiet,HOSTLD,$@)$(HOST_CC) $(COMMON) -D_DEFAULT_SOURCE -fPIC -shared -fvisibility=hidden -o $@ $(TLBSIM_SRCS)

$(BUILD)/unit/test_tlbsim: tests/unit/test_tlbsim.c tests/unit/unit.c tests/unit/unit.h $(HOST_OBJS) $(TLBSIM_MODEL) $(wildcard tools/tlbsim/*.h)
	@mkdir -p $(dir $@)
	$(call quiet,HOSTLD,$@)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< tests/unit/unit.c $(HOST_OBJS) $(TLBSIM_MODEL)

# Tiny single-file guests that reproduce specific bugs (tests/guests/*.S),
# TEST_GUESTS above:
# linked at 0x80200000 with nothing else, flattened to a raw image.
$(BUILD)/tests/%.bin: tests/guests/%.S $(wildcard tests/guests/*.inc)
	@mkdir -p $(dir $@)
	$(call quiet,AS,$<)$(HYP_CC) -march=rv64imac_zicsr_zifencei -mabi=lp64 -nostdlib -static -Wl,-Ttext=0x80200000 \
		-Wl,--no-warn-rwx-segments -o $(@:.bin=.elf) $<
	$(Q)$(HYP_OBJCOPY) -O binary $(@:.bin=.elf) $@

# The main demo: one tinyos workload natively and under every mode, side by
# side (tools/umbra-demo).  `make hello` boots the smallest guest alone.
run: deps
	@echo "  BUILD    umbra and the guests (one line per step: make all; commands: V=1)"
	$(Q)$(MAKE) --no-print-directory $(if $(filter 1,$(V)),,-s BUILD_QUIET=1) all
	$(Q)tools/umbra-demo

hello: deps all
	$(Q)tools/umbra-run --icount --kernel $(BUILD)/guests/hello.bin --mode hap --mem 64M --timeout 60

test: deps
	@echo "  BUILD    umbra, guests, unit tests, Linux guest (one line per step: make all unit; commands: V=1)"
	$(Q)$(MAKE) --no-print-directory $(if $(filter 1,$(V)),,-s BUILD_QUIET=1) all unit linux
	$(Q)$(PYTHON) tests/run.py

# The benchmark: every workload under every mode, the buffer sweep, the
# passthrough, TLB, vIOMMU, shared-device and DMA-pinning costs, and the generated bench/*.csv, docs/results*.md and
# docs/img/*.png.
bench: deps all linux
	@start=$$(date +%s); tools/umbra-bench --all && tools/umbra-bench-pci && tools/umbra-bench-tlb && \
		tools/umbra-bench-viommu && tools/umbra-bench-share && tools/umbra-bench-coiommu && tools/umbra-bench-start && \
	echo "make bench: done in $$(( $$(date +%s) - start )) s"

# The TLB-cost part of the benchmark alone (also in `make bench`):
# bench/tlb.csv, docs/results-tlb.md, docs/img/tlb.png.
bench-tlb: deps all
	$(Q)tools/umbra-bench-tlb

# The page-table pictures of docs/shadow-paging.md section 8 (Graphviz).
pictures: deps all
	$(Q)tools/umbra-pictures

# The shadow-paging differential test with many more random sequences than
# `make test` runs (SHADOW_FUZZ_SEQS per configuration, SHADOW_FUZZ_SEED to
# start elsewhere), then the fuzz guest (guests/fuzz) with many rounds
# (FUZZ_ROUNDS, FUZZ_SEED) under every mode, kind=all with --device edu.
fuzz: $(BUILD)/unit/test_shadow all
	$(Q)SHADOW_FUZZ_SEQS=$${SHADOW_FUZZ_SEQS:-50000} $(BUILD)/unit/test_shadow
	$(Q)for mode in hap tsp ssp; do \
	  out=$$(tools/umbra-run --timeout 900 --kernel $(BUILD)/guests/fuzz.bin --mode $$mode --device edu \
	    --append "seed=$${FUZZ_SEED:-1} rounds=$${FUZZ_ROUNDS:-50000} kind=all"); rc=$$?; \
	  echo "$$out" | grep -a "summary\|fuzz: PASS\|FAIL\|PANIC" | sed "s/^/$$mode: /"; \
	  [ $$rc -eq 0 ] && echo "$$out" | grep -q "fuzz: PASS" || { echo "make fuzz: $$mode failed (rc $$rc)"; exit 1; }; done

# Eight VMs (tinyos, Linux, devtest with edu and NVMe) over hap, tsp and ssp
# in one machine, round after round until SOAK_MINUTES of guest time (default
# 60) or exactly SOAK_ROUNDS rounds: every checksum native, every pool back
# where it started (tools/umbra-soak; results in build/soak/).
soak: deps all linux
	$(Q)SOAK_MINUTES=$${SOAK_MINUTES:-60} tools/umbra-soak

debug: deps all
	@echo "Attach with: gdb-multiarch $(BUILD)/umbra.elf -ex 'target remote :1234'"
	$(Q)tools/umbra-run --kernel $(BUILD)/guests/hello.bin --mode hap --mem 64M --gdb

clean:
	rm -rf $(BUILD)

-include $(HYP_OBJS:.o=.d) $(HOST_OBJS:.o=.d) $(BUILD)/hyp/arch/riscv/asm_offsets.d
.SECONDARY:
