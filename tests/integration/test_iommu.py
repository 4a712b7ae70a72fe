"""Passthrough groundwork (issue 6): the machine's RISC-V IOMMU comes up at
boot (capabilities checked, queues on, a device directory in which every
device is blocked, commands completed through IOFENCE.C), and PCI bus 0 is
enumerated with every BAR placed in the host bridge's windows."""
import re

from common import expect, guest_image, umbra_run

HELLO = guest_image("hello")
READY = re.compile(r"^umbra: iommu at 0x([0-9a-f]+): version (\d+)\.(\d+), (32|64)-byte device contexts, "
                   r"([123])-level directory, every device blocked \((\d+) commands\), "
                   r"directory at host 0x([0-9a-f]+)$")


def iommu_comes_up_and_completes_commands():
    run = umbra_run("--iommu", "--kernel", HELLO, "--mem", "64M")
    expect(run.rc == 0, run, "hello with --iommu must pass")
    lines = [m for m in map(READY.match, run.lines("umbra: iommu")) if m]
    expect(len(lines) == 1, run, "no (or more than one) IOMMU ready line")
    m = lines[0]
    expect(int(m.group(1), 16) == 0x3010000, run, "the IOMMU is not where QEMU's DTB puts it")
    expect(m.group(2) == "1", run, "version 1.x expected")
    # QEMU's IOMMU offers MSI flat mode: 64-byte contexts, so bus 0's 256
    # functions need two directory levels.
    expect(m.group(4) == "64" and m.group(5) == "2", run, "directory format")
    # Two invalidations, each followed by its IOFENCE.C, all completed.
    expect(m.group(6) == "4", run, "commands issued at bring-up")
    return "iommu at 0x%s, %s commands" % (m.group(1), m.group(6))


def no_iommu_no_driver():
    run = umbra_run("--kernel", HELLO, "--mem", "64M")
    expect(run.rc == 0, run, "hello must pass")
    expect(not run.lines("umbra: iommu"), run, "an IOMMU reported on a machine without one")
    expect(not run.lines("umbra: pci"), run, "a PCI device reported on a bus with none")


PCI_LINE = re.compile(r"^umbra: pci 00:([0-9a-f]{2})\.(\d) ([0-9a-f]{4}):([0-9a-f]{4}) class ([0-9a-f]{6})"
                      r", BAR0 (\d+) KiB mem32 at 0x([0-9a-f]+)$")


def pci_devices_enumerated_and_placed():
    """Two edu devices: both found on bus 0 with their 1 MiB BAR0, placed at
    distinct, naturally aligned addresses inside the 32-bit window; the guest
    runs as before."""
    run = umbra_run("--iommu", "--pci-device", "edu", "--pci-device", "edu", "--kernel", HELLO, "--mem", "64M")
    expect(run.rc == 0, run, "hello with two edu devices must pass")
    found = [m for m in map(PCI_LINE.match, run.lines("umbra: pci")) if m]
    expect(len(found) == 2, run, "two edu functions expected on bus 0")
    bars = []
    for m in found:
        expect((m.group(3), m.group(4), m.group(5)) == ("1234", "11e8", "00ff00"), run, "not an edu device")
        size, addr = int(m.group(6)) << 10, int(m.group(7), 16)
        expect(size == 1 << 20, run, "edu's BAR0 is 1 MiB")
        expect(addr % size == 0 and 0x40000000 <= addr and addr + size <= 0x80000000, run,
               "BAR0 not aligned or outside the 32-bit window")
        bars.append(addr)
    expect(bars[0] != bars[1], run, "two BARs at one address")
    return ", ".join("%s:%s.%s BAR0 %#x" % ("00", m.group(1), m.group(2), a) for m, a in zip(found, bars))


TESTS = [
    ("pci_devices_enumerated_and_placed", pci_devices_enumerated_and_placed),
    ("iommu_comes_up_and_completes_commands", iommu_comes_up_and_completes_commands),
    ("no_iommu_no_driver", no_iommu_no_driver),
]
