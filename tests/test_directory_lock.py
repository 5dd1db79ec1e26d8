"""mmtl_tf.directory_lock: a lock names its owner by pid and start time; a reused pid is stale."""

import os
import subprocess
import sys

import pytest

from mmtl_tf import directory_lock

HAS_PROC = os.path.exists(f"/proc/{os.getpid()}/stat")
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="no /proc: locks hold the pid only")


def _lock(directory):
    return directory_lock.DirectoryLock(str(directory), user="prepare", flag="--tfrecord_dir")


def _dead_pid():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


@needs_proc
def test_the_lock_file_holds_the_owners_pid_and_start_time(tmp_path):
    with _lock(tmp_path):
        pid, started = (tmp_path / ".lock").read_text().split()
    assert int(pid) == os.getpid()
    assert started == directory_lock.process_start_time(os.getpid()) and started.isdigit()


@needs_proc
def test_a_lock_whose_pid_now_belongs_to_another_process_is_taken_over(tmp_path):
    other = os.getppid()  # alive, and not us: as a pid reused after the owner was killed
    started = int(directory_lock.process_start_time(other))
    (tmp_path / ".lock").write_text(f"{other} {started + 1}")
    with _lock(tmp_path):
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


@needs_proc
def test_a_live_owner_is_refused_with_the_lock_file_to_delete(tmp_path):
    owner = os.getppid()
    (tmp_path / ".lock").write_text(f"{owner} {directory_lock.process_start_time(owner)}")
    with pytest.raises(directory_lock.DirectoryInUseError) as refused:
        with _lock(tmp_path):
            pass
    assert str(refused.value) == (
        f"{tmp_path} is in use by another prepare (pid {owner}). Wait for it to finish, or "
        f"choose another --tfrecord_dir. If you are sure no such process runs, delete "
        f"{tmp_path / '.lock'} and retry.")


def test_a_pid_only_lock_of_an_older_version_is_judged_by_the_pid(tmp_path):
    (tmp_path / ".lock").write_text(str(os.getppid()))
    with pytest.raises(directory_lock.DirectoryInUseError, match=f"pid {os.getppid()}"):
        with _lock(tmp_path):
            pass
    (tmp_path / ".lock").write_text(str(_dead_pid()))
    with _lock(tmp_path):
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())


def test_without_proc_locks_hold_and_judge_the_pid_only(tmp_path, monkeypatch):
    monkeypatch.setattr(directory_lock, "process_start_time", lambda pid: None)
    with _lock(tmp_path / "new"):
        assert (tmp_path / "new" / ".lock").read_text() == str(os.getpid())
    (tmp_path / ".lock").write_text(f"{os.getppid()} 1")  # written where /proc was readable
    with pytest.raises(directory_lock.DirectoryInUseError):
        with _lock(tmp_path):
            pass


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
