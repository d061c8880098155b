"""batchfit kernels: Triton kernels for the throughput probe, each beside its torch reference.

Dispatch (`backend_for`): Triton on CUDA, the torch reference on CPU, and the Triton kernels
interpreted on CPU tensors while `TRITON_INTERPRET=1` is set (it must already be set when this
package is imported). Every function also takes `backend="triton" | "torch"` to force one.
"""

from ._backend import HAS_TRITON, backend_for
from .adamw_functional import fused_adamw
from .grad_stats import accumulate_grad_sqnorm
from .image_collate import collate_images
from .optimizer import FusedAdamW
from .token_collate import IGNORE_INDEX, collate_packed, collate_tokens

__all__ = [
    "HAS_TRITON",
    "IGNORE_INDEX",
    "FusedAdamW",
    "accumulate_grad_sqnorm",
    "backend_for",
    "collate_images",
    "collate_packed",
    "collate_tokens",
    "fused_adamw",
]
