"""Shadow paging (tsp and ssp) against native QEMU: every selftest and every
tinyos workload must see exactly what it sees on bare hardware, and each
mode's exits must be the ones its design promises."""
import os
import re
import tempfile

from common import comparable, csv_rows, expect, expect_same_guest_output, guest_image, umbra_run

SELFTESTS = guest_image("selftests")
TINYOS = guest_image("tinyos")

# (label, extra runner options) for every shadow configuration under test.
SHADOW_MODES = [
    ("tsp", ["--mode", "tsp"]),
    ("ssp", ["--mode", "ssp"]),
    ("ssp-sptbuf0", ["--mode", "ssp", "--sptbuf", "0"]),
    ("ssp-sptbuf1", ["--mode", "ssp", "--sptbuf", "1"]),
]

WORKLOADS = {
    "ctxsw": "workload=ctxsw iters=200 procs=8",
    "fork": "workload=fork iters=30",
    "mmap": "workload=mmap iters=40",
    "pagefault": "workload=pagefault iters=2 size=512",
    "compute": "workload=compute iters=20",
    "mix": "workload=mix iters=3",
}

_native_cache = {}


def native(kernel, append, mem="128M", cpus="1"):
    key = (kernel, append, mem, cpus)
    if key not in _native_cache:
        run = umbra_run("--native", "--kernel", kernel, "--mem", mem, "--cpus", cpus, "--append", append,
                        timeout=120)
        expect(run.rc == 0, run, "native run failed")
        _native_cache[key] = run
    return _native_cache[key]


def shadow_run(kernel, append, extra, stats=None, mem="128M"):
    args = ["--kernel", kernel, "--mem", mem, "--append", append] + extra
    if stats:
        args += ["--stats", stats]
    return umbra_run(*args, timeout=180)


def results_without_counts(run):
    """RESULT lines minus the fields that legitimately differ (cycles, instret)."""
    return [re.sub(r" (cycles|instret)=\d+", "", l) for l in run.lines("RESULT ")]


def selftests_all_match_native():
    ref = native(SELFTESTS, "test=all")
    summary = []
    for label, extra in SHADOW_MODES:
        with tempfile.TemporaryDirectory() as d:
            stats = os.path.join(d, "s.csv")
            run = shadow_run(SELFTESTS, "test=all", extra, stats)
            expect(run.rc == 0, run, "selftests under %s must pass" % label)
            expect_same_guest_output(ref, run, "selftests:")
            row = csv_rows(stats)[0]
            summary.append("%s: %s exits" % (label, row["exits_full"]))
    return "; ".join(summary)


def make_workload_test(name, append):
    def test():
        ref = results_without_counts(native(TINYOS, append))
        expect(len(ref) == 1, native(TINYOS, append), "native %s printed no RESULT" % name)
        for label, extra in SHADOW_MODES:
            with tempfile.TemporaryDirectory() as d:
                stats = os.path.join(d, "s.csv")
                run = shadow_run(TINYOS, append, extra, stats)
                expect(run.rc == 0, run, "%s under %s must pass" % (name, label))
                got = results_without_counts(run)
                expect(got == ref, run, "%s under %s: %s, native %s" % (name, label, got, ref))
                row = csv_rows(stats)[0]
                mode = extra[1]
                # The design's promises, as exit counts.
                if mode == "ssp":
                    expect(row["full_wp_fault"] == "0", run, "ssp must never write-protect")
                if mode == "tsp":
                    syncs = sum(int(row["mm_sync_" + k]) for k in ("va", "asid", "all"))
                    expect(syncs == 0, run, "tsp must never sync on a fence")
        return ref[0].split("checksum=")[1]
    return test


def ctxsw_buffer_absorbs_switches():
    """With a buffer at least as large as the number of processes, ctxsw's
    satp writes after warm-up all take the fast path."""
    procs = 8
    with tempfile.TemporaryDirectory() as d:
        small, big = os.path.join(d, "small.csv"), os.path.join(d, "big.csv")
        append = "workload=ctxsw iters=400 procs=%d" % procs
        a = shadow_run(TINYOS, "workload=ctxsw iters=200 procs=%d" % procs, ["--mode", "ssp", "--sptbuf", "16"], small)
        b = shadow_run(TINYOS, append, ["--mode", "ssp", "--sptbuf", "16"], big)
        expect(a.rc == 0 and b.rc == 0, b, "ctxsw under ssp must pass")
        r_small, r_big = csv_rows(small)[0], csv_rows(big)[0]
    full = lambda r: int(r["full_satp_write_hit"]) + int(r["full_satp_write_miss"])
    fast = lambda r: int(r["fast_satp_write_hit"])
    # Doubling the rounds doubles the switches but adds no full satp exit.
    expect(fast(r_big) > fast(r_small) > 0, b, "the fast path took no satp writes")
    expect(full(r_big) == full(r_small), b,
           "full satp exits grew with the rounds: %d -> %d" % (full(r_small), full(r_big)))
    return "full satp exits %d at both sizes; fast %d -> %d" % (full(r_big), fast(r_small), fast(r_big))


def broken_fence_caught_under_ssp():
    """ssp trusts the guest's fences; the selftest build that leaves one
    out must see the stale translation and say so."""
    run = shadow_run(guest_image("selftests-broken-fence"), "test=sfence", ["--mode", "ssp"])
    fails = [l for l in run.lines("selftests: FAIL")]
    expect(run.rc == 1 and fails, run, "ssp must expose the missing fence")
    return fails[0]


def two_vms_in_different_modes():
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = umbra_run("--stats", stats,
                        "--kernel", TINYOS, "--mem", "128M", "--mode", "tsp", "--name", "t",
                        "--append", WORKLOADS["fork"],
                        "--vm", "--kernel", TINYOS, "--mem", "128M", "--mode", "ssp", "--name", "s",
                        "--append", WORKLOADS["fork"], timeout=180)
        expect(run.rc == 0, run, "tsp and ssp VMs side by side must both pass")
        ref = results_without_counts(native(TINYOS, WORKLOADS["fork"]))
        for vm in ("t", "s"):
            got = [re.sub(r" (cycles|instret)=\d+", "", l) for l in run.lines("[%s] RESULT " % vm)]
            got = [l[len("[%s] " % vm):] for l in got]
            expect(got == ref, run, "VM %s: %s, native %s" % (vm, got, ref))
        modes = {r["vm"]: r["mode"] for r in csv_rows(stats)}
        expect(modes == {"t": "tsp", "s": "ssp"}, run, "modes in the report: %s" % modes)


def hostile_guest_leaves_neighbour_untouched():
    """One VM writes garbage into its page tables and floods address spaces
    (selftests garbage + flood, under ssp with a small shadow pool); its
    neighbour (tsp) fills its RAM with a canary pattern meanwhile.  Both
    must finish, the hostile one with every check as on bare hardware, the
    canary intact."""
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = umbra_run("--stats", stats,
                        "--kernel", SELFTESTS, "--mem", "128M", "--mode", "ssp", "--shadow-mem", "256K",
                        "--name", "hostile", "--append", "test=garbage",
                        "--vm", "--kernel", SELFTESTS, "--mem", "64M", "--mode", "tsp",
                        "--name", "victim", "--append", "test=canary seed=9", timeout=180)
        expect(run.rc == 0, run, "both VMs must finish cleanly")
        canary = [l for l in run.lines("[victim] selftests: canary")]
        expect(canary and "intact=yes" in canary[-1], run, "the victim's canary was disturbed")
        hostile = [l for l in run.lines("[hostile] selftests: garbage ")]
        expect(hostile and hostile[-1].endswith(" 0 failed"), run, "the hostile VM's checks differ")
        flood = umbra_run("--kernel", SELFTESTS, "--mem", "128M", "--mode", "ssp", "--shadow-mem", "256K",
                          "--append", "test=flood", timeout=120)
        expect(flood.rc == 0, flood, "the address-space flood must pass with a tiny pool")
        return "%s; %s" % (canary[-1].split("] ")[1], flood.lines("selftests: flood ")[-1])


def tiny_shadow_pool_reclaims_and_survives():
    """A shadow pool far too small for the workload: reclaim, never a crash."""
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        append = WORKLOADS["fork"]
        run = shadow_run(TINYOS, append, ["--mode", "ssp", "--shadow-mem", "64K"], stats)
        expect(run.rc == 0, run, "fork with a 64 KiB shadow pool must still pass")
        expect(results_without_counts(run) == results_without_counts(native(TINYOS, append)), run,
               "checksum changed under pool pressure")
        row = csv_rows(stats)[0]
        pressure = int(row["mm_shadow_pool_exhausted"]) + int(row["mm_shadow_roots_reclaimed"])
        expect(pressure > 0, run, "the pool never ran short: the test tests nothing")
        return "pool exhausted %s times, roots reclaimed %s" % (
            row["mm_shadow_pool_exhausted"], row["mm_shadow_roots_reclaimed"])


def trace_mm_follows_a_fork():
    """--trace mm prints one line per memory-virtualization event, enough to
    follow a fork: the satp switches, the hidden faults, the COW fence."""
    run = shadow_run(TINYOS, "workload=fork iters=2", ["--mode", "ssp", "--trace", "mm"])
    expect(run.rc == 0, run, "a traced run must still pass")
    lines = run.lines("mm vm0: ")
    kinds = {k: sum(1 for l in lines if k in l) for k in
             ("satp <- ", "hidden fault: ", "A/D update: ", "sfence.vma 0x", "sfence.vma x0, asid")}
    expect(all(kinds.values()), run, "trace lacks some events: %s" % kinds)
    expect(run.lines("RESULT ") != [], run, "the workload's result is missing")
    return ", ".join("%s%d" % (k, v) for k, v in kinds.items())


# The causes the short trap path takes (core/exit.c), by mode.  A one-vCPU
# run without tracing takes every one of them there: nothing else (requests,
# per-exit work, another vCPU holding the lock) can send one to the general
# path, so the split is exact.
SHORT_CAUSES = ("hidden_fault", "guest_fault_injected", "ad_update", "sfence_va_asid")


def short_paths_take_the_frequent_traps():
    """The short path handles the frequent shadow traps (fills, A/D updates,
    reflected guest faults, one-page fences) and null SBI calls as fast
    exits, most faults along the shadow core's quick fault, and leaves
    tsp's page-table stores to the general path; with
    --trace mm the general path takes them all.  Fails if a path is skipped."""
    figures = []
    for mode in ("tsp", "ssp"):
        with tempfile.TemporaryDirectory() as d:
            stats = os.path.join(d, "s.csv")
            run = shadow_run(TINYOS, WORKLOADS["mmap"], ["--mode", mode], stats)
            expect(run.rc == 0, run, "mmap under %s must pass" % mode)
            row = csv_rows(stats)[0]
        for cause in SHORT_CAUSES:
            expect(int(row["fast_" + cause]) > 0 and row["full_" + cause] == "0", run,
                   "%s %s: full %s, fast %s" % (mode, cause, row["full_" + cause], row["fast_" + cause]))
        if mode == "tsp":
            expect(int(row["full_wp_fault"]) > 0, run, "tsp's page-table stores must stay full exits")
        # Nearly every mmap fault lands below shadow tables an earlier
        # fill built: the shadow core's quick fault decides it.
        faults = sum(int(row["fast_" + c]) for c in ("hidden_fault", "guest_fault_injected", "ad_update"))
        expect(int(row["mm_faults_quick"]) * 2 > faults, run,
               "%s: %s of %d faults quick" % (mode, row["mm_faults_quick"], faults))
        figures.append("%s fast %s, quick %s" % (mode, "/".join(row["fast_" + c] for c in SHORT_CAUSES),
                                                 row["mm_faults_quick"]))
    traced = shadow_run(TINYOS, "workload=mmap iters=2", ["--mode", "ssp", "--trace", "mm"])
    expect(traced.rc == 0, traced, "a traced run must pass")
    expect(any("hidden fault: " in l for l in traced.lines("mm vm0: ")), traced,
           "under --trace the general path must print every fill")
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "s.csv")
        run = shadow_run(TINYOS, "workload=sbi iters=1000", ["--mode", "hap"], stats)
        expect(run.rc == 0 and run.lines("RESULT workload=sbi iters=1000 checksum=00000000000003e8"), run,
               "1000 null SBI calls must all succeed")
        row = csv_rows(stats)[0]
    expect(int(row["fast_sbi_base"]) >= 1000 and row["full_sbi_base"] == "0", run,
           "sbi_base: full %s, fast %s" % (row["full_sbi_base"], row["fast_sbi_base"]))
    return "; ".join(figures) + " (%s); sbi_base fast %s" % ("/".join(SHORT_CAUSES), row["fast_sbi_base"])


def satp_zero_through_a_register_stays_isolated():
    """Regression: 'csrw satp, a0' with a0 = 0 once hit an empty SPT-buffer
    entry on the ssp fast path and ran the guest on host-physical addresses.
    The guest must read its own memory ('S') in every mode, as natively."""
    image = os.path.join(os.path.dirname(SELFTESTS), "..", "tests", "satp_zero.bin")
    results = {}
    for label, extra in [("native", ["--native"]), ("hap", [])] + SHADOW_MODES:
        run = umbra_run("--kernel", image, "--mem", "64M", *extra, timeout=30)
        letters = [l for l in run.lines("") if l in ("S", "H", "?")]
        results[label] = letters[0] if letters else "(nothing)"
        expect(results[label] == "S", run, "%s: the guest saw %s" % (label, results[label]))
    return " ".join("%s=%s" % kv for kv in results.items())


def smp_suite_matches_native_with_shared_shadows():
    """Several vCPUs on one set of shadows: HSM start/stop, IPIs, and remote
    fences whose effect a secondary must observe, in every shadow
    configuration with 2 and 4 vCPUs.  With more than one vCPU running,
    some shadow changes must reach the other harts (remote_flushes)."""
    summary = []
    for cpus in ("2", "4"):
        ref = native(SELFTESTS, "test=smp", mem="64M", cpus=cpus)
        for label, extra in SHADOW_MODES:
            with tempfile.TemporaryDirectory() as d:
                stats = os.path.join(d, "s.csv")
                run = shadow_run(SELFTESTS, "test=smp", extra + ["--cpus", cpus], stats, mem="64M")
                expect(run.rc == 0, run, "%s with %s vCPUs failed" % (label, cpus))
                expect_same_guest_output(ref, run, "selftests:")
                row = csv_rows(stats)[0]
                flushes = int(row["mm_remote_flushes"])
                expect(flushes > 0, run, "%s: no shadow change reached the other harts" % label)
                summary.append("%s/%s remote_flushes=%d" % (label, cpus, flushes))
    return ", ".join(summary)


def pool_too_small_for_its_vcpus_is_refused():
    """Each vCPU pins the shadow root it runs on, so a pool with too few root
    slots for the VM's vCPUs could leave none to reuse: Umbra refuses it at
    VM creation (exit 4) rather than failing later."""
    run = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--mode", "tsp", "--cpus", "8", "--shadow-mem", "64K",
                    "--append", "test=sbi")
    expect(run.rc == 4, run, "a 64 KiB pool for 8 vCPUs must be refused with exit 4")
    expect(any("too few for 8 vCPUs" in l for l in run.lines("umbra: error")), run, "no clear message")
    ok = umbra_run("--kernel", SELFTESTS, "--mem", "64M", "--mode", "tsp", "--cpus", "2", "--shadow-mem", "64K",
                   "--append", "test=sbi")
    expect(ok.rc == 0, ok, "the same pool is enough for 2 vCPUs")
    return run.lines("umbra: error")[0]


TESTS = [("selftests_all_match_native", selftests_all_match_native)]
TESTS += [("tinyos_%s_matches_native" % name, make_workload_test(name, append))
          for name, append in WORKLOADS.items()]
TESTS += [
    ("ctxsw_buffer_absorbs_switches", ctxsw_buffer_absorbs_switches),
    ("broken_fence_caught_under_ssp", broken_fence_caught_under_ssp),
    ("two_vms_in_different_modes", two_vms_in_different_modes),
    ("tiny_shadow_pool_reclaims_and_survives", tiny_shadow_pool_reclaims_and_survives),
    ("hostile_guest_leaves_neighbour_untouched", hostile_guest_leaves_neighbour_untouched),
    ("trace_mm_follows_a_fork", trace_mm_follows_a_fork),
    ("short_paths_take_the_frequent_traps", short_paths_take_the_frequent_traps),
    ("satp_zero_through_a_register_stays_isolated", satp_zero_through_a_register_stays_isolated),
    ("smp_suite_matches_native_with_shared_shadows", smp_suite_matches_native_with_shared_shadows),
    ("pool_too_small_for_its_vcpus_is_refused", pool_too_small_for_its_vcpus_is_refused),
]
