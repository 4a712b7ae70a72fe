"""The machine's RISC-V IOMMU (issue 6, first part): Umbra finds it in the
DTB, checks its capabilities, sets up its queues and a device directory in
which every device is blocked, and completes commands through IOFENCE.C."""
import re

from common import expect, guest_image, umbra_run

HELLO = guest_image("hello")
READY = re.compile(r"^umbra: iommu at 0x([0-9a-f]+): version (\d+)\.(\d+), (32|64)-byte device contexts, "
                   r"([123])-level directory, every device blocked \((\d+) commands\)$")


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


TESTS = [
    ("iommu_comes_up_and_completes_commands", iommu_comes_up_and_completes_commands),
    ("no_iommu_no_driver", no_iommu_no_driver),
]
