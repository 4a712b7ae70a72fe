# Umbra build.  `make` builds the hypervisor and the built-in guests,
# `make run` boots the demo, `make test` runs every test (both install missing
# dependencies first), `make debug` starts QEMU halted for gdb.

CROSS     ?= riscv64-unknown-elf-
HYP_CC    := $(CROSS)gcc
HYP_OBJCOPY := $(CROSS)objcopy
HOST_CC   ?= gcc
BUILD     := build
PYTHON    ?= python3

WARN      := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wvla
COMMON    := -std=c11 $(WARN) -O2 -g -I.
# Umbra itself uses no floating point: the F/D registers belong to the guest
# running on the hart, so the hypervisor is built for rv64imac only.
HYP_ARCH  := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -mno-relax
HYP_CFLAGS := $(COMMON) $(HYP_ARCH) -ffreestanding -nostdlib -fno-pic \
              -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
              -MMD -MP
HYP_LDFLAGS := -nostdlib -static -Wl,--gc-sections -Wl,-T,linker/umbra.ld -Wl,--no-warn-rwx-segments -Wl,--no-relax

# Portable sources: built for the hypervisor and for the host unit tests.
PORTABLE_SRCS := $(wildcard mm/*.c) $(wildcard core/fmt.c core/fdt.c core/config.c core/stats.c core/guest_dtb.c core/insn.c core/pci.c iommu/riscv_iommu.c)
HYP_SRCS  := $(wildcard arch/riscv/*.S arch/riscv/*.c core/*.c mm/*.c iommu/*.c)
HYP_OBJS  := $(patsubst %,$(BUILD)/hyp/%.o,$(HYP_SRCS))

HOST_CFLAGS := $(COMMON) -DUMBRA_HOST -fsanitize=address,undefined -fno-omit-frame-pointer -MMD -MP
HOST_OBJS := $(patsubst %,$(BUILD)/host/%.o,$(PORTABLE_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
TEST_GUESTS := $(patsubst tests/guests/%.S,$(BUILD)/tests/%.bin,$(wildcard tests/guests/*.S))

QEMU      ?= qemu-system-riscv64
OPENSBI   ?= /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

.PHONY: all deps run test unit debug clean test-guests fuzz bench
all: $(BUILD)/umbra.elf guests test-guests

GUESTS :=
-include guests/guests.mk
include guests/linux/linux.mk

deps:
	@tools/install-deps.sh

test-guests: $(TEST_GUESTS)

$(BUILD)/umbra.elf: $(HYP_OBJS) linker/umbra.ld
	$(HYP_CC) $(HYP_CFLAGS) $(HYP_LDFLAGS) -o $@ $(HYP_OBJS) -lgcc

$(BUILD)/hyp/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(HYP_CC) $(HYP_CFLAGS) -c $< -o $@

$(BUILD)/hyp/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(HYP_CC) $(HYP_CFLAGS) -c $< -o $@

$(BUILD)/host/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.c tests/unit/unit.h $(HOST_OBJS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< tests/unit/unit.c $(HOST_OBJS)

unit: $(UNIT_BINS)

# Tiny single-file guests that reproduce specific bugs (tests/guests/*.S),
# TEST_GUESTS above:
# linked at 0x80200000 with nothing else, flattened to a raw image.
$(BUILD)/tests/%.bin: tests/guests/%.S
	@mkdir -p $(dir $@)
	$(HYP_CC) -march=rv64imac_zicsr_zifencei -mabi=lp64 -nostdlib -static -Wl,-Ttext=0x80200000 \
		-Wl,--no-warn-rwx-segments -o $(@:.bin=.elf) $<
	$(HYP_OBJCOPY) -O binary $(@:.bin=.elf) $@

run: deps all
	tools/umbra-run --icount --kernel $(BUILD)/guests/hello.bin --mode hap --mem 64M --timeout 60

test: deps all unit linux
	$(PYTHON) tests/run.py

# The benchmark: every workload under every mode, the buffer sweep, the
# passthrough costs, and the generated bench/*.csv, docs/results*.md and
# docs/img/*.png.
bench: deps all linux
	@start=$$(date +%s); tools/umbra-bench --all && tools/umbra-bench-pci && \
	echo "make bench: done in $$(( $$(date +%s) - start )) s"

# The shadow-paging differential test with many more random sequences than
# `make test` runs (SHADOW_FUZZ_SEQS per configuration, SHADOW_FUZZ_SEED to
# start elsewhere).
fuzz: $(BUILD)/unit/test_shadow
	SHADOW_FUZZ_SEQS=$${SHADOW_FUZZ_SEQS:-50000} $(BUILD)/unit/test_shadow

debug: deps all
	@echo "Attach with: gdb-multiarch $(BUILD)/umbra.elf -ex 'target remote :1234'"
	tools/umbra-run --kernel $(BUILD)/guests/hello.bin --mode hap --mem 64M --gdb

clean:
	rm -rf $(BUILD)

-include $(HYP_OBJS:.o=.d) $(HOST_OBJS:.o=.d)
.SECONDARY:
