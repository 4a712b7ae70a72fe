"""QEMU integration tests of the selftests guest as a whole: every suite of
`test=all` natively and under hap (same lines, nothing failed), and the
deliberately broken-fence build, which must be caught.

Natively the exit status says nothing (OpenSBI powers QEMU off with status 0
whatever SRST reason the guest gives), so the native verdict is read from
the guest's own summary lines."""
import re

from common import expect, expect_same_guest_output, guest_image, umbra_run

SELFTESTS = guest_image("selftests")
BROKEN_FENCE = guest_image("selftests-broken-fence")
TAG = "selftests:"
# The one fence selftests-broken-fence drops (guests/selftests/test_sfence.c)
# and the check that reads through the translation it should have discarded.
BROKEN_CHECK = "sfence leaf changed, sfence.vma va, asid:"
ALL_PASSED = re.compile(r" all \d+ suites, 0 failed; \d+ checks passed, 0 failed$")


def run_selftests(image, test, native, mem="128M"):
    args = ["--kernel", image, "--mem", mem, "--append", "test=" + test]
    return umbra_run(*(["--native"] + args if native else args))


def fail_lines(run):
    return [l[len(TAG + " FAIL "):] for l in run.lines(TAG + " FAIL ")]


def all_suites_match_native():
    native = run_selftests(SELFTESTS, "all", native=True)
    virt = run_selftests(SELFTESTS, "all", native=False)
    expect(native.rc == 0, native, "native selftests must shut down cleanly")
    expect(virt.rc == 0, virt, "selftests under hap must pass")
    expect_same_guest_output(native, virt, TAG)
    for run in (native, virt):
        summary = run.lines(TAG + " all ")
        expect(len(summary) == 1 and ALL_PASSED.search(summary[0]), run,
               "the all-suites summary must show nothing failed")
        expect(not fail_lines(run), run, "no check may fail")
    # Each suite of `test=all` printed its own summary, in order.
    suites = [l.split()[1] for l in virt.lines(TAG) if l.endswith(" failed") and " all " not in l]
    expect(suites == ["sbi", "fault", "paging", "pagefault", "ad", "sfence", "satp", "garbage", "flood"], virt,
           "suites run by test=all: %s" % suites)
    return virt.lines(TAG + " all ")[0]


def broken_fence_is_caught():
    """The build that drops one required `sfence.vma va, asid` must fail the
    check that reads through the changed leaf, natively (QEMU's TLB keeps the
    old translation) and under hap (no exit lies between the change and the
    read, so the guest's TLB entry survives), and nothing outside the sfence
    suite may notice.  Under hap the failure reaches the exit status."""
    native = run_selftests(BROKEN_FENCE, "sfence", native=True)
    virt = run_selftests(BROKEN_FENCE, "sfence", native=False)
    results = []
    for run, where in ((native, "native"), (virt, "hap")):
        failed = fail_lines(run)
        expect(any(l.startswith(BROKEN_CHECK) for l in failed), run,
               "%s: the dropped fence went unnoticed" % where)
        expect(all(l.startswith("sfence ") for l in failed), run,
               "%s: failures outside the sfence suite" % where)
        summary = run.lines(TAG + " sfence ")[-1]
        expect(not summary.endswith(" 0 failed"), run, "%s: summary must count the failure" % where)
        results.append("%s: %d FAIL" % (where, len(failed)))
    expect(virt.rc == 1, virt, "under hap the failed selftest must end with status 1")
    return ", ".join(results)


TESTS = [
    ("all_suites_match_native", all_suites_match_native),
    ("broken_fence_is_caught", broken_fence_is_caught),
]
