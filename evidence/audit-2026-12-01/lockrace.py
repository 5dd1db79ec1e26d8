import multiprocessing as mp, os, sys, time, shutil
from mmtl_tf import directory_lock
def worker(d, barrier, q):
    barrier.wait()
    try:
        with directory_lock.DirectoryLock(d):
            q.put(("held", os.getpid()))
            time.sleep(0.3)
    except directory_lock.DirectoryInUseError as e:
        q.put(("refused", os.getpid()))
if __name__ == "__main__":
    both = 0
    for trial in range(200):
        d = f"/tmp/mmtl_lockrace/{trial}"
        os.makedirs(d, exist_ok=True)
        b = mp.Barrier(2); q = mp.Queue()
        ps = [mp.Process(target=worker, args=(d, b, q)) for _ in range(2)]
        [p.start() for p in ps]; [p.join() for p in ps]
        res = [q.get() for _ in range(2)]
        if all(r[0] == "held" for r in res): both += 1
    print("trials where BOTH held the lock:", both, "/ 200")
