"""mmtl_tf.directory_lock: a flock held for the `with` block; the file names the owner for the
message only; a killed owner's lock is free at once; two processes never both hold it."""

import errno
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO
from lock_holder import Holder
from mmtl_tf import directory_lock

HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/stat")
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="no /proc: no start times")
needs_flock = pytest.mark.skipif(getattr(directory_lock, "fcntl", None) is None,
                                 reason="no fcntl: the O_EXCL scheme")


def _lock(directory):
    return directory_lock.DirectoryLock(str(directory), user="prepare", flag="--tfrecord_dir")


def _dead_pid():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


@needs_proc
@needs_flock
def test_the_lock_file_names_the_owner_and_stays_empty_after_the_block(tmp_path):
    with _lock(tmp_path):
        record = dict(field.split("=") for field in (tmp_path / ".lock").read_text().split())
    assert record == {"pid": str(os.getpid()), "host": socket.gethostname(),
                      "start": directory_lock.process_start_time(os.getpid())}
    assert (tmp_path / ".lock").read_text() == ""  # left in place: never unlinked
    with _lock(tmp_path / "new"):  # a missing directory is created
        assert (tmp_path / "new" / ".lock").stat().st_size > 0


@needs_flock
def test_a_live_owner_is_refused_and_a_killed_one_loses_the_lock_at_once(tmp_path):
    with Holder(tmp_path) as holder:
        with pytest.raises(directory_lock.DirectoryInUseError) as refused:
            with _lock(tmp_path):
                pass
        assert str(refused.value) == (
            f"{tmp_path} is in use by another prepare (pid {holder.pid}). Wait for it to "
            f"finish, or choose another --tfrecord_dir.")
        holder.kill()  # SIGKILL: its record stays in the file, the kernel drops its flock
        assert (tmp_path / ".lock").read_text().split()[0] == f"pid={holder.pid}"
        with _lock(tmp_path):
            assert (tmp_path / ".lock").read_text().split()[0] == f"pid={os.getpid()}"


@needs_flock
def test_a_record_without_a_flock_means_nothing_even_if_its_pid_lives(tmp_path):
    live = os.getppid()  # alive, and not us: as a killed owner's pid reused since
    (tmp_path / ".lock").write_text(f"pid={live} start=- host={socket.gethostname()}\n")
    with _lock(tmp_path):
        assert (tmp_path / ".lock").read_text().split()[0] == f"pid={os.getpid()}"


@needs_flock
def test_a_refused_process_names_an_unknown_or_remote_owner(tmp_path):
    with Holder(tmp_path):
        (tmp_path / ".lock").write_text("")  # as before the owner writes its pid
        with pytest.raises(directory_lock.DirectoryInUseError,
                           match=r"another prepare \(pid unknown: it has only just taken the "
                                 r"lock\)\. Wait for it to finish, or choose another"):
            with _lock(tmp_path):
                pass
        (tmp_path / ".lock").write_text(f"pid={_dead_pid()} start=- host=elsewhere")
        with pytest.raises(directory_lock.DirectoryInUseError, match=r"on host elsewhere\)"):
            with _lock(tmp_path):
                pass


@needs_proc
@needs_flock
def test_an_older_versions_lock_of_a_live_process_still_refuses(tmp_path):
    owner = os.getppid()
    started = directory_lock.process_start_time(owner)
    (tmp_path / ".lock").write_text(f"{owner} {started}")  # written with O_EXCL, no flock
    with pytest.raises(directory_lock.DirectoryInUseError) as refused:
        with _lock(tmp_path):
            pass
    assert str(refused.value) == (
        f"{tmp_path} is in use by another prepare (pid {owner}). Wait for it to finish, or "
        f"choose another --tfrecord_dir. If you are sure no such process runs, delete "
        f"{tmp_path / '.lock'} and retry.")
    for stale in (f"{owner} {int(started) + 1}", str(_dead_pid())):  # reused pid, dead pid
        (tmp_path / ".lock").write_text(stale)
        with _lock(tmp_path):
            assert (tmp_path / ".lock").read_text().split()[0] == f"pid={os.getpid()}"


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    with _lock(tmp_path):
        with pytest.raises(directory_lock.DirectoryInUseError, match="this process"):
            with _lock(f"{tmp_path}/./"):  # the same directory by another spelling
                pass
        assert (tmp_path / ".lock").read_text()  # the holder's record is untouched
    with _lock(tmp_path):  # released
        pass


@needs_flock
def test_a_file_system_without_locks_is_named_not_worked_around(tmp_path, monkeypatch):
    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(directory_lock.fcntl, "flock", no_locks)
    with pytest.raises(directory_lock.DirectoryInUseError,
                       match=r"cannot lock .*\.lock \(No locks available\): its file system "
                             r"takes no locks .*choose another --tfrecord_dir on a local disk"):
        with _lock(tmp_path):
            pass
    monkeypatch.undo()
    with _lock(tmp_path):  # nothing was left held
        pass


def test_without_fcntl_the_o_excl_scheme_remains(tmp_path, monkeypatch):
    monkeypatch.setattr(directory_lock, "fcntl", None)
    with _lock(tmp_path / "new"):
        assert (tmp_path / "new" / ".lock").read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / "new" / ".lock").exists()
    (tmp_path / ".lock").write_text(str(os.getppid()))
    with pytest.raises(directory_lock.DirectoryInUseError, match=r"delete .*\.lock and retry"):
        with _lock(tmp_path):
            pass
    (tmp_path / ".lock").write_text(str(_dead_pid()))
    with _lock(tmp_path):
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())


_CONTENDER = """
import json, os, sys, time
from mmtl_tf import directory_lock
root, trials, period, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
me = int(sys.argv[5])
print("ready", flush=True)
start = float(sys.stdin.readline())
outcomes = []
for trial in range(trials):
    directory = os.path.join(root, f"trial-{trial}")
    # One of the two starts 0-225 microseconds later, a step more each trial: some trials
    # land in any window a lock might leave between taking the file and naming its owner.
    moment = start + trial * period + (me == (trial // 2) % 2) * (trial * 7 % 16) * 15e-6
    time.sleep(max(0.0, moment - 0.003 - time.time()))
    while time.time() < moment:  # spin the last milliseconds: both start within microseconds
        pass
    try:
        with directory_lock.DirectoryLock(directory, user="prepare", flag="--tfrecord_dir"):
            inside = os.path.join(directory, "inside")
            try:
                os.close(os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                outcomes.append("overlap")  # the other process holds the lock too
            else:
                time.sleep(hold)
                os.remove(inside)
                outcomes.append("held")
    except directory_lock.DirectoryInUseError:
        outcomes.append("refused")
    except Exception as error:  # e.g. FileNotFoundError removing the other's fresh lock
        outcomes.append(f"error {error!r}")
print(json.dumps(outcomes), flush=True)
"""


def test_two_processes_started_together_never_both_hold_the_lock(tmp_path):
    """30 trials of 2 processes released together on one directory; every other trial starts
    with a killed owner's older-version lock file (a dead pid). An earlier version let both hold
    a fresh directory (an empty file read as stale) and removed each other's fresh lock."""
    trials, period, hold = 30, 0.1, 0.04
    dead = _dead_pid()
    for trial in range(1, trials, 2):
        os.makedirs(tmp_path / f"trial-{trial}")
        (tmp_path / f"trial-{trial}" / ".lock").write_text(f"{dead} 1")  # start time 1: gone
    contenders = [subprocess.Popen(
        [sys.executable, "-c", _CONTENDER, str(tmp_path), str(trials), str(period), str(hold),
         str(me)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": REPO}) for me in range(2)]
    try:
        for contender in contenders:
            assert contender.stdout.readline().strip() == "ready"
        start = time.time() + 0.2
        for contender in contenders:
            contender.stdin.write(f"{start}\n")
            contender.stdin.flush()
        outcomes = [json.loads(contender.communicate(timeout=60)[0]) for contender in contenders]
    finally:
        for contender in contenders:
            if contender.poll() is None:
                contender.kill()
                contender.wait()
    pairs = list(zip(*outcomes))
    assert len(pairs) == trials
    bad = [(trial, pair) for trial, pair in enumerate(pairs)
           if "overlap" in pair or any(outcome.startswith("error") for outcome in pair)
           or "held" not in pair]
    assert not bad
    # The two met at the lock (one was refused) in most trials: the test did race them.
    assert sum("refused" in pair for pair in pairs) >= trials // 3


def test_process_alive_by_pid_alone_still_serves_staging_folders():
    assert directory_lock.process_alive(os.getppid())
    assert not directory_lock.process_alive(_dead_pid())


@needs_proc
def test_start_time_is_read_past_a_command_name_holding_spaces_and_parentheses(tmp_path):
    odd_name = tmp_path / "x) (y z"  # the kernel shows it as field 2: (x) (y z)
    os.symlink(sys.executable, odd_name)
    child = subprocess.Popen([str(odd_name), "-c", "import time; time.sleep(30)"])
    try:
        started = directory_lock.process_start_time(child.pid)
        assert int(started) >= int(directory_lock.process_start_time(os.getpid()))
        assert directory_lock.process_alive(child.pid, started)
        assert not directory_lock.process_alive(child.pid, str(int(started) + 1))
    finally:
        child.kill()
        child.wait()
