import multiprocessing as mp, os, time
from mmtl_tf import run_dir
def worker(d, barrier, q):
    barrier.wait()
    try:
        with run_dir.RunLock(d):
            q.put("held"); time.sleep(0.3)
    except run_dir.RunDirError:
        q.put("refused")
    except Exception as e:
        q.put(type(e).__name__)
if __name__ == "__main__":
    import collections; c = collections.Counter()
    for trial in range(100):
        d = f"/tmp/mmtl_lockrace2/{trial}"; os.makedirs(d, exist_ok=True)
        open(os.path.join(d, ".lock"), "w").write("999999")  # stale lock of a killed run
        b = mp.Barrier(2); q = mp.Queue()
        ps = [mp.Process(target=worker, args=(d, b, q)) for _ in range(2)]
        [p.start() for p in ps]; [p.join() for p in ps]
        c[tuple(sorted([q.get(), q.get()]))] += 1
    print("stale lock, two resumes at once:", dict(c))
