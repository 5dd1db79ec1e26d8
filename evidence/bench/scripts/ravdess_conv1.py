"""Usage (2026-11-30, fourth session; one run, numbers quoted in BUILD.md "Real speech: what was tried"):
  TF_NUM_INTRAOP_THREADS=1 python evidence/bench/scripts/ravdess_conv1.py

The ravdess preset's first conv block (1 -> 8 channels, 3x3, 200x200, B = 16) and its 2x2 pooling,
computed as 3 convolutions x 2 poolings, with and without XLA: forward and forward+backward seconds, and the
largest difference from the stock layers."""
import time
import numpy as np, tensorflow as tf
def timeit(f, n=10):
    f(); f(); ts=[]
    for _ in range(n):
        t=time.time(); f(); ts.append(time.time()-t)
    return np.median(ts)
rng = np.random.default_rng(0)
x = tf.constant(rng.standard_normal((16,200,200,1)).astype(np.float32))
k = tf.Variable(rng.standard_normal((3,3,1,8)).astype(np.float32))
b = tf.Variable(np.zeros(8, np.float32))
def conv_ref(x):
    return tf.nn.relu(tf.nn.conv2d(x, k, 1, "SAME") + b)
def conv_shift(x):
    xp = tf.pad(x[..., 0], [[0,0],[1,1],[1,1]])
    H, W = 200, 200
    patches = tf.stack([xp[:, i:i+H, j:j+W] for i in range(3) for j in range(3)], axis=-1)  # N,H,W,9
    return tf.nn.relu(tf.einsum("nhwp,pc->nhwc", patches, tf.reshape(k, (9, 8))) + b)
def conv_patches(x):
    p = tf.image.extract_patches(x, [1,3,3,1], [1,1,1,1], [1,1,1,1], "SAME")
    return tf.nn.relu(tf.einsum("nhwp,pc->nhwc", p, tf.reshape(k, (9, 8))) + b)
def pool_ref(h): return tf.nn.max_pool2d(h, 2, 2, "VALID")
def pool_reshape(h):
    n, hh, ww, c = h.shape
    return tf.reduce_max(tf.reshape(h, (n, hh//2, 2, ww//2, 2, c)), axis=(2, 4))
for cname, conv in (("ref", conv_ref), ("shift", conv_shift), ("patches", conv_patches)):
    for pname, pool in (("ref", pool_ref), ("reshape", pool_reshape)):
        for jit in (False, True):
            @tf.function(jit_compile=jit)
            def fwd(): return pool(conv(x))
            @tf.function(jit_compile=jit)
            def fb():
                with tf.GradientTape() as t:
                    y = pool(conv(x)); loss = tf.reduce_sum(y * y)
                return t.gradient(loss, [k, b])
            out = fwd().numpy(); ref = pool_ref(conv_ref(x)).numpy()
            g = [v.numpy() for v in fb()]
            print(cname, pname, "jit" if jit else "graph", "fwd %.4f f/b %.4f maxdiff %.2e" % (timeit(lambda: fwd().numpy()), timeit(lambda: [v.numpy() for v in fb()]), abs(out-ref).max()), flush=True)
