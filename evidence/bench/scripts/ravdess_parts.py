"""Usage (2026-11-30, fourth session; one run, numbers quoted in BUILD.md "Real speech: what was tried"):
  TF_NUM_INTRAOP_THREADS=1 python evidence/bench/scripts/ravdess_parts.py

The ravdess preset's CNN blocks and BiLSTM head apart, and each conv layer alone: forward and
forward+backward seconds at B = 16."""
import time
import numpy as np, tensorflow as tf, keras
def timeit(f, n=8):
    f(); ts=[]
    for _ in range(n):
        t=time.time(); f(); ts.append(time.time()-t)
    return np.median(ts)
x = tf.constant(np.random.randn(16,200,200).astype(np.float32))
def cnn(inp):
    h = keras.layers.Reshape((200,200,1))(inp)
    for f in (8,12,16):
        h = keras.layers.Conv2D(f,3,padding="same",activation="relu")(h)
        h = keras.layers.MaxPooling2D(2,2)(h)
    return h
inp = keras.Input((200,200))
h = cnn(inp)
seq = keras.layers.Reshape((25, 25*16))(h)
m_cnn = keras.Model(inp, seq)
sin = keras.Input((25,400))
l = keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True))(sin)
l = keras.layers.GlobalAveragePooling1D()(l)
m_lstm = keras.Model(sin, keras.layers.Dense(4)(l))
s = tf.constant(np.random.randn(16,25,400).astype(np.float32))
def fb(model, inp):
    @tf.function
    def f():
        with tf.GradientTape() as t:
            y = model(inp)
            loss = tf.reduce_sum(y*y)
        return t.gradient(loss, model.trainable_variables)
    return lambda: [g.numpy() for g in f()]
def fw(model, inp):
    f = tf.function(lambda: model(inp))
    return lambda: f().numpy()
print("cnn fwd", timeit(fw(m_cnn, x)), "cnn f/b", timeit(fb(m_cnn, x)))
print("lstm fwd", timeit(fw(m_lstm, s)), "lstm f/b", timeit(fb(m_lstm, s)))
# per layer
for f_in, f_out, hw in ((1,8,200),(8,12,100),(12,16,50)):
    inp2 = keras.Input((hw,hw,f_in)); c = keras.layers.Conv2D(f_out,3,padding="same",activation="relu")(inp2)
    mm = keras.Model(inp2, keras.layers.MaxPooling2D(2,2)(c)); xx = tf.constant(np.random.randn(16,hw,hw,f_in).astype(np.float32))
    mc = keras.Model(inp2, c)
    print("conv", f_in, f_out, hw, "fwd", timeit(fw(mc, xx)), "f/b", timeit(fb(mc, xx)), "with pool f/b", timeit(fb(mm, xx)))
