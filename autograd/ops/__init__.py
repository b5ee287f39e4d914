"""Primitive operations, grouped by kind. Each primitive is a ``Function`` whose
derivative rule sits right below its forward; the composites after them have no
derivative code of their own."""
