# linux.mk — `make linux`: the riscv64 Linux 6.1 guest (included by the top
# Makefile).  build/linux/Image is built from Debian's linux-source-6.1 with
# guests/linux/umbra.config; build/linux/initramfs.cpio holds our static
# /init (guests/linux/init.c), which runs the workloads named on the kernel
# command line.  Not part of `make all`: the first kernel build takes
# minutes.  The kernel tree stays in build/linux/{src,obj}, so a rebuild after
# a configuration change is incremental and an unchanged one does nothing.

LINUX_OUT := $(BUILD)/linux

.PHONY: linux
linux: deps $(LINUX_OUT)/Image $(LINUX_OUT)/initramfs.cpio

# Order-only on deps: under make -j the packages must be in before building.
$(LINUX_OUT)/Image: guests/linux/umbra.config guests/linux/build.sh | deps
	$(Q)guests/linux/build.sh kernel $(LINUX_OUT)

$(LINUX_OUT)/initramfs.cpio: guests/linux/init.c guests/common/gups.h guests/linux/mkinitramfs.py guests/linux/build.sh | deps
	$(Q)guests/linux/build.sh initramfs $(LINUX_OUT)
