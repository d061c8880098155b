"""FusedAdamW / fused_adamw against torch.optim.AdamW (+ clip_grad_norm_) over several steps."""

import io
import math

import pytest
import torch

from kernels import FusedAdamW, fused_adamw
from kernels import adamw as adamw_module

BLOCK = 2048  # elements per program in the multi-tensor launch
SHAPE_SETS = {
    "one-element": [(1,)],
    "block-1": [(BLOCK - 1,)],
    "block": [(BLOCK,)],
    "block+1": [(BLOCK + 1,)],
    "uneven-multi": [(3, 5), (BLOCK + 1,), (1,), (0,), (33, 64), (7,)],
}
HYPER = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
FP32_TOL = dict(atol=1e-6, rtol=1e-6)


def _leaves(values: list[torch.Tensor], device, dtype=torch.float32) -> list[torch.Tensor]:
    return [v.detach().to(device=device, dtype=dtype, copy=True).requires_grad_() for v in values]


def _set_grads(params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
    for p, g in zip(params, grads):
        p.grad = g.to(p.dtype).clone()


def _random(shapes, device) -> list[torch.Tensor]:
    return [torch.randn(s, device=device) for s in shapes]


@pytest.mark.parametrize("shapes", SHAPE_SETS.values(), ids=SHAPE_SETS.keys())
def test_fp32_matches_torch_adamw(target, shapes):
    device, backend = target
    torch.manual_seed(0)
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)
    opt = FusedAdamW(ours, **HYPER, backend=backend)
    ref_opt = torch.optim.AdamW(ref, **HYPER)
    for _ in range(4):
        grads = _random(shapes, device)
        _set_grads(ours, grads)
        _set_grads(ref, grads)
        opt.step()
        ref_opt.step()
        for p, r in zip(ours, ref):
            torch.testing.assert_close(p, r, **FP32_TOL)
            state, ref_state = opt.state[p], ref_opt.state[r]
            torch.testing.assert_close(state["exp_avg"], ref_state["exp_avg"], **FP32_TOL)
            torch.testing.assert_close(state["exp_avg_sq"], ref_state["exp_avg_sq"], **FP32_TOL)
            assert state["step"].item() == ref_state["step"].item()
        expected_sqnorm = sum(g.square().sum() for g in grads)
        torch.testing.assert_close(opt.last_grad_sqnorm, expected_sqnorm, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("shapes", [SHAPE_SETS["block+1"], SHAPE_SETS["uneven-multi"]], ids=["block+1", "uneven"])
def test_bf16_params_follow_an_fp32_master_reference(target, shapes, bf16_rtol):
    """bf16 params: the fp32 master follows fp32 AdamW fed the same (bf16) grads exactly."""
    device, backend = target
    torch.manual_seed(1)
    init = [v.to(torch.bfloat16) for v in _random(shapes, "cpu")]
    ours = _leaves(init, device, torch.bfloat16)
    ref = _leaves(init, device, torch.float32)
    opt = FusedAdamW(ours, **HYPER, backend=backend)
    ref_opt = torch.optim.AdamW(ref, **HYPER)
    for _ in range(3):
        grads = [g.to(torch.bfloat16) for g in _random(shapes, device)]
        _set_grads(ours, grads)
        _set_grads(ref, grads)
        opt.step()
        ref_opt.step()
        for p, r in zip(ours, ref):
            assert p.dtype == torch.bfloat16
            torch.testing.assert_close(opt.state[p]["master_param"], r.detach(), **FP32_TOL)
            torch.testing.assert_close(opt.state[p]["exp_avg"], ref_opt.state[r]["exp_avg"], **FP32_TOL)
            rounded = opt.state[p]["master_param"].to(torch.bfloat16)
            torch.testing.assert_close(p.detach(), rounded, atol=0.0, rtol=bf16_rtol(device, backend))


def test_param_groups_with_their_own_lr_and_weight_decay(target):
    device, backend = target
    torch.manual_seed(2)
    shapes = [(5, 3), (BLOCK + 1,), (4,), (6,)]
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)

    def groups(params):
        return [
            {"params": params[:2], "lr": 2e-2, "weight_decay": 0.0},
            {"params": params[2:], "lr": 5e-3, "weight_decay": 0.3, "betas": (0.8, 0.95), "eps": 1e-6},
        ]

    opt = FusedAdamW(groups(ours), **HYPER, backend=backend)
    ref_opt = torch.optim.AdamW(groups(ref), **HYPER)
    frozen = init[3].to(device)
    for _ in range(3):
        grads = _random(shapes[:3], device)  # the last param never gets a gradient
        _set_grads(ours[:3], grads)
        _set_grads(ref[:3], grads)
        opt.step()
        ref_opt.step()
    for p, r in zip(ours, ref):
        torch.testing.assert_close(p, r, **FP32_TOL)
    assert torch.equal(ours[3].detach(), frozen)
    assert ours[3] not in opt.state


def test_layout_follows_new_grads_moved_params_and_added_groups(target):
    """FusedAdamW caches its launch tables; each change below must rebuild them."""
    device, backend = target
    torch.manual_seed(8)
    shapes = [(BLOCK + 1,), (3, 5), (7,), (4, 4)]
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)
    opt = FusedAdamW(ours[:3], **HYPER, backend=backend)
    ref_opt = torch.optim.AdamW(ref[:3], **HYPER)
    for step in range(6):
        if step == 2:  # a param gets a new storage (as after .to() or a checkpoint load)
            for params in (ours, ref):
                params[0].data = params[0].data.clone()
        if step == 4:
            opt.add_param_group({"params": [ours[3]], "lr": 3e-3})
            ref_opt.add_param_group({"params": [ref[3]], "lr": 3e-3})
        with_grad = 2 if step < 1 else 4  # the third param gets gradients from step 1 on
        grads = _random(shapes[:with_grad], device)
        for params, optimizer in ((ours, opt), (ref, ref_opt)):
            optimizer.zero_grad()
            _set_grads(params[:with_grad], grads)
            optimizer.step()
    for p, r in zip(ours, ref):
        torch.testing.assert_close(p, r, **FP32_TOL)


def test_state_dict_round_trip_mid_training(target):
    """Save after 2 steps, load into a fresh optimizer, continue: identical to never stopping."""
    device, backend = target
    torch.manual_seed(3)
    shapes = [(BLOCK + 1,), (3, 5), (7,)]
    dtypes = [torch.float32, torch.bfloat16, torch.bfloat16]
    init = _random(shapes, "cpu")
    first = [v.to(device=device, dtype=d).requires_grad_() for v, d in zip(init, dtypes)]
    opt = FusedAdamW(first, **HYPER, backend=backend)
    grad_stream = [_random(shapes, device) for _ in range(4)]
    for grads in grad_stream[:2]:
        _set_grads(first, grads)
        opt.step()
        opt.zero_grad()

    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    second = [p.detach().clone().requires_grad_() for p in first]
    resumed = FusedAdamW(second, lr=1.0, backend=backend)  # hyper-parameters come from the state
    _set_grads(second, _random(shapes, device))  # a step before loading: state to be replaced
    resumed.step()
    with torch.no_grad():
        for a, b in zip(first, second):
            b.copy_(a)
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
    for original, p in zip(first, second):
        state = resumed.state[p]
        assert all(value.dtype == torch.float32 for value in state.values())
        assert state["step"].device == p.device and state["step"].item() == 2
        assert state.keys() == opt.state[original].keys()
        for key, value in state.items():
            assert torch.equal(value, opt.state[original][key])

    for grads in grad_stream[2:]:
        for params, optimizer in ((first, opt), (second, resumed)):
            _set_grads(params, grads)
            optimizer.step()
            optimizer.zero_grad()
    for a, b in zip(first, second):
        assert torch.equal(a, b)


class _LaunchRecorder:
    """Stands in for a Triton kernel: records what could trigger a compile, then launches."""

    def __init__(self, kernel, do_not_specialize: set[str]):
        self.kernel = kernel
        self.do_not_specialize = do_not_specialize
        self.keys: list[tuple] = []

    def __getitem__(self, grid):
        def launch(*args, **constexprs):
            names = list(self.kernel.arg_names)
            specialized = []
            for name, value in zip(names, args):
                if isinstance(value, torch.Tensor):
                    specialized.append((name, value.dtype, value.data_ptr() % 16 == 0))
                elif isinstance(value, int) and name not in self.do_not_specialize:
                    specialized.append((name, value == 1, value % 16 == 0))
            self.keys.append((tuple(specialized), tuple(sorted(constexprs.items(), key=lambda kv: kv[0]))))
            return self.kernel[grid](*args, **constexprs)

        return launch


def _compiled_variants(kernel) -> int:
    """Kernels compiled so far (triton ≥ 3.0: device_caches[device][0] is the kernel cache)."""
    return sum(len(cache[0]) for cache in kernel.device_caches.values())


def test_lr_changed_every_step_matches_torch_and_never_recompiles(target, monkeypatch):
    device, backend = target
    torch.manual_seed(4)
    shapes = SHAPE_SETS["uneven-multi"]
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)
    opt = FusedAdamW(ours, **HYPER, backend=backend)
    ref_opt = torch.optim.AdamW(ref, **HYPER)
    update = _LaunchRecorder(adamw_module._adamw_kernel, set())
    monkeypatch.setattr(adamw_module, "_adamw_kernel", update)
    compiled_after_first_step = None
    schedule = [(1e-2, 0.1, 0.9), (3e-3, 0.05, 0.85), (7e-4, 0.0, 0.8), (2e-2, 0.2, 0.95), (1e-3, 0.1, 0.9)]
    for lr, weight_decay, beta1 in schedule:
        for optimizer in (opt, ref_opt):
            for group in optimizer.param_groups:
                group.update(lr=lr, weight_decay=weight_decay, betas=(beta1, 0.99))
        grads = _random(shapes, device)
        _set_grads(ours, grads)
        _set_grads(ref, grads)
        opt.step()
        ref_opt.step()
        if device.type == "cuda" and compiled_after_first_step is None:
            compiled_after_first_step = _compiled_variants(update.kernel)
    for p, r in zip(ours, ref):
        torch.testing.assert_close(p, r, **FP32_TOL)
    if backend == "triton":
        assert len(update.keys) == len(schedule)
        assert len(set(update.keys)) == 1, "a hyper-parameter change altered the kernel's specialisation"
    if device.type == "cuda":
        assert _compiled_variants(update.kernel) == compiled_after_first_step


@pytest.mark.parametrize("max_norm", [0.5, 1e6], ids=["clipping", "below-threshold"])
def test_clipping_matches_clip_grad_norm_then_adamw(target, max_norm):
    device, backend = target
    torch.manual_seed(5)
    shapes = SHAPE_SETS["uneven-multi"]
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)
    opt = FusedAdamW(ours, **HYPER, max_grad_norm=max_norm, backend=backend)
    ref_opt = torch.optim.AdamW(ref, **HYPER)
    for _ in range(3):
        grads = _random(shapes, device)
        _set_grads(ours, grads)
        _set_grads(ref, grads)
        total_norm = torch.nn.utils.clip_grad_norm_(ref, max_norm)
        opt.step()
        ref_opt.step()
        torch.testing.assert_close(opt.last_grad_sqnorm, total_norm.square(), rtol=1e-5, atol=0.0)
        for p, r in zip(ours, ref):
            torch.testing.assert_close(p, r, **FP32_TOL)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy, interpreting inf - inf
@pytest.mark.parametrize("bad_value", [math.inf, math.nan], ids=["inf", "nan"])
def test_nonfinite_gradient_skips_the_whole_step(target, bad_value):
    device, backend = target
    torch.manual_seed(6)
    shapes = [(BLOCK + 1,), (3, 5), (1,)]
    init = _random(shapes, "cpu")
    ours, ref = _leaves(init, device), _leaves(init, device)
    opt = FusedAdamW(ours, **HYPER, max_grad_norm=1.0, skip_nonfinite=True, backend=backend)
    ref_opt = torch.optim.AdamW(ref, **HYPER)
    for step in range(4):
        grads = _random(shapes, device)
        if step == 2:  # poison one element of one tensor: torch's side simply does not step
            grads[1][1, 2] = bad_value
            before = [p.detach().clone() for p in ours]
            states = [{k: v.clone() for k, v in opt.state[p].items()} for p in ours]
            _set_grads(ours, grads)
            opt.step()
            assert not torch.isfinite(opt.last_grad_sqnorm)
            for p, old, old_state in zip(ours, before, states):
                assert torch.equal(p.detach(), old)
                for key, value in old_state.items():
                    assert torch.equal(opt.state[p][key], value)
            continue
        _set_grads(ours, grads)
        _set_grads(ref, grads)
        torch.nn.utils.clip_grad_norm_(ref, 1.0)
        opt.step()
        ref_opt.step()
    for p, r in zip(ours, ref):
        torch.testing.assert_close(p, r, **FP32_TOL)
        assert opt.state[p]["step"].item() == ref_opt.state[r]["step"].item() == 3


def test_stochastic_rounding_is_unbiased_in_the_mean(target):
    """With lr = 0 the master stays put and each step re-rounds it with fresh noise."""
    device, backend = target
    ulp = 2.0**-7  # bf16 spacing in [1, 2)
    fractions = torch.tensor([0.1, 0.5, 0.9])
    per_fraction, steps = 2048, 4
    master = (1.0 + fractions * ulp).repeat_interleave(per_fraction).to(device)
    param = master.to(torch.bfloat16)
    state = [torch.zeros_like(master), torch.zeros_like(master), torch.zeros((), device=device)]
    samples = []
    for seed in range(steps):
        fused_adamw(
            [param], [torch.zeros_like(param)], [state[0]], [state[1]], [state[2]],
            master_params=[master], lr=0.0, weight_decay=0.0,
            stochastic_rounding=True, seed=seed, backend=backend,
        )  # fmt: skip
        samples.append(param.float().view(3, per_fraction).cpu())
    assert torch.equal(master.cpu(), (1.0 + fractions * ulp).repeat_interleave(per_fraction))
    values = torch.cat(samples, dim=1)
    assert torch.all((values == 1.0) | (values == 1.0 + ulp)), "must round to a neighbouring bf16 value"
    n = per_fraction * steps
    sigma = ulp * torch.sqrt(fractions * (1 - fractions) / n)
    bias = values.mean(dim=1) - (1.0 + fractions.double() * ulp).float()
    assert torch.all(bias.abs() < 5 * sigma), f"bias {bias / ulp} ulp exceeds 5 sigma {5 * sigma / ulp}"


def test_functional_form_matches_torch_adamw(target):
    device, backend = target
    torch.manual_seed(7)
    shapes = SHAPE_SETS["uneven-multi"]
    init = _random(shapes, "cpu")
    params = [v.to(device) for v in init]
    exp_avgs, exp_avg_sqs = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    steps = [torch.zeros((), device=device) for _ in params]
    ref = _leaves(init, device)
    ref_opt = torch.optim.AdamW(ref, lr=1e-2, weight_decay=0.1)
    for _ in range(2):
        grads = _random(shapes, device)
        sqnorm = fused_adamw(params, grads, exp_avgs, exp_avg_sqs, steps, lr=1e-2, weight_decay=0.1, backend=backend)
        _set_grads(ref, grads)
        ref_opt.step()
        torch.testing.assert_close(sqnorm, sum(g.square().sum() for g in grads), rtol=1e-5, atol=0.0)
    for p, r in zip(params, ref):
        torch.testing.assert_close(p, r.detach(), **FP32_TOL)
    assert all(s.item() == 2 for s in steps)


def test_functional_form_rejects_inconsistent_inputs():
    param = torch.zeros(4, dtype=torch.bfloat16)
    fp32 = torch.zeros(4)
    with pytest.raises(ValueError, match="master"):
        fused_adamw([param], [param.clone()], [fp32], [fp32.clone()], [torch.zeros(())], lr=1e-3, backend="torch")
    with pytest.raises(ValueError, match="align"):
        fused_adamw([fp32], [], [fp32], [fp32], [torch.zeros(())], lr=1e-3, backend="torch")
    with pytest.raises(TypeError, match="fp32 and bf16"):
        half = torch.zeros(4, dtype=torch.float16)
        fused_adamw([half], [half], [fp32], [fp32], [torch.zeros(())], lr=1e-3, backend="torch")


@pytest.mark.filterwarnings("error")  # reading a fake tensor's data_ptr warns (and will raise)
def test_torch_backend_steps_on_fake_tensors():
    """The probe traces memory on fake tensors with backend="torch": no address may be read."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        params = [torch.nn.Parameter(torch.randn(BLOCK + 1)), torch.nn.Parameter(torch.randn(3, 5))]
        for p in params:
            p.grad = torch.randn_like(p)
        optimizer = FusedAdamW(params, lr=1e-3, backend="torch")
        optimizer.step()
        optimizer.step()
    assert optimizer.state[params[0]]["exp_avg"].shape == (BLOCK + 1,)
