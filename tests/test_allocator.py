"""tcmalloc is found, preloaded once through a re-exec, and never required."""

from hetsnn import allocator


def test_find_tcmalloc_honours_the_switch_and_an_explicit_path(tmp_path):
    library = tmp_path / "libtcmalloc_minimal.so.4"
    library.write_bytes(b"")
    assert allocator.find_tcmalloc({allocator.ENV: "0"}) is None
    assert allocator.find_tcmalloc({allocator.ENV: str(library)}) == str(library)
    assert allocator.find_tcmalloc({allocator.ENV: str(tmp_path / "missing.so")}) is None


def test_preload_environment_re_executes_once_and_keeps_other_preloads():
    environ = {"LD_PRELOAD": "/other.so", "PATH": "/bin"}
    new = allocator.preload_environment(environ, "/lib/tcm.so", loaded=False)
    assert new["LD_PRELOAD"] == "/lib/tcm.so /other.so" and new["PATH"] == "/bin"
    assert allocator.preload_environment(new, "/lib/tcm.so", loaded=False) is None  # no loop
    assert allocator.preload_environment(environ, "/lib/tcm.so", loaded=True) is None
    assert allocator.preload_environment(environ, None, loaded=False) is None


def test_allocator_reports_what_this_process_runs_on():
    assert allocator.allocator() in ("system", "tcmalloc")
