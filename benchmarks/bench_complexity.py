"""Repeated calls of the Section 2 measures (other modules call them inside loops): seconds per
call of C_eps and C_s after the first, against a budget of 0.1 s per call."""

from __future__ import annotations

from typing import Any

import sympy as sp

from rnnproof import complexity as cx

from .common import best_time, row


def run(quick: bool) -> list[dict[str, Any]]:
    z = cx.z
    rows = []
    for name, phi, R in (("sin z", sp.sin(z), 0.5), ("e^z - 1", sp.exp(z) - 1, 0.5),
                         ("z^3 - 2z", z**3 - 2 * z, 3.0)):
        t = best_time(lambda phi=phi, R=R: (cx.c_eps(phi, R, 0.01), cx.c_s(phi, R)),
                      repeat=3 if quick else 10)
        rows.append(row("C_eps and C_s, repeated call", f"phi = {name}, R = {R}, eps = 0.01",
                        t, "budget 0.1 s per call", 0.1 / t, ">= 1x"))
    return rows
