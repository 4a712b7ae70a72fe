"""test_layout.py — the seams the tree is built around, checked on the
sources, so a change that crosses one fails here rather than in review.

- Every file docs/architecture.md's file map (section 7) names exists.
- The built-in guests, core/lib and mm/ include only what they may:
  guests: guests/ and core/lib/; core/lib: itself; mm/: mm/ and core/lib/.
- Arch headers include no core/ header but core/lib/, and the assembly
  includes neither core/ (but core/lib/) nor mm/.
- No code outside the mode files (core/mmu/) asks which mode a VM is in.
- core/ (outside core/lib, the PCI enumeration library) holds no PCI or
  passthrough code: that lives under iommu/.
"""
import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(*patterns):
    for p in patterns:
        for path in sorted(glob.glob(os.path.join(REPO, p), recursive=True)):
            yield os.path.relpath(path, REPO)


def includes(path):
    with open(os.path.join(REPO, path)) as f:
        return INCLUDE.findall(f.read())


def check_includes(paths, allowed, what):
    bad = ["%s includes %s" % (p, inc) for p in paths for inc in includes(p)
           if not any(inc.startswith(a) for a in allowed) and "/" in inc]
    assert not bad, "%s reach outside their layer:\n  %s" % (what, "\n  ".join(bad))
    return len(list(paths))


def test_file_map_names_existing_files():
    with open(os.path.join(REPO, "docs", "architecture.md")) as f:
        doc = f.read()
    section = doc[doc.index("## 7. File map"):]
    section = section[:section.index("\n## ", 1)]
    named = set(re.findall(r"`([A-Za-z0-9_./-]+/[A-Za-z0-9_.*-]*)`", section))
    assert len(named) > 30, "the file map names too few files: %s" % sorted(named)
    missing = [n for n in sorted(named) if not glob.glob(os.path.join(REPO, n.rstrip("/")))]
    assert not missing, "docs/architecture.md's file map names paths that do not exist: %s" % missing
    return "%d paths" % len(named)


def test_guests_use_only_the_portable_library():
    n = check_includes(list(sources("guests/**/*.c", "guests/**/*.h", "guests/**/*.S")),
                       ("guests/", "core/lib/"), "guests")
    return "%d guest files" % n


def test_lib_and_mm_are_self_contained():
    check_includes(list(sources("core/lib/*.c", "core/lib/*.h")), ("core/lib/",), "core/lib files")
    check_includes(list(sources("mm/*.c", "mm/*.h")), ("mm/", "core/lib/"), "mm/ files")


def test_arch_headers_and_assembly_stay_below_core():
    check_includes(list(sources("arch/riscv/*.h")), ("arch/riscv/", "core/lib/", "mm/"), "arch headers")
    check_includes(list(sources("arch/riscv/*.S")), ("arch/riscv/", "core/lib/"), "assembly files")


def test_only_mode_files_know_the_mode():
    pattern = re.compile(r"\bvm_uses_shadows\b|config->mode\b|\bMM_MODE_(HAP|TSP|SSP)\b")
    allowed = ("core/mmu/", "core/portable/config.")   # the selector and the parser
    bad = []
    for p in sources("core/**/*.c", "core/**/*.h", "arch/**/*.c", "arch/**/*.h", "iommu/**/*.c", "iommu/**/*.h"):
        if p.startswith(allowed):
            continue
        with open(os.path.join(REPO, p)) as f:
            for i, line in enumerate(f, 1):
                if pattern.search(line):
                    bad.append("%s:%d: %s" % (p, i, line.strip()))
    assert not bad, "code outside core/mmu/ tests the memory-virtualization mode:\n  " + "\n  ".join(bad)


def test_globals_are_declared_in_headers():
    """A global is owned by one file and declared in its header; a .c file
    declaring another file's global itself (extern) bypasses that."""
    bad = []
    for p in sources("arch/**/*.c", "core/**/*.c", "mm/*.c", "iommu/**/*.c"):
        with open(os.path.join(REPO, p)) as f:
            for i, line in enumerate(f, 1):
                if re.match(r"\s*extern\b", line):
                    bad.append("%s:%d: %s" % (p, i, line.strip()))
    assert not bad, "extern declarations in .c files (put them in the owner's header):\n  " + "\n  ".join(bad)


def test_core_holds_no_pci_code():
    defines = re.compile(r"^[a-z][\w \*]*\b(v?pci_\w+)\s*\(", re.M)
    bad = [p for p in sources("core/*", "core/portable/*", "core/mmu/*") if "pci" in os.path.basename(p)]
    for p in sources("core/*.c", "core/portable/*.c", "core/mmu/*.c"):
        with open(os.path.join(REPO, p)) as f:
            bad += ["%s defines %s" % (p, m) for m in defines.findall(f.read())]
    assert not bad, "PCI code in core/ (it belongs under iommu/): %s" % bad


TESTS = [
    ("file_map_names_existing_files", test_file_map_names_existing_files),
    ("guests_use_only_the_portable_library", test_guests_use_only_the_portable_library),
    ("lib_and_mm_are_self_contained", test_lib_and_mm_are_self_contained),
    ("arch_headers_and_assembly_stay_below_core", test_arch_headers_and_assembly_stay_below_core),
    ("only_mode_files_know_the_mode", test_only_mode_files_know_the_mode),
    ("globals_are_declared_in_headers", test_globals_are_declared_in_headers),
    ("core_holds_no_pci_code", test_core_holds_no_pci_code),
]
