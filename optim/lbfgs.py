"""L-BFGS: limited-memory quasi-Newton steps, optionally with a strong-Wolfe line search.

PyTorch's algorithm (itself after minFunc), so trajectories match ``torch.optim.LBFGS``.
The work happens on one flat NumPy vector over all parameters; there is no functional
rule because every step re-evaluates the loss through a closure.
"""
import math

import numpy as np

import autograd as ag
from autograd.tensor import Tensor

from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, f1') and (x2, f2, f2'), clamped to
    ``bounds`` (default: the interval between x1 and x2); the midpoint when the cubic
    has no real minimiser (Nocedal & Wright, eq. 3.59)."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Step length t along d satisfying the strong Wolfe conditions
    f(t) <= f(0) + c1·t·f'(0) and |f'(t)| <= c2·|f'(0)| (bracketing, then zoom).

    ``evaluate(t)`` returns (loss, flat gradient) at x + t·d. Returns
    (loss, gradient, t, number of evaluations).
    """
    d_norm = np.abs(d).max()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # Bracketing phase: grow t until an interval is known to hold an acceptable point.
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bf, bg, bgtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bf, bg = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bf, bg, bgtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter >= max_ls:
        bracket, bf, bg = [0.0, t], [f, f_new], [g, g_new]

    # Zoom phase: shrink the bracket by cubic interpolation until Wolfe holds.
    insufficient = False
    low, high = (0, 1) if bf[0] <= bf[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1])
        # Keep t away from the bracket's ends, or the interval stops shrinking.
        hi_b, lo_b = max(bracket), min(bracket)
        margin = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < margin:
            if insufficient or t >= hi_b or t <= lo_b:
                t = hi_b - margin if abs(t - hi_b) < abs(t - lo_b) else lo_b + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bf[low]:
            bracket[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bf[0] <= bf[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bf[high], bg[high], bgtd[high] = \
                    bracket[low], bf[low], bg[low], bgtd[low]
            bracket[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new, gtd_new
    return bf[low], bg[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's arguments; ``step(closure)`` runs up to ``max_iter``
    iterations, each a two-loop-recursion direction from the last ``history_size``
    (s, y) pairs and a fixed step ``lr`` or a strong-Wolfe line search.

    One parameter group only. ``closure()`` must zero the gradients, compute the loss,
    call ``backward()`` and return the loss.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: doesn't support per-parameter options (parameter "
                             "groups); pass one list of parameters")
        self._params = self.param_groups[0]["params"]

    def _validate(self, group):
        super()._validate(group)
        self._check_nonnegative(group, "tolerance_grad", "tolerance_change")
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"LBFGS: {key} must be a positive integer, got {v!r}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS: doesn't support per-parameter options (parameter "
                             "groups)")
        super().add_param_group(param_group)

    # ----- the flat view over all parameters -----------------------------------------
    def _flat_grad(self):
        parts = []
        for i, p in enumerate(self._params):
            if p.grad is None:
                parts.append(np.zeros(p.size, p.dtype))
                continue
            if p.grad.shape != p.data.shape:
                self._refuse_update(i, p)
            parts.append(p.grad.data.ravel())
        return np.concatenate(parts)

    def _flat_params(self):
        return np.concatenate([p.data.ravel() for p in self._params])

    def _add(self, t, d):
        offset = 0
        for p in self._params:
            n = p.size
            p.data += t * d[offset:offset + n].reshape(p.shape)
            p._bump_version()
            offset += n

    def _set(self, flat):
        offset = 0
        for p in self._params:
            n = p.size
            np.copyto(p.data, flat[offset:offset + n].reshape(p.shape))
            p._bump_version()
            offset += n

    def _evaluate(self, closure):
        with ag.enable_grad():
            loss = closure()
        return float(loss.item() if isinstance(loss, Tensor) else loss)

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss at the start."""
        if closure is None:
            raise ValueError("LBFGS.step: a closure is required (it re-evaluates the "
                             "loss: zero the gradients, compute the loss, call "
                             "backward(), return the loss)")
        for i, p in enumerate(self._params):
            if not p.data.flags.writeable:
                self._refuse_update(i, p)
        group = self.param_groups[0]
        lr = self._number(group, "lr")
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with ag.enable_grad():
            orig_loss = closure()
        loss = float(orig_loss.item() if isinstance(orig_loss, Tensor) else orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d = _array(state.get("d"))
        t = state.get("t")
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_stps = [_array(v) for v in state.get("old_stps", [])]
        ro = list(state.get("ro", []))
        h_diag = state.get("H_diag", 1.0)
        prev_flat_grad = _array(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:      # keep the pair only if the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                # Two-loop recursion: d = −H·g with H from the stored pairs.
                q = -flat_grad
                al = [0.0] * len(old_dirs)
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d = d + (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # The very first step is scaled down: there is no curvature estimate yet.
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:      # not a descent direction any more
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = self._flat_params()

                def evaluate(step):
                    self._add(step, d)
                    f_t = self._evaluate(closure)
                    g_t = self._flat_grad()
                    self._set(x0)
                    return f_t, g_t

                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - evals)
                self._add(t, d)
            else:
                self._add(t, d)
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    ls_evals = 1
            opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            evals += ls_evals
            state["func_evals"] += ls_evals

            if (n_iter == max_iter or evals >= max_eval or opt_cond
                    or np.abs(d * t).max() <= tolerance_change
                    or abs(loss - prev_loss) < tolerance_change):
                break

        state["d"] = Tensor(d)
        state["t"] = float(t)
        state["old_dirs"] = [Tensor(v) for v in old_dirs]
        state["old_stps"] = [Tensor(v) for v in old_stps]
        state["ro"] = ro
        state["H_diag"] = float(h_diag)
        state["prev_flat_grad"] = Tensor(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss


def _array(v):
    return v.data if isinstance(v, Tensor) else v
