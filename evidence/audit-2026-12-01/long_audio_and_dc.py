"""The twelfth session's two audio figures (BUILD.md "Features", "Preparing transactionally").

  python evidence/audit-2026-12-01/long_audio_and_dc.py dc       # a DC offset's effect
  python evidence/audit-2026-12-01/long_audio_and_dc.py memory   # one call vs the 64-segment cap

dc: the paper features of a RAVDESS dev utterance (../shared/ravdess_dev, Actor_11's first wav)
with 0, 0.1% and 1% of full scale added; prints the mean and max absolute change of the
normalised spectrogram. memory: four 10-minute 48 kHz stereo wavs (that utterance tiled, seed 0
for the channel gains) through `preparation_stream.feature_stream` in a child process each, one
feature call for the four (segments_per_call huge) and with the default cap; prints each child's
peak RSS (VmHWM), seconds, and whether the features are bit-identical.
"""
import glob, json, os, subprocess, sys, tempfile, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
from mmtl_tf import audio, config as config_lib, corpora  # noqa: E402

WAV = sorted(glob.glob(os.path.join(REPO, "..", "shared", "ravdess_dev", "Actor_11", "*.wav")))[0]


def dc():
    from mmtl_tf import features
    config = config_lib.FeatureConfig()
    wave = audio.read_wav(WAV, config.sample_rate)
    compute = features.shard_features(config)
    def spec(w):
        out = compute(w.astype(np.float32), np.array([len(w)], np.int64))
        return out["spectrogram"].numpy().astype(np.float32)
    base = spec(wave)
    for offset in (0.001, 0.01):
        moved = np.abs(spec(wave + offset) - base)
        print(f"offset {offset:g}: mean |change| {moved.mean():.3f}, max {moved.max():.2f}")


def child(folder, per_call):
    from mmtl_tf import preparation_stream
    config = config_lib.FeatureConfig()
    utterances = [corpora.Utterance(utterance_id=f"u{i}", path=os.path.join(folder, f"u{i}.wav"),
                                    speaker="s1", session="1", emotion=0) for i in range(4)]
    lengths = preparation_stream.expected_lengths(utterances, config)
    started = time.perf_counter()
    out = [f["spectrogram"] for _, f in preparation_stream.feature_stream(
        utterances, lengths, config, segments_per_call=per_call)]
    seconds = time.perf_counter() - started
    np.save(os.path.join(folder, f"spec-{per_call}.npy"), np.concatenate(out))
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(json.dumps({"segments_per_call": per_call, "VmHWM_MB": int(hwm) / 1024,
                      "seconds": round(seconds, 1)}))


def memory():
    folder = tempfile.mkdtemp(prefix="long_audio_")
    wave = audio.read_wav(WAV, 48000)
    rng = np.random.default_rng(0)
    tiled = np.tile(wave, int(np.ceil(600 * 48000 / len(wave))))[:600 * 48000]
    for i in range(4):
        gains = rng.uniform(0.5, 1.0, 2)
        stereo = (np.clip(tiled[:, None] * gains, -1, 1) * 32767).astype("<i2")
        import scipy.io.wavfile
        scipy.io.wavfile.write(os.path.join(folder, f"u{i}.wav"), 48000, stereo)
    for per_call in (10 ** 9, 64):
        subprocess.run([sys.executable, __file__, "child", folder, str(per_call)], check=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    same = np.array_equal(np.load(os.path.join(folder, f"spec-{10 ** 9}.npy")),
                          np.load(os.path.join(folder, "spec-64.npy")))
    print("bit-identical features:", same)


if __name__ == "__main__":
    {"dc": dc, "memory": memory}[sys.argv[1]]() if sys.argv[1] != "child" else child(
        sys.argv[2], int(sys.argv[3]))
