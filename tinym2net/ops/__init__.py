"""Op lowerings: importing this package registers one lowering per supported OpKind."""

from . import (  # noqa: F401
    concat,
    conv,
    elementwise,
    fc,
    logistic,
    mean,
    pad,
    pool,
    quantize,
    reshape,
    softmax,
)
