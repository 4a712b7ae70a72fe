"""Lazily backed guest RAM, reclaim and DMA pinning (issue 14): Linux (2
vCPUs) lazily backed and reclaimed equals native; the devtest
guest's memtouch workload (write, check, sum and zero N MiB, wait, check
again) and its edu + NVMe run give the same RESULT lines as eagerly backed
RAM and native in hap, tsp and ssp; only what the guest touches is backed;
reclaim takes zero pages back, also from a guest that never exits while it
waits, and from eagerly backed RAM the guest never touched; VMs whose RAM
adds up to more than the machine holds all finish; a VM that cannot be
backed ends alone, named, with status 3; the pinning policies keep the
device results and pin what they should; a DMA to a page never announced
to the coIOMMU is blocked.  Exact counts depend on timing (reclaim runs
from a timer), so only bounds are asserted."""
import os
import shutil
import tempfile

from common import csv_rows, expect, guest_image, umbra_run

DEVTEST = guest_image("devtest")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINUX = [os.path.join(REPO, "build", "linux", f) for f in ("Image", "initramfs.cpio")]
MODES = ("hap", "tsp", "ssp")
TOUCH = "touch_mib=32 touch_wait_ms=100"
MEM = "128M"
PAGES = 128 * 256


class Scratch:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="umbra-memory-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def disk(self, mib=16):
        path = self.path("disk.img")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write((bytes(range(256)) * 4096 * mib)[:mib << 20])
                f.write(bytes(mib << 20))
        return path


def row_of(path, vm="vm0"):
    return {r["vm"]: r for r in csv_rows(path)}[vm]


def mm(row, name):
    return int(row["mm_" + name])


def results(run, prefix=""):
    expect(run.lines(prefix + "devtest: ") and not run.lines(prefix + "devtest: FAIL"), run,
           "%sdevtest failed a check" % prefix)
    expect(any(l.endswith(" 0 failed") for l in run.lines(prefix + "devtest: ")), run,
           "%sno clean summary" % prefix)
    return [l[len(prefix):] for l in run.lines(prefix + "devtest: RESULT ")]


def memtouch(s, name, *args, append=TOUCH, timeout=180):
    stats = s.path(name + ".csv")
    run = umbra_run("--kernel", DEVTEST, "--mem", MEM, "--append", append, "--stats", stats, *args,
                    timeout=timeout)
    expect(run.rc == 0, run, "%s: run failed" % name)
    return run, row_of(stats)


def lazy_backing_in_every_mode():
    """Lazy backing, each mode: memtouch's RESULT equals native and eager;
    the pages backed at the peak cover the 32 MiB touched but not much more
    (the image, its stack and tables); hap counts one mem_back exit per
    page the guest touched first, the shadow modes none (they back inside
    the fill they do anyway)."""
    with Scratch() as s:
        native = umbra_run("--native", "--kernel", DEVTEST, "--mem", MEM, "--append", TOUCH, timeout=120)
        expect(native.rc == 0, native, "native run failed")
        want = results(native)
        expect(len(want) == 1 and "memtouch mib=32" in want[0], native, "no memtouch RESULT")
        eager, row = memtouch(s, "eager")
        expect(results(eager) == want, eager, "eager differs from native")
        expect(mm(row, "mem_backed_peak") == 0, eager, "RAM in one block counted as paged")
        figures = []
        for mode in MODES:
            run, row = memtouch(s, "lazy-" + mode, "--mode", mode, "--mem-backing", "lazy")
            expect(results(run) == want, run, "%s lazy differs from native" % mode)
            peak = mm(row, "mem_backed_peak")
            expect(32 * 256 <= peak <= 32 * 256 + 2048, run, "%s: %d pages backed at the peak" % (mode, peak))
            expect(mm(row, "mem_backs") == peak, run, "%s: frames allocated != peak without reclaim" % mode)
            backs = int(row["full_mem_back"])
            if mode == "hap":
                expect(backs >= 32 * 256, run, "hap: %d mem_back exits" % backs)
            else:
                expect(backs == 0, run, "%s: mem_back exits in a shadow mode" % mode)
            figures.append("%s %d" % (mode, peak))
    return "pages backed at the peak of %d: %s" % (PAGES, ", ".join(figures))


def reclaim_takes_back_zero_pages():
    """--reclaim 10 while the guest spins (no exits) after zeroing its 32
    MiB: at least 90% of them go back, the memory reads zero afterwards and
    takes the pattern again (checked by the guest).  Eager backing plus
    reclaim returns at least 90% of the RAM the guest never touched."""
    with Scratch() as s:
        figures = []
        for mode in MODES:
            run, row = memtouch(s, "reclaim-" + mode, "--mode", mode, "--mem-backing", "lazy", "--reclaim", "10")
            results(run)
            expect(mm(row, "mem_reclaimed") >= 0.9 * 32 * 256, run,
                   "%s: only %d pages reclaimed" % (mode, mm(row, "mem_reclaimed")))
            expect(mm(row, "mem_reclaim_runs") > 0 and int(row["full_timer"]) > 0, run, "reclaim never ran")
            figures.append("%s %d" % (mode, mm(row, "mem_reclaimed")))
        # What the guest touches: the peak of a lazy run without reclaim.
        _, lazy = memtouch(s, "touched", "--mem-backing", "lazy", append="touch_mib=8 touch_wait_ms=0")
        touched = mm(lazy, "mem_backed_peak")
        run, row = memtouch(s, "eager-reclaim", "--mode", "tsp", "--reclaim", "10",
                            append="touch_mib=8 touch_wait_ms=100")
        results(run)
        expect(mm(row, "mem_backed_peak") == PAGES, run, "eager backing did not back all RAM")
        untouched = PAGES - touched
        returned = PAGES - mm(row, "mem_backed_end")
        expect(returned >= 0.9 * untouched, run, "eager: %d of %d untouched pages returned" % (returned, untouched))
    return "reclaimed %s; eager: %d of %d never-touched pages returned" % (", ".join(figures), returned, untouched)


def overcommit_all_finish():
    """Four 128 MiB VMs in 64 MiB of VM memory: refused with eager backing
    (Umbra names the VM it cannot back); with lazy backing and reclaim all
    four finish with the native sum (each touches 16 MiB)."""
    args = []
    for i in range(4):
        args += (["--vm"] if i else []) + ["--name", "v%d" % i, "--kernel", DEVTEST, "--mem", MEM,
                                             "--append", "touch_mib=16 touch_wait_ms=50"]
    eager = umbra_run("--vm-ram", "64M", *args, timeout=120)
    expect(eager.rc != 0 and "not enough host memory for its RAM" in eager.out, eager, "eager overcommit ran")
    lazy_args = []
    for i in range(4):
        lazy_args += (["--vm"] if i else []) + ["--name", "v%d" % i, "--kernel", DEVTEST, "--mem", MEM,
                                                  "--append", "touch_mib=16 touch_wait_ms=50",
                                                  "--mem-backing", "lazy", "--reclaim", "10"]
    native = umbra_run("--native", "--kernel", DEVTEST, "--mem", MEM, "--append", "touch_mib=16 touch_wait_ms=50",
                       timeout=120)
    want = results(native)
    run = umbra_run("--vm-ram", "64M", *lazy_args, timeout=240)
    expect(run.rc == 0, run, "lazy overcommit failed")
    for i in range(4):
        expect(results(run, "[v%d] " % i) == want, run, "v%d differs from native" % i)
    return "4 x 128 MiB in 64 MiB: eager refused, lazy + reclaim all finished = native"


def out_of_memory_ends_that_vm_only():
    """A VM touching 200 MiB where 64 MiB of VM memory exist ends with
    status 3 and a line naming it; its neighbour's memtouch completes."""
    with Scratch() as s:
        stats = s.path("oom.csv")
        run = umbra_run("--icount", "--vm-ram", "64M", "--name", "hog", "--kernel", DEVTEST, "--mem", "256M",
                        "--mem-backing", "lazy", "--append", "touch_mib=200",
                        "--vm", "--name", "calm", "--kernel", DEVTEST, "--mem", MEM, "--mem-backing", "lazy",
                        "--append", "touch_mib=1 touch_wait_ms=300", "--stats", stats, timeout=240)
        expect(run.rc == 1, run, "expected a guest failure exit")
        expect(any("vm hog: out of host memory" in l for l in run.lines("umbra: ")), run, "hog's end not named")
        rows = {r["vm"]: r for r in csv_rows(stats)}
        expect(rows["hog"]["status"] == "3" and "out of host memory" in rows["hog"]["end_reason"], run,
               "hog: status %s (%s)" % (rows["hog"]["status"], rows["hog"]["end_reason"]))
        expect(rows["calm"]["status"] == "0", run, "calm did not end cleanly")
        expect(len(results(run, "[calm] ")) == 1, run, "calm has no memtouch RESULT")
    return "hog ended with status 3 at %s pages; calm finished" % rows["hog"]["mm_mem_backed_peak"]


def pinning_policies_keep_results():
    """edu + 16 MiB NVMe under --dma-pinning static, viommu (shadow) and
    coiommu, lazily backed and reclaimed every 10 ms (reclaim must never
    take a pinned page): RESULT lines equal; static pins all RAM,
    viommu and coiommu at most 5%; coiommu takes at most 0.05 full exits
    per DMA map; no IOMMU fault."""
    with Scratch() as s:
        base = ["--kernel", DEVTEST, "--mem", MEM, "--mem-backing", "lazy", "--reclaim", "10", "--device", "edu",
                "--device", "nvme,drive=" + s.disk(), "--append", "blk_mib=16"]
        want, figures = None, []
        for pin, extra in (("static", []), ("viommu", ["--viommu", "shadow"]), ("coiommu", [])):
            stats = s.path(pin + ".csv")
            run = umbra_run(*base, "--dma-pinning", pin, *extra, "--stats", stats, timeout=240)
            expect(run.rc == 0, run, "%s failed" % pin)
            got = results(run)
            want = want or got
            expect(got == want and len(got) == 4, run, "%s differs: %s vs %s" % (pin, got, want))
            row = row_of(stats)
            peak = mm(row, "dma_pinned_peak")
            expect(mm(row, "iommu_faults") == 0, run, "%s: IOMMU faults" % pin)
            expect(mm(row, "mem_reclaim_runs") > 0, run, "%s: reclaim never ran" % pin)
            if pin == "static":
                expect(peak == PAGES, run, "static pinned %d of %d" % (peak, PAGES))
            else:
                expect(0 < peak <= 0.05 * PAGES, run, "%s pinned %d of %d" % (pin, peak, PAGES))
            maps = [int(l.split("maps=")[1].split()[0]) for l in run.lines("devtest: dma maps=")][0]
            if pin == "coiommu":
                exits = int(row["full_coiommu_mmio"])
                expect(maps > 1000 and exits <= 0.05 * maps, run, "coiommu: %d exits for %d maps" % (exits, maps))
                expect(mm(row, "coiommu_notifies") > 0 and mm(row, "coiommu_scans") > 0, run, "coiommu idle")
            figures.append("%s %d pinned" % (pin, peak))
    return ", ".join(figures)


def unannounced_dma_blocked():
    """Under coiommu the edu's DMA to a free page of the guest's own RAM
    that it never announced is blocked by the IOMMU and counted; the device
    still works afterwards."""
    with Scratch() as s:
        stats = s.path("attack.csv")
        run = umbra_run("--kernel", DEVTEST, "--mem", MEM, "--mem-backing", "lazy", "--device", "edu",
                        "--dma-pinning", "coiommu", "--append", "blk_mib=0 attack=0x84000000", "--stats", stats,
                        timeout=120)
        expect(run.rc == 0, run, "attack run failed")
        expect(run.lines("devtest: PASS edu attack 0x84000000 to a page never announced"), run, "not blocked")
        expect(run.lines("devtest: RESULT edu after_attack ok"), run, "edu broken afterwards")
        faults = mm(row_of(stats), "iommu_faults")
        expect(faults > 0, run, "no IOMMU fault counted")
    return "blocked, %d IOMMU fault records" % faults


def linux_lazily_backed_and_reclaimed():
    """Linux, 2 vCPUs, lazily backed and reclaimed every 20 ms, under hap
    and ssp: the fork workload's checksum equals native, the VM ends with a
    fraction of its 256 MiB backed, and reclaim took pages back while both
    vCPUs ran (each reclaim holds the other vCPU)."""
    if not all(os.path.exists(f) for f in LINUX):
        raise AssertionError("build/linux/Image or initramfs.cpio missing: run `make linux`")
    args = ["--kernel", LINUX[0], "--initrd", LINUX[1], "--mem", "256M", "--cpus", "2",
            "--append", "console=hvc0 earlycon=sbi workload=fork"]
    native = umbra_run("--native", *args, timeout=300)
    want = native.lines("RESULT workload=fork")
    expect(native.rc == 0 and want, native, "native Linux failed")
    figures = []
    with Scratch() as s:
        for mode in ("hap", "ssp"):
            stats = s.path(mode + ".csv")
            run = umbra_run(*args, "--mode", mode, "--mem-backing", "lazy", "--reclaim", "20", "--stats", stats,
                            timeout=300)
            expect(run.rc == 0 and run.lines("RESULT workload=fork") == want, run, "%s differs from native" % mode)
            row = row_of(stats)
            expect(mm(row, "mem_reclaimed") > 0, run, "%s: nothing reclaimed" % mode)
            expect(mm(row, "mem_backed_peak") < 256 * 256 // 2, run, "%s: half of RAM backed" % mode)
            figures.append("%s peak %d pages, %d reclaimed" % (mode, mm(row, "mem_backed_peak"),
                                                              mm(row, "mem_reclaimed")))
    return "; ".join(figures)


def bad_memory_options_refused():
    """Bad values and combinations exit 2 naming the problem."""
    cases = ((["--mem-backing", "lazzy"], "unknown --mem-backing 'lazzy'"),
             (["--reclaim", "x"], "--reclaim x: want a period"),
             (["--dma-pinning", "coiommu"], "needs a --device"),
             (["--device", "edu", "--dma-pinning", "viommu"], "--dma-pinning viommu needs --viommu shadow"),
             (["--device", "edu", "--viommu", "sidecore", "--reclaim", "5"], "--reclaim and --viommu sidecore"))
    for args, text in cases:
        run = umbra_run("--kernel", DEVTEST, *args, timeout=30)
        expect(run.rc == 2 and text in run.err, run, "expected exit 2 and %r" % text)
    return "%d refused with exit 2" % len(cases)


TESTS = [
    ("lazy_backing_in_every_mode", lazy_backing_in_every_mode),
    ("reclaim_takes_back_zero_pages", reclaim_takes_back_zero_pages),
    ("overcommit_all_finish", overcommit_all_finish),
    ("out_of_memory_ends_that_vm_only", out_of_memory_ends_that_vm_only),
    ("pinning_policies_keep_results", pinning_policies_keep_results),
    ("unannounced_dma_blocked", unannounced_dma_blocked),
    ("linux_lazily_backed_and_reclaimed", linux_lazily_backed_and_reclaimed),
    ("bad_memory_options_refused", bad_memory_options_refused),
]
