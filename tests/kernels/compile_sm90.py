"""Compile every kernel variant the launchers can ask for, for sm_90, without a GPU.

Run by test_compile.py in a fresh interpreter (the kernels must be decorated for compilation,
not for the interpreter). The interpreter runs the kernels' Python, but only the compiler
rejects what Triton cannot lower (non-constexpr globals, unsupported casts, ...).
Prints one line per variant and exits non-zero on the first failure.
"""

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from kernels import adamw, grad_stats, image_collate, token_collate

H100 = GPUTarget("cuda", 90, 32)


def compile_variant(kernel, pointers_and_scalars: dict[str, str], constexprs: dict) -> None:
    signature = {**pointers_and_scalars, **{name: "constexpr" for name in constexprs}}
    triton.compile(ASTSource(kernel, signature, constexprs), target=H100)
    print("ok", kernel.__name__, constexprs)


def main() -> None:
    update_args = {"table_ptr": "*i64", "grad_ptrs_ptr": "*i64", "chunks_ptr": "*i32", "hyper_ptr": "*fp64"}
    update_args |= {"clip_ptr": "*fp32", "scalars_ptr": "*fp64", "partials_ptr": "*fp32"}
    for (dtype, master, rounding), norm_in_pass, aligned in itertools.product(
        [(tl.float32, False, False), (tl.bfloat16, True, False), (tl.bfloat16, True, True)],
        [False, True],
        [False, True],
    ):
        constexprs = dict(PARAM_DTYPE=dtype, HAS_MASTER=master, STOCHASTIC_ROUNDING=rounding)
        constexprs |= dict(NORM_IN_PASS=norm_in_pass, ALIGNED=aligned, BLOCK=2048)
        compile_variant(adamw._adamw_kernel, update_args, constexprs)

    finalize_args = {"table_ptr": "*i64", "num_rows": "i32", "partials_ptr": "*fp32", "num_partials": "i32"}
    finalize_args |= {"clip_ptr": "*fp32", "scalars_ptr": "*fp64"}
    for has_norm, clip, skip in itertools.product([False, True], repeat=3):
        constexprs = dict(HAS_NORM=has_norm, CLIP=clip, SKIP_NONFINITE=skip, STEP_COL=4, NUM_COLS=7, BLOCK=1024)
        compile_variant(adamw._adamw_finalize_kernel, finalize_args, constexprs)

    sqnorm_args = {"table_ptr": "*i64", "grad_ptrs_ptr": "*i64", "chunks_ptr": "*i32", "partials_ptr": "*fp32"}
    for accum_col, grad_dtype, accum_dtype in [(-1, tl.bfloat16, tl.bfloat16), (0, tl.bfloat16, tl.float32)]:
        constexprs = dict(ACCUM_COL=accum_col, NUM_COLS=7 if accum_col < 0 else 2, GRAD_DTYPE=grad_dtype)
        constexprs |= dict(ACCUM_DTYPE=accum_dtype, ALIGNED=True, BLOCK=2048)
        compile_variant(grad_stats._sqnorm_kernel, sqnorm_args, constexprs)

    outputs = {name: "*i64" for name in ("input_ids_ptr", "attention_mask_ptr", "position_ids_ptr", "labels_ptr")}
    for left, flat in itertools.product([False, True], ["*i32", "*i64"]):
        args = {"flat_ptr": flat, "spans_ptr": "*i64", **outputs, "seq_len": "i32", "pad_id": "i32"}
        compile_variant(token_collate._collate_padded_kernel, args, dict(LEFT_PAD=left, BLOCK=1024))
    packed_args = {"flat_ptr": "*i64", "starts_ptr": "*i64", "cu_seqlens_ptr": "*i32"}
    packed_args |= {name: "*i64" for name in ("input_ids_ptr", "position_ids_ptr", "labels_ptr")}
    compile_variant(token_collate._collate_packed_kernel, packed_args, dict(BLOCK=1024))

    for channels, (dtype, pointer) in itertools.product([1, 3], [(tl.float32, "*fp32"), (tl.bfloat16, "*bf16")]):
        args = {"images_ptr": "*u8", "mean_ptr": "*fp32", "std_ptr": "*fp32", "out_ptr": pointer, "num_pixels": "i32"}
        constexprs = dict(CHANNELS=channels, CHANNELS_POW2=triton.next_power_of_2(channels), OUT_DTYPE=dtype)
        compile_variant(image_collate._normalize_images_kernel, args, constexprs | dict(BLOCK=1024))


if __name__ == "__main__":
    main()
