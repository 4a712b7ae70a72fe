# guests.mk — builds Umbra's built-in guest kernels (included by the top
# Makefile).  Each guest is an ordinary S-mode kernel linked at 0x8020_0000
# by linker/guest.ld; it is produced both as an ELF (for QEMU -kernel and gdb)
# and as a flat binary (objcopy -O binary, for Umbra's loader).
#
# Every guest links guests/common/* (entry, SBI calls, console, traps, DTB
# summary) and Umbra's small portable library, core/lib (types and
# assertions, formatting, the DTB reader, PTE bits, PCI enumeration, SBI
# numbers).  A guest includes nothing else of Umbra's (tests/integration/
# test_layout.py checks it).  Another guest can
# reuse this with:   $(eval $(call GUEST_IMAGE,name))   after which
# build/guests/name.{elf,bin} are built from guests/name/*.{c,S} and are part
# of `make guests`.

GUEST_ARCH    := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
# -fno-tree-loop-distribute-patterns: the byte loops of core/lib/fmt.c's memset
# and memcpy (and the guests' fill loops) must not become calls to memset.
GUEST_CFLAGS  := $(COMMON) $(GUEST_ARCH) -ffreestanding -nostdlib -fno-pic \
                 -fno-stack-protector -fno-strict-aliasing \
                 -fno-tree-loop-distribute-patterns -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -Wl,--gc-sections -Wl,-T,linker/guest.ld \
                 -Wl,--no-warn-rwx-segments
GUEST_OBJDIR  := $(BUILD)/guests/obj

# core/lib/fmt.c links first, as it did before core/lib existed: the link
# order places each guest's code, and under tsp (4 KiB shadow leaves around
# the kernel's page tables) every kernel text page first touched is a
# hidden fault, so reordering shifts recorded exit counts (bench/results.csv)
# with no change in Umbra.  The rest follow in sorted order (GNU make's
# $(wildcard) sorts only since 4.3).
GUEST_LIB_SRCS    := core/lib/fmt.c $(filter-out core/lib/fmt.c,$(sort $(wildcard core/lib/*.c)))
GUEST_COMMON_SRCS := $(wildcard guests/common/*.S guests/common/*.c) $(GUEST_LIB_SRCS)
GUEST_COMMON_OBJS := $(patsubst %,$(GUEST_OBJDIR)/%.o,$(GUEST_COMMON_SRCS))
GUEST_ALL_OBJS    := $(GUEST_COMMON_OBJS)

$(GUEST_OBJDIR)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(HYP_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OBJDIR)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(HYP_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guests/%.bin: $(BUILD)/guests/%.elf
	$(call quiet,OBJCOPY,$@)$(HYP_OBJCOPY) -O binary $< $@

# GUEST_IMAGE(name): the ELF rule for one guest, and its place in `guests`.
define GUEST_IMAGE
GUESTS += $(1)
GUEST_OBJS_$(1) := $$(patsubst %,$(GUEST_OBJDIR)/%.o,$$(wildcard guests/$(1)/*.S guests/$(1)/*.c) $$(GUEST_EXTRA_SRCS_$(1)))
GUEST_ALL_OBJS += $$(GUEST_OBJS_$(1))
$(BUILD)/guests/$(1).elf: $$(GUEST_OBJS_$(1)) $(GUEST_COMMON_OBJS) linker/guest.ld
	$$(call quiet,LD,$$@)$(HYP_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $$@ $$(GUEST_OBJS_$(1)) $(GUEST_COMMON_OBJS) -lgcc
guests: $(BUILD)/guests/$(1).elf $(BUILD)/guests/$(1).bin
endef

.PHONY: guests
$(eval $(call GUEST_IMAGE,hello))
$(eval $(call GUEST_IMAGE,selftests))
# devtest enumerates PCI with the same portable code Umbra uses (core/lib/pci.c).
$(eval $(call GUEST_IMAGE,devtest))
# fuzz: seeded random SBI calls, privileged instructions and device accesses.
$(eval $(call GUEST_IMAGE,fuzz))

# selftests-broken-fence: the selftests guest built from the same sources
# with -DSELFTESTS_BROKEN_FENCE, which drops one fence the RISC-V spec
# requires (see guests/selftests/test_sfence.c).  It exists to show which
# selftest, natively or in which Umbra mode, notices a kernel that
# under-flushes.  Its objects live apart from the normal build's.
SELFTESTS_BROKEN_OBJDIR := $(GUEST_OBJDIR)/broken-fence
SELFTESTS_BROKEN_OBJS := $(patsubst %,$(SELFTESTS_BROKEN_OBJDIR)/%.o,$(wildcard guests/selftests/*.S guests/selftests/*.c))
GUEST_ALL_OBJS += $(SELFTESTS_BROKEN_OBJS)

$(SELFTESTS_BROKEN_OBJDIR)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$< [broken-fence])$(HYP_CC) $(GUEST_CFLAGS) -DSELFTESTS_BROKEN_FENCE -c $< -o $@

$(SELFTESTS_BROKEN_OBJDIR)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(call quiet,CC,$< [broken-fence])$(HYP_CC) $(GUEST_CFLAGS) -DSELFTESTS_BROKEN_FENCE -c $< -o $@

$(BUILD)/guests/selftests-broken-fence.elf: $(SELFTESTS_BROKEN_OBJS) $(GUEST_COMMON_OBJS) linker/guest.ld
	$(call quiet,LD,$@)$(HYP_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(SELFTESTS_BROKEN_OBJS) $(GUEST_COMMON_OBJS) -lgcc
guests: $(BUILD)/guests/selftests-broken-fence.elf $(BUILD)/guests/selftests-broken-fence.bin

# tinyos stores user programs linked at a low user address inside its image,
# so it links with its own script (linker/tinyos.ld) instead of guest.ld.
GUESTS += tinyos
GUEST_OBJS_tinyos := $(patsubst %,$(GUEST_OBJDIR)/%.o,$(wildcard guests/tinyos/*.S guests/tinyos/*.c))
GUEST_ALL_OBJS += $(GUEST_OBJS_tinyos)
$(BUILD)/guests/tinyos.elf: $(GUEST_OBJS_tinyos) $(GUEST_COMMON_OBJS) linker/tinyos.ld
	$(call quiet,LD,$@)$(HYP_CC) $(GUEST_CFLAGS) $(subst linker/guest.ld,linker/tinyos.ld,$(GUEST_LDFLAGS)) -o $@ $(GUEST_OBJS_tinyos) $(GUEST_COMMON_OBJS) -lgcc
guests: $(BUILD)/guests/tinyos.elf $(BUILD)/guests/tinyos.bin

# Every guest relinks when this file changes (the link order above, say).
$(foreach g,$(GUESTS) selftests-broken-fence,$(BUILD)/guests/$(g).elf): guests/guests.mk

-include $(GUEST_ALL_OBJS:.o=.d)
