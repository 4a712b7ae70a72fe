"""test_ptdump.py — tools/umbra-ptdump, which turns a page-table dump in a
console log into Graphviz.  No QEMU: the test writes synthetic dumps whose
layout it knows entry by entry (with console lines interleaved and CRLF line
ends, as the UART gives them), runs the tool and checks its --summary counts
exactly, the DOT it writes (nodes, edges, the fill color of the rows that
matter), a hap dump (guest tree only), --list, --index, --satp, the errors
(exit 2, one line, no traceback), the message when `dot` is missing and,
when graphviz is installed, SVG."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "umbra-ptdump")

V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128
GREEN, LIGHT_GREEN, GREY, ORANGE, RED, WHITE = "#a6e3a1", "#dcf5d6", "#e4e4e4", "#ffb347", "#ff6b6b", "#ffffff"


def pte(index, pa, flags):
    return "ptdump pte index=%d value=0x%x" % (index, ((pa >> 12) << 10) | flags | V)


def ptr(index, pa):
    return pte(index, pa, 0)


# A tsp-like dump.  HPA = GPA + 0x4000000.  Guest satp 0x8000000000080400,
# tables: root 0x80400000 -> L1 0x80401000 -> L0 0x80402000 (root entry 511
# points at a table that is not dumped).  Its leaves and their shadows:
#   L1[1] 2 MiB GVA 0x80200000 rwx    shadow: three 4 KiB leaves, rwx   -> shadowed 1 + 3
#   L1[2] 2 MiB GVA 0x80400000 rw     (covers the guest's own tables)
#         shadow 4 KiB at 0x80400000 r (a table page)  -> write-protected 1 + 1
#         shadow 4 KiB at 0x80405000 r (not a table)   -> clean 1 (shadow)
#   L1[3] 2 MiB rw, no shadow                          -> lazy 1
#   L0[0..1] rx, shadowed                              -> shadowed 2 + 2
#   L0[2..3] rx, no shadow                             -> lazy 2
#   L0[8] rw -> GPA 0x80401000 (the L1 table), shadow r -> write-protected 1 + 1
#   L0[9] rw, shadow rw                                -> shadowed 1 + 1
#   L0[10] rw, shadow r                                -> clean 1 + 1
# A second address space (satp ...80500, no shadow) shares the L1 table.
TSP_SATP = 0x8000000000080400
TSP_SATP2 = 0x8000100000080500
OFF = 0x4000000
TSP = [
    "umbra: vm tiny started",
    "ptdump begin vm=tiny mode=tsp when=monitor",
    "ptdump region gpa=0x80000000 size=0x4000000 hpa=0x84000000",
    "[vm] hello from tinyos",
    "ptdump guest satp=0x%x root=0x80400000 current=1" % TSP_SATP,
    "ptdump guest satp=0x%x root=0x80500000 current=0 future_key=7" % TSP_SATP2,
    "ptdump table side=guest satp=0x%x level=2 addr=0x80400000" % TSP_SATP,
    ptr(2, 0x80401000),
    ptr(511, 0x80403000),
    "ptdump table side=guest satp=0x%x level=1 addr=0x80401000" % TSP_SATP,
    ptr(0, 0x80402000),
    pte(1, 0x80200000, R | W | X | A | D),
    pte(2, 0x80400000, R | W | A | D),
    pte(3, 0x80600000, R | W | A | D),
    "ptdump table side=guest satp=0x%x level=0 addr=0x80402000" % TSP_SATP,
    pte(0, 0x80000000, R | X | A),
    pte(1, 0x80001000, R | X | A),
    pte(2, 0x80002000, R | X | A),
    pte(3, 0x80003000, R | X | A),
    pte(8, 0x80401000, R | W | A | D),
    pte(9, 0x80009000, R | W | A | D) + " extra=ignored",
    pte(10, 0x8000a000, R | W | A),
    "ptdump future_record what=ever",
    "ptdump table side=guest satp=0x%x level=2 addr=0x80500000" % TSP_SATP2,
    ptr(2, 0x80401000),
    "ptdump table side=guest satp=0x%x level=1 addr=0x80401000" % TSP_SATP2,
    ptr(0, 0x80402000),
    pte(1, 0x80200000, R | W | X | A | D),
    pte(2, 0x80400000, R | W | A | D),
    pte(3, 0x80600000, R | W | A | D),
    "ptdump shadow root=0 guest_satp=0x%x hw_asid=1 vsatp=0x8000100000088000 table=0x88000000 current=1" % TSP_SATP,
    "ptdump table side=shadow root=0 level=2 addr=0x88000000",
    ptr(2, 0x88001000),
    "ptdump table side=shadow root=0 level=1 addr=0x88001000",
    ptr(0, 0x88002000),
    ptr(1, 0x88003000),
    ptr(2, 0x88004000),
    "ptdump table side=shadow root=0 level=0 addr=0x88002000",
    pte(0, 0x80000000 + OFF, R | X | A),
    pte(1, 0x80001000 + OFF, R | X | A),
    pte(8, 0x80401000 + OFF, R | A),
    pte(9, 0x80009000 + OFF, R | W | A | D),
    pte(10, 0x8000a000 + OFF, R | A),
    "ptdump table side=shadow root=0 level=0 addr=0x88003000",
    pte(0, 0x80200000 + OFF, R | W | X | A | D),
    pte(1, 0x80201000 + OFF, R | W | X | A | D),
    pte(2, 0x80202000 + OFF, R | W | X | A | D),
    "ptdump table side=shadow root=0 level=0 addr=0x88004000",
    pte(0, 0x80400000 + OFF, R | A),
    pte(5, 0x80405000 + OFF, R | A),
    "ptdump end",
    "umbra: vm tiny: monitor> continue",
]
TSP_SUMMARY = ("tables guest=3 shadow=5 edges=6 shadowed=10 lazy=3 write-protected=4 stale=0 clean=3 sptbuf=0")
TSP2_SUMMARY = ("tables guest=2 shadow=0 edges=1 shadowed=0 lazy=3 write-protected=0 stale=0 clean=0 sptbuf=0")

# A hap dump (no shadow records), then an ssp-like one, in one log.
HAP = [
    "ptdump begin vm=tiny mode=hap when=end",
    "ptdump region gpa=0x80000000 size=0x4000000 hpa=0x80600000",
    "ptdump guest satp=0x8000000000080010 root=0x80010000 current=1",
    "ptdump table side=guest satp=0x8000000000080010 level=2 addr=0x80010000",
    pte(0, 0x0, R | W | A | D),                  # a 1 GiB leaf
    ptr(2, 0x80011000),
    "ptdump table side=guest satp=0x8000000000080010 level=1 addr=0x80011000",
    pte(0, 0x80000000, R | W | X | A | D),
    pte(1, 0x80200000, R | W | X | A | D),
    "ptdump end",
]
HAP_SUMMARY = "tables guest=2 shadow=0 edges=1 shadowed=0 lazy=0 write-protected=0 stale=0 clean=0 sptbuf=0"

# ssp: two regions (GPA 0x80000000 -> HPA 0x90000000, GPA 0x80200000 ->
# HPA 0xa0000000).  Guest satp A: root 0x80010000 -> L1 0x80011000 -> L0
# 0x80012000, whose entries against the shadow's L0:
#   [0] rw, shadow rw at the right HPA            -> shadowed 1 + 1
#   [1] r, GPA in the second region, shadow r     -> shadowed 1 + 1
#   [2] remapped by the guest, shadow has old HPA -> stale 1 + 1
#   [3] r, shadow grants w                        -> stale 1 + 1
#   [4] gone from the guest, still in the shadow  -> stale 0 + 1
#   [5] rw, no shadow                             -> lazy 1
# The vCPU's SPT base buffer holds A (root 1, the hit) and B (root 2).
SSP_A = 0x8000100000080010
SSP_B = 0x8000200000080020
SSP = [
    "ptdump begin vm=tiny mode=ssp when=sfence_va_asid#100-before",
    "ptdump region gpa=0x80000000 size=0x200000 hpa=0x90000000",
    "ptdump region gpa=0x80200000 size=0x200000 hpa=0xa0000000",
    "ptdump guest satp=0x%x root=0x80010000 current=1" % SSP_A,
    "ptdump guest satp=0x%x root=0x80020000 current=0" % SSP_B,
    "ptdump table side=guest satp=0x%x level=2 addr=0x80010000" % SSP_A,
    ptr(2, 0x80011000),
    "ptdump table side=guest satp=0x%x level=1 addr=0x80011000" % SSP_A,
    ptr(0, 0x80012000),
    "[vm] interleaved console line",
    "ptdump table side=guest satp=0x%x level=0 addr=0x80012000" % SSP_A,
    pte(0, 0x80100000, R | W | A | D),
    pte(1, 0x80300000, R | A),
    pte(2, 0x80101000, R | W | A | D),
    pte(3, 0x80103000, R | A),
    pte(5, 0x80105000, R | W | A | D),
    "ptdump table side=guest satp=0x%x level=2 addr=0x80020000" % SSP_B,
    ptr(2, 0x80011000),
    "ptdump shadow root=1 guest_satp=0x%x hw_asid=2 vsatp=0x8000200000098000 table=0x98000000 current=1" % SSP_A,
    "ptdump table side=shadow root=1 level=2 addr=0x98000000",
    ptr(2, 0x98001000),
    "ptdump table side=shadow root=1 level=1 addr=0x98001000",
    ptr(0, 0x98002000),
    "ptdump table side=shadow root=1 level=0 addr=0x98002000",
    pte(0, 0x90100000, R | W | A | D),
    pte(1, 0xa0100000, R | A),
    pte(2, 0x90105000, R | W | A | D),
    pte(3, 0x90103000, R | W | A | D),
    pte(4, 0x90104000, R | W | A | D),
    "ptdump shadow root=2 guest_satp=0x%x hw_asid=3 vsatp=0x8000300000098010 table=0x98010000 current=0" % SSP_B,
    "ptdump table side=shadow root=2 level=2 addr=0x98010000",
    "ptdump sptbuf vcpu=0 size=16 hits=900 misses=4",
    "ptdump sptbuf_entry vcpu=0 key=0x%x root=1 hit=1" % SSP_A,
    "ptdump sptbuf_entry vcpu=0 key=0x%x root=2 hit=0" % SSP_B,
    "ptdump end",
]
SSP_SUMMARY = "tables guest=3 shadow=3 edges=4 shadowed=4 lazy=1 write-protected=0 stale=5 clean=0 sptbuf=2"


def write_log(d, name, lines):
    path = os.path.join(d, name)
    with open(path, "w", newline="") as f:
        f.write("".join(l + "\r\n" for l in lines))
    return path


def run(*args):
    return subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=20, stdin=subprocess.DEVNULL)


def ok(p, what):
    assert p.returncode == 0, "%s: exit %d\n%s" % (what, p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr
    return p.stdout


def nodes(dot):
    return re.findall(r'^\s*"([^"]+)" \[label=', dot, re.M)


def edges(dot):
    return re.findall(r'^\s*"[^"]+"(?::\w+)*\s*->', dot, re.M)


def rows(dot, text):
    """Fill colors of the rows whose text contains text."""
    return [c for c, t in re.findall(r'<TD PORT="[^"]*" ALIGN="LEFT" BGCOLOR="([^"]+)">([^<]*)</TD>', dot)
            if text in t]


def test_tsp_summary_and_dot():
    with tempfile.TemporaryDirectory() as d:
        log = write_log(d, "tsp.log", TSP)
        got = ok(run(log, "--summary"), "--summary").strip()
        assert got == TSP_SUMMARY, "\n got  %s\n want %s" % (got, TSP_SUMMARY)
        got = ok(run(log, "--summary", "--satp", "%x" % TSP_SATP2), "--satp").strip()
        assert got == TSP2_SUMMARY, "\n got  %s\n want %s" % (got, TSP2_SUMMARY)
        out = os.path.join(d, "tsp.dot")
        ok(run(log, "-o", out), "-o tsp.dot")
        with open(out, encoding="utf-8") as f:
            dot = f.read()
        assert dot == ok(run(log), "DOT on stdout"), "-o x.dot and stdout differ"
        capped = ok(run(log, "--max-rows", "2"), "--max-rows")
    n = nodes(dot)
    assert len(n) == 3 + 5 + 1 and "legend" in n, n          # tables, shadow tables, legend
    assert len(edges(dot)) == 6 + 1, edges(dot)               # table edges + "shadowed by"
    assert 'label="shadowed by"' in dot and "rankdir=LR" in dot, dot[:400]
    assert 'label="vm tiny, mode tsp, when monitor"' in dot, dot[:400]
    assert 'guest page tables (satp 0x%x)' % TSP_SATP in dot, dot[:600]
    assert 'shadow page tables (root 0, hw ASID 1)' in dot, dot[:600]
    # Guest rows: merged runs, the write-protected 4 KiB leaf, the 2 MiB leaves.
    assert rows(dot, "[0..1] GVA 0x80000000–0x80001fff → GPA 0x80000000–0x80001fff r-x--a- (2 pages)") == [GREEN], rows(dot, "[0..1]")
    assert rows(dot, "[2..3] GVA 0x80002000") == [GREY], rows(dot, "[2..3]")
    assert rows(dot, "[8] GVA 0x80008000–0x80008fff → GPA 0x80401000") == [ORANGE], rows(dot, "[8]")
    assert rows(dot, "[10] GVA 0x8000a000") == [LIGHT_GREEN] * 2, rows(dot, "[10]")
    assert rows(dot, "[1] GVA 0x80200000–0x803fffff → GPA") == [GREEN], rows(dot, "[1] GVA 0x80200000")
    assert rows(dot, "[2] GVA 0x80400000–0x805fffff → GPA") == [ORANGE], rows(dot, "[2] GVA 0x80400000")
    assert rows(dot, "[3] GVA 0x80600000") == [GREY], rows(dot, "[3] GVA 0x80600000")
    # Shadow rows: 4 KiB leaves under the 2 MiB guest leaves.
    assert rows(dot, "[0..2] GVA 0x80200000–0x80202fff → HPA 0x84200000–0x84202fff") == [GREEN], rows(dot, "[0..2]")
    assert rows(dot, "[0] GVA 0x80400000–0x80400fff → HPA 0x84400000") == [ORANGE], rows(dot, "[0] GVA 0x80400000")
    assert rows(dot, "[5] GVA 0x80405000") == [LIGHT_GREEN], rows(dot, "[5] GVA 0x80405000")
    # Pointers: white, the upper-half one not dumped (sign-extended VA).
    assert rows(dot, "[511] GVA 0xffffffffc0000000–0xffffffffffffffff → L1 table GPA 0x80403000 (not dumped)") == [WHITE], \
        rows(dot, "[511]")
    # --max-rows caps the rows of a node; edges of hidden rows leave from "more".
    assert "… 3 more rows</TD>" in capped and "… 1 more row</TD>" in capped, capped
    assert '"s_88001000":more:e -> "s_88004000":hdr:w;' in capped, capped
    assert len(edges(capped)) == 7, edges(capped)
    return "%d nodes, %d edges" % (len(n), len(edges(dot)))


def test_ssp_summary_and_dot():
    with tempfile.TemporaryDirectory() as d:
        log = write_log(d, "two.log", ["umbra: booting"] + HAP + ["[vm] more output"] + SSP + ["umbra: done"])
        got = ok(run(log, "--summary"), "--summary (last dump)").strip()
        assert got == SSP_SUMMARY, "\n got  %s\n want %s" % (got, SSP_SUMMARY)
        assert ok(run(log, "--summary", "--index", "1"), "--index 1").strip() == SSP_SUMMARY
        listing = ok(run(log, "--list"), "--list")
        dot = ok(run(log), "DOT")
    lines = listing.strip().split("\n")
    assert lines[0].startswith("0: vm=tiny mode=hap when=end"), listing
    assert any(l.startswith("1: vm=tiny mode=ssp when=sfence_va_asid#100-before") for l in lines), listing
    assert "shadow root=1 guest_satp=0x%x hw_asid=2 tables=3 current" % SSP_A in listing, listing
    assert "sptbuf vcpu=0 entries=2" in listing, listing
    n = nodes(dot)
    assert len(n) == 3 + 3 + 1 + 1 and "sptbuf0" in n, n      # tables, legend, buffer
    assert len(edges(dot)) == 4 + 1 + 1, edges(dot)           # tables, "shadowed by", buffer hit -> root 1
    assert "SPT base buffer (vCPU 0): 900 hits / 4 misses" in dot, dot
    assert re.search(r'BGCOLOR="#fff3a0">satp 0x%x → root 1 \(hit' % SSP_A, dot), dot
    assert re.search(r'BGCOLOR="#ffffff">satp 0x%x → root 2<' % SSP_B, dot), dot
    assert rows(dot, "[1] GVA 0x80001000–0x80001fff → HPA 0xa0100000") == [GREEN], rows(dot, "[1] GVA 0x80001000")
    assert rows(dot, "[2] GVA 0x80002000") == [RED, RED], rows(dot, "[2] GVA 0x80002000")
    assert rows(dot, "GPA 0x80101000–0x80101fff rw---ad (1 page) stale until fence (shadow maps HPA 0x90105000)") == [RED], \
        rows(dot, "[2] GVA 0x80002000")
    assert rows(dot, "HPA 0x90105000–0x90105fff rw---ad (1 page) stale until fence (guest maps HPA 0x90101000)") == [RED], \
        rows(dot, "[2] GVA 0x80002000")
    assert rows(dot, "(shadow grants w)") == [RED] and rows(dot, "(grants w)") == [RED], rows(dot, "grants")
    assert rows(dot, "[4] GVA 0x80004000–0x80004fff → HPA 0x90104000") == [RED], rows(dot, "[4] GVA")
    assert rows(dot, "no guest leaf") == [RED], rows(dot, "no guest leaf")
    assert rows(dot, "[5] GVA 0x80005000") == [GREY], rows(dot, "[5] GVA")
    return SSP_SUMMARY


def test_hap_guest_tree_only():
    with tempfile.TemporaryDirectory() as d:
        log = write_log(d, "two.log", HAP + SSP)
        got = ok(run(log, "--summary", "--index", "0"), "--summary --index 0").strip()
        assert got == HAP_SUMMARY, "\n got  %s\n want %s" % (got, HAP_SUMMARY)
        dot = ok(run(log, "--index", "-2"), "DOT --index -2")
    assert "cluster_shadow" not in dot and "shadowed by" not in dot, dot
    assert len(nodes(dot)) == 3 and len(edges(dot)) == 1, (nodes(dot), edges(dot))
    assert rows(dot, "[0] GVA 0x0–0x3fffffff → GPA 0x0–0x3fffffff rw---ad (1 page) no shadow") == ["#cfe2ff"], \
        rows(dot, "[0] GVA 0x0")
    assert 'label="vm tiny, mode hap, when end"' in dot, dot[:400]


def test_bad_input():
    cases = []
    with tempfile.TemporaryDirectory() as d:
        none = write_log(d, "none.log", ["umbra: hello", "[vm] no dump here", "ptdumping is not a record"])
        cases.append(((none,), "no page-table dump"))
        cases.append(((none, "--list"), "no page-table dump"))
        log = write_log(d, "tsp.log", TSP)
        cases.append(((log, "--index", "3"), "bad --index 3"))
        cases.append(((log, "--satp", "0x1234"), "satp 0x1234 is not in dump 0"))
        cases.append(((log, "--satp", "zz"), "--satp zz"))
        bad = write_log(d, "bad.log", TSP[:8] + ["ptdump pte index=zz value=0x1"] + TSP[8:])
        cases.append(((bad, "--summary"), "bad.log:9: 'pte' record: index=zz is not a number"))
        bad = write_log(d, "bad2.log", TSP[:8] + ["ptdump pte index=3"] + TSP[8:])
        cases.append(((bad,), "bad.log:9: 'pte' record without value=".replace("bad.log", "bad2.log")))
        bad = write_log(d, "bad3.log", TSP[:8] + ["ptdump pte index=600 value=1"] + TSP[8:])
        cases.append(((bad,), "out of range"))
        bad = write_log(d, "bad4.log", ["ptdump pte index=1 value=1"] + TSP)
        cases.append(((bad,), "outside a dump"))
        bad = write_log(d, "bad5.log", TSP[:8] + ["ptdump pte index=1 value"] + TSP[8:])
        cases.append(((bad,), "malformed field 'value'"))
        cases.append(((os.path.join(d, "missing.log"),), "cannot read"))
        cases.append(((log, "-o", os.path.join(d, "x.txt")), "unknown output type"))
        bare = write_log(d, "bare.log", ["ptdump begin vm=v mode=hap when=end",
                                         "ptdump region gpa=0x80000000 size=0x4000000 hpa=0x84000000",
                                         "ptdump guest satp=0x0 root=0x0 current=1", "ptdump end"])
        cases.append(((bare,), "every 'guest' record has satp Bare"))
        cases.append(((bare, "--satp", "0"), "satp 0x0 is Bare"))
        sv57 = write_log(d, "sv57.log", ["ptdump begin vm=v mode=hap when=end",
                                         "ptdump guest satp=0xa000000000080123 root=0x80123000 current=1",
                                         "ptdump note side=guest satp=0xa000000000080123 text=not_sv39_not_dumped",
                                         "ptdump end"])
        cases.append(((sv57,), "Bare or a mode other than Sv39"))
        cases.append(((sv57, "--satp", "0xa000000000080123"), "mode 10, not Sv39"))
        for args, want in cases:
            p = run(*args)
            err = p.stderr.strip()
            assert p.returncode == 2, "%s: exit %d, want 2\n%s" % (args, p.returncode, p.stderr)
            assert "Traceback" not in p.stderr and err.split("\n")[-1].startswith("umbra-ptdump: error: "), err
            assert want in err, "%s: %r not in %r" % (args, want, err)
    return "%d cases" % len(cases)


def test_svg_when_graphviz_is_installed():
    with tempfile.TemporaryDirectory() as d:
        log = write_log(d, "ssp.log", SSP)
        svg = os.path.join(d, "x.svg")
        # Without dot on PATH (an empty directory), .svg fails clearly and .dot still works.
        empty = os.path.join(d, "empty")
        os.mkdir(empty)
        p = subprocess.run([sys.executable, TOOL, log, "-o", svg], capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL, env=dict(os.environ, PATH=empty))
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "graphviz is not installed" in p.stderr and "'dot'" in p.stderr, p.stderr
        assert not os.path.exists(svg)
        p = subprocess.run([sys.executable, TOOL, log, "-o", os.path.join(d, "x.dot")], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL, env=dict(os.environ, PATH=empty))
        assert p.returncode == 0 and os.path.getsize(os.path.join(d, "x.dot")) > 0, p.stderr
        if shutil.which("dot") is None:
            return "skipped: graphviz not installed (its error message checked)"
        p = run(log, "-o", svg)
        ok(p, "-o x.svg")
        with open(svg, encoding="utf-8") as f:
            text = f.read()
        assert "<svg" in text and "SPT base buffer" in text, text[:400]
        return "%d bytes of SVG" % len(text)


TESTS = [
    ("tsp_summary_and_dot", test_tsp_summary_and_dot),
    ("ssp_summary_and_dot", test_ssp_summary_and_dot),
    ("hap_guest_tree_only", test_hap_guest_tree_only),
    ("bad_input", test_bad_input),
    ("svg_when_graphviz_is_installed", test_svg_when_graphviz_is_installed),
]
