"""A smoke run of the benchmark harness (Benchmarks/), so that `make bench` cannot rot unnoticed.

It builds loadgen, runs Benchmarks/bench.py --smoke against the binaries under test (a few hundred
messages, one run of each measurement, no Postfix; relay.py stands in for smtp-sink when Postfix is
not installed) and checks that the harness's output parses and its counts match. No performance
target is checked here: that is `make bench`'s job, on a quiet machine.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, ROOT


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("loadgen") / "loadgen"
    subprocess.run(["cc", "-O2", "-pthread", "-Wall", "-Werror", "-o", str(out), str(ROOT / "Benchmarks" / "loadgen.c"),
                    "-lsqlite3"], check=True, capture_output=True)
    return out


def test_loadgen_against_its_own_server(loadgen, tmp_path):
    """The generator's own ceiling: every request answered, latencies ordered."""
    sock = tmp_path / "serve.sock"
    server = subprocess.Popen([str(loadgen), "serve", "--socket", str(sock)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith("READY")
        for extra in ([], ["--rate", "2000"], ["--window", "8"]):
            out = subprocess.run([str(loadgen), "enqueue", "--socket", str(sock), "--clients", "4", "--messages", "400",
                                  *extra], capture_output=True, text=True, timeout=60, check=True).stdout
            r = json.loads(out)
            assert r["count"] == 400 and r["errors"] == 0, r
            assert 0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"], r
            if extra[:1] == ["--rate"]:
                assert r["seconds"] >= 0.15, r  # 400 at 2000/s are paced over about 0.2 s
    finally:
        server.terminate()
        server.wait(10)


def test_loadgen_reports_a_dead_socket(loadgen, tmp_path):
    out = subprocess.run([str(loadgen), "enqueue", "--socket", str(tmp_path / "none.sock"), "--clients", "2",
                          "--messages", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    r = json.loads(out.stdout)
    assert r["count"] == 0 and r["errors"] == 10 and "connect" in r["first_error"], r


def test_storage_probes(loadgen, tmp_path):
    for mode, key in (("fsync", "rate"), ("sqlite", "commit_rate")):
        out = subprocess.run([str(loadgen), mode, "--dir", str(tmp_path), "--count", "50", "--seconds", "2"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        assert json.loads(out)[key] > 0
    assert list(tmp_path.iterdir()) == []  # the probes clean up after themselves


@pytest.fixture
def short_tmp():
    """pytest's tmp_path is too long for the Unix socket paths (108 bytes) of the harness's mailds."""
    path = Path(tempfile.mkdtemp(prefix="mb.", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_harness_smoke_run(loadgen, short_tmp):
    tmp_path = short_tmp
    results = tmp_path / "results.json"
    env = dict(os.environ, BENCH_TMPDIR=str(tmp_path), BENCH_MESSAGES="300", BENCH_MEMORY="400", BENCH_BIG="600")
    run = subprocess.run([sys.executable, str(ROOT / "Benchmarks" / "bench.py"), "--smoke", "--bin", str(BIN),
                          "--loadgen", str(loadgen), "--json", str(results)],
                         capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(results.read_text())
    assert data["error"] is None and data["runs"] == 1 and data["messages"] == 300
    failed = [c for c in data["checks"] if not c["ok"]]
    assert not failed, failed
    r = data["results"]
    for key in ("ceiling_16", "fsync_rate", "sqlite_commit_rate", "enqueue_1", "enqueue_16", "enqueue_64",
                "enqueue_half_p99", "pipeline", "dispatch_grouped", "dispatch_immediate", "rss_idle",
                "rss_memory_fill", "rss_memory_due", "ready_big"):
        assert len(r[key]) == 1 and r[key][0] > 0, (key, r.get(key))
    # The counting checks ran for every measurement that delivers.
    whats = " ".join(c["what"] for c in data["checks"])
    for what in ("pipeline: the sink got each message once", "dispatch grouped: the sink got each message once",
                 "dispatch immediate: the sink got each message once", "start-up: maild holds the big outbox"):
        assert what in whats, what
    # The table is printed, one row per figure, and nothing is left in the work directory.
    assert "Pipeline, 300 msgs" in run.stdout and "exec -> READY=1, 600 queued" in run.stdout, run.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
