"""The profile shim's SIGTERM flush (native/profile/term.c), built alone with a small C program.

The shim writes its last records at exit, which SIGTERM's default action skips; term.c catches
SIGTERM when the program left it at the default, runs the flush on a thread of its own and then ends
the process by SIGTERM as before. No GPU or CUPTI needed: the flush here writes a marker file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "revati" / "native" / "profile"

MAIN = textwrap.dedent(r"""
    #define _GNU_SOURCE
    #include <signal.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/wait.h>
    #include <unistd.h>
    #include "term.h"

    static void flush(void) {
        printf("flushing\n");
        fflush(stdout);
        if (getenv("HANG")) sleep(60); /* a flush that does not end: only a second SIGTERM does */
        FILE *f = fopen(getenv("MARK"), "a");
        fprintf(f, "flushed by %d\n", (int)getpid());
        fclose(f);
    }
    static void own(int sig) { (void)sig; _exit(3); }

    int main(int argc, char **argv) {
        if (argc > 1 && !strcmp(argv[1], "own")) signal(SIGTERM, own);
        printf("installed %d\n", rp_term_install(flush));
        if (argc > 1 && !strcmp(argv[1], "fork")) { /* a child ended by SIGTERM: no flush, default */
            pid_t c = fork();
            if (c == 0) { for (;;) pause(); }
            usleep(50000);
            kill(c, SIGTERM);
            int st = 0;
            waitpid(c, &st, 0);
            printf("child signalled %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) pause();
    }
""")


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("term")
    (d / "main.c").write_text(MAIN)
    exe = d / "prog"
    subprocess.run(
        [cc, "-std=gnu11", "-O2", "-Wall", "-Werror", "-I", str(SRC), "-o", str(exe),
         str(d / "main.c"), str(SRC / "term.c"), "-lpthread"],
        check=True,
    )  # fmt: skip
    return exe


def run_until_ready(
    exe: Path, mark: Path, *args: str, hang: bool = False
) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "MARK": str(mark)}
    if hang:
        env["HANG"] = "1"
    p = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "ready":
        line = p.stdout.readline()
        assert line, f"exited early: {lines}"
        lines.append(line.strip())
    return p, lines


def test_sigterm_runs_the_flush_then_dies_of_the_signal(prog: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    p, lines = run_until_ready(prog, mark)
    assert lines[0] == "installed 1"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert mark.read_text() == f"flushed by {p.pid}\n"


def test_a_second_sigterm_ends_the_process_without_waiting(prog: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    p, _ = run_until_ready(prog, mark, hang=True)
    p.send_signal(signal.SIGTERM)
    assert p.stdout is not None and p.stdout.readline().strip() == "flushing"
    p.send_signal(signal.SIGTERM)  # the flush never ends; this one must
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert not mark.exists()


def test_a_program_that_handles_sigterm_keeps_its_handler(prog: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    p, lines = run_until_ready(prog, mark, "own")
    assert lines[0] == "installed 0"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 3
    assert not mark.exists()


def test_a_forked_child_dies_by_default_and_leaves_the_parent_alone(
    prog: Path, tmp_path: Path
) -> None:
    mark = tmp_path / "mark"
    p, lines = run_until_ready(prog, mark, "fork")
    assert lines[:2] == ["installed 1", f"child signalled {int(signal.SIGTERM)}"]
    assert not mark.exists() and p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert mark.read_text() == f"flushed by {p.pid}\n"
