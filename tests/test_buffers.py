"""autograd.buffers: large op results reuse arrays nothing refers to any more, and
never an array that something still uses."""
import threading

import numpy as np
import pytest

import autograd as ag
from autograd import buffers

N = buffers.MIN_BYTES // 4 * 2         # float32 elements: twice the cache's threshold


def big(value=1.0):
    return ag.tensor(np.full(N, value, np.float32))


def test_a_dropped_result_is_reused_by_the_next_op_of_its_shape():
    x = big()
    a = x * 2.0
    address = a.data.ctypes.data
    del a
    b = x * 3.0
    assert b.data.ctypes.data == address
    np.testing.assert_array_equal(b.data, np.full(N, 3.0, np.float32))


@pytest.mark.parametrize("keep", ["array", "view", "tensor"])
def test_an_array_still_referred_to_is_never_handed_out(keep):
    x = big()
    a = x * 2.0
    kept = {"array": lambda: a.data, "view": lambda: a.data[::2],
            "tensor": lambda: ag.Tensor(a.data)}[keep]()
    del a
    b = x * 3.0
    c = x + 5.0
    held = kept.data if isinstance(kept, ag.Tensor) else kept
    assert not np.shares_memory(held, b.data) and not np.shares_memory(held, c.data)
    np.testing.assert_array_equal(held, 2.0)


def test_gradients_and_saved_values_are_not_overwritten_by_later_ops():
    x = ag.tensor(np.linspace(-1, 1, N).astype(np.float32), requires_grad=True)
    y = ag.tanh(x * 2.0)                    # tanh saves its output for backward
    for _ in range(3):
        junk = x * 7.0 + 1.0                # large results made and dropped meanwhile
        del junk
    y.sum().backward()
    expected = 2.0 * (1.0 - np.tanh(2.0 * x.data) ** 2)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)
    g = x.grad.data.copy()
    for _ in range(3):
        junk = x.detach() * 9.0
        del junk
    np.testing.assert_array_equal(x.grad.data, g)


def test_small_results_are_left_to_malloc():
    before = buffers.held_bytes()
    x = ag.tensor(np.ones(100, np.float32))
    for _ in range(5):
        x = x * 2.0 + 1.0
    assert buffers.held_bytes() == before


def test_a_frozen_array_is_made_writeable_again_when_reused():
    x = big()
    a = x * 2.0
    a.data.flags.writeable = False
    del a
    b = x * 3.0
    assert b.data.flags.writeable
    np.testing.assert_array_equal(b.data, 3.0)


def test_the_limit_caps_what_the_cache_holds(monkeypatch):
    monkeypatch.setattr(buffers, "limit", buffers.held_bytes())
    before = buffers.held_bytes()
    x = ag.tensor(np.ones(N + 7, np.float32))     # a shape nothing cached yet
    kept = [x * float(i) for i in range(3)]
    assert buffers.held_bytes() == before
    assert [float(k.data[0]) for k in kept] == [0.0, 1.0, 2.0]


def test_clear_drops_unused_arrays_and_keeps_used_ones():
    x = ag.tensor(np.ones(N + 3, np.float32))
    used = x * 2.0
    unused = x * 3.0
    del unused
    buffers.clear()
    held = buffers.held_bytes()
    assert held >= used.data.nbytes
    again = x * 4.0                               # no free array of that shape is left
    assert not np.shares_memory(again.data, used.data)
    np.testing.assert_array_equal(used.data, 2.0)


def test_large_matmul_conv_and_reshape_copies_are_correct():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 400)).astype(np.float32)
    for _ in range(2):
        np.testing.assert_allclose((ag.tensor(a) @ ag.tensor(b)).data, a @ b, rtol=1e-5)
    t = rng.standard_normal((64, 40, 50)).astype(np.float32)
    for _ in range(2):
        r = ag.reshape(ag.transpose(ag.tensor(t), (2, 0, 1)), (50, -1))
        np.testing.assert_array_equal(r.data, t.transpose(2, 0, 1).reshape(50, -1))


def test_threads_never_share_a_buffer():
    errors = []

    def work(value):
        x = big(value)
        for _ in range(200):
            y = x * 2.0
            z = y + 1.0
            if not (z.data[0] == 2 * value + 1 and z.data[-1] == 2 * value + 1):
                errors.append(value)
            del y, z

    threads = [threading.Thread(target=work, args=(float(v),)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_large_reshape_copies_keep_numpy_errors():
    a = ag.tensor(np.arange(300 * 300, dtype=np.float32).reshape(300, 300).T)
    for shape in [(0, -1), (-1, -1), (7, -1)]:
        with pytest.raises(ValueError, match="reshape"):
            ag.reshape(a, shape)
    with pytest.raises(TypeError, match="reshape"):
        ag.reshape(a, (300, 300.0))
    np.testing.assert_array_equal(ag.reshape(a, (900, -1)).data, a.data.reshape(900, -1))


def test_a_released_constant_from_the_cache_shows_no_values():
    from autograd.function import _Released
    x = big()
    c = (x * 2.0).data                           # an array the cache made
    r = _Released(c, c)
    assert r.ref() is None
    plain = np.ones(3)
    assert _Released(plain, plain).ref() is plain


def test_pad_with_a_value_numpy_would_cast_is_left_to_numpy():
    x = ag.tensor(np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(ag.pad(x, 1, constant_values=np.float64(2.5)).data,
                                  np.pad(x.data, 1, constant_values=np.float64(2.5)))
    with pytest.warns(np.exceptions.ComplexWarning):    # NumPy's own warning, as before
        out = ag.pad(x, 1, constant_values=1j)
    assert out.data[0, 0] == 0.0
