"""Durability helpers of mmtl_tf.atomic_files: `sync_files` and `EarlySync` fsync what they say."""

import errno
import os

from mmtl_tf import atomic_files


def _recording_fsync(monkeypatch):
    """Replaces os.fsync with one that records the real path of every descriptor it syncs."""
    synced, real_fsync = [], os.fsync

    def fsync(descriptor):
        synced.append(os.path.realpath(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_sync_files_fsyncs_each_named_file_then_the_folder(tmp_path, monkeypatch):
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(b"x")
    synced = _recording_fsync(monkeypatch)
    atomic_files.sync_files(str(tmp_path), ["a", "c"])
    folder = os.path.realpath(tmp_path)
    assert synced == [os.path.join(folder, "a"), os.path.join(folder, "c"), folder]


def test_early_sync_flushes_and_fsyncs_every_so_many_bytes_and_skips_a_renamed_file(
        tmp_path, monkeypatch):
    synced = _recording_fsync(monkeypatch)
    path, flushes = str(tmp_path / "shard.tmp"), []
    with open(path, "wb") as handle, atomic_files.EarlySync(every_bytes=10) as syncer:
        for _ in range(5):  # 4 bytes at a time: past 10 bytes at the 3rd write; 8 more are not
            handle.write(b"abcd")
            syncer.wrote(path, 4, lambda: flushes.append(handle.tell()))
    assert flushes == [12]  # the buffer handed to the OS before the fsync
    assert synced == [os.path.realpath(path)]

    synced.clear()
    with atomic_files.EarlySync() as syncer:
        syncer.sync(str(tmp_path / "renamed-since"))  # gone: skipped, no error
        syncer.sync(path)
    assert synced == [os.path.realpath(path)]


def test_a_folder_the_file_system_cannot_sync_is_not_an_error(tmp_path, monkeypatch):
    """Some network and FUSE file systems refuse fsync on a directory (EINVAL); files still sync."""
    (tmp_path / "a").write_bytes(b"x")
    real_fsync, synced = os.fsync, []

    def fsync(descriptor):
        if os.path.isdir(f"/proc/self/fd/{descriptor}"):
            raise OSError(errno.EINVAL, "Invalid argument")
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic_files.sync_files(str(tmp_path), ["a"])
    assert len(synced) == 1
