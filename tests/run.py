#!/usr/bin/env python3
"""Umbra's test command (make test): host unit tests, then QEMU integration
tests.  Each integration module in tests/integration/ exposes
TESTS = [(name, function)]; a function raises AssertionError on failure.
The last line printed is "N passed, M failed".

Usage: tests/run.py [substring ...]   (run only tests whose name matches)
"""
import glob
import importlib.util
import os
import subprocess
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unit_tests():
    for path in sorted(glob.glob(os.path.join(REPO, "build", "unit", "test_*"))):
        if os.access(path, os.X_OK) and not path.endswith(".d"):
            yield "unit/" + os.path.basename(path), lambda p=path: run_unit(p)


def run_unit(path):
    p = subprocess.run([path], capture_output=True, text=True, timeout=300, cwd=REPO)
    last = (p.stdout.strip().split("\n") or [""])[-1]
    if p.returncode != 0:
        raise AssertionError("%s\n%s" % (last, p.stderr.strip()[-3000:]))
    return last


def integration_tests():
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    for path in sorted(glob.glob(os.path.join(REPO, "tests", "integration", "test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for test_name, fn in module.TESTS:
            yield "%s/%s" % (name[len("test_"):], test_name), fn


def main():
    filters = sys.argv[1:]
    passed = failed = 0
    for name, fn in list(unit_tests()) + list(integration_tests()):
        if filters and not any(f in name for f in filters):
            continue
        start = time.time()
        try:
            detail = fn()
            passed += 1
            print("PASS %-45s %5.1fs%s" % (name, time.time() - start,
                                           "  " + detail if isinstance(detail, str) else ""), flush=True)
        except Exception as e:  # a crash in a test is that test's failure
            failed += 1
            print("FAIL %-45s %5.1fs" % (name, time.time() - start), flush=True)
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print("     " + msg.replace("\n", "\n     "), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
