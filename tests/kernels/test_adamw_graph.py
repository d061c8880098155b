"""FusedAdamW's capturable step: in-place hyper-parameters, fixed gradient addresses, the graph.

The graph replay itself needs CUDA (the `cuda` tests, run by scripts/gpu-check); everything a
graph depends on -- no per-step uploads, tables reused, results unchanged -- is checked on CPU
under the interpreter too.
"""

import io

import pytest
import torch

from kernels import FusedAdamW, _multi_tensor

HYPER = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
TOL = dict(atol=1e-6, rtol=1e-6)
# (lr, beta1, beta2, weight_decay) per step: changes at steps 2 and 4 only.
SCHEDULE = [(1e-2, 0.9, 0.99, 0.1)] * 2 + [(3e-3, 0.8, 0.95, 0.05)] * 2 + [(2e-2, 0.85, 0.999, 0.0)]


def _model_pair(device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(33, 70), torch.nn.Tanh(), torch.nn.Linear(70, 5)).to(device)
    twin = torch.nn.Sequential(torch.nn.Linear(33, 70), torch.nn.Tanh(), torch.nn.Linear(70, 5)).to(device)
    twin.load_state_dict(model.state_dict())
    return model, twin


def _backward(model: torch.nn.Module, step: int, device: torch.device) -> None:
    generator = torch.Generator().manual_seed(step)
    dtype = next(model.parameters()).dtype  # the bf16 graph test casts the whole model
    inputs = torch.randn(16, 33, generator=generator).to(device=device, dtype=dtype)
    model(inputs).square().mean().backward()


def _set(optimizer: torch.optim.Optimizer, lr: float, beta1: float, beta2: float, weight_decay: float) -> None:
    for group in optimizer.param_groups:
        group.update(lr=lr, betas=(beta1, beta2), weight_decay=weight_decay)


def test_flat_grads_keep_their_addresses_and_match_torch(target):
    """Backward accumulates into the flat buffer; zero_grad keeps it; AdamW as torch's."""
    device, backend = target
    model, twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, backend=backend)
    opt.use_flat_grads()
    ref = torch.optim.AdamW(twin.parameters(), **HYPER)
    addresses = [p.grad.data_ptr() for p in model.parameters()]
    for step, hyper in enumerate(SCHEDULE):
        for optimizer, net in ((opt, model), (ref, twin)):
            optimizer.zero_grad()
            _set(optimizer, *hyper)
            _backward(net, step, device)
            optimizer.step()
        assert [p.grad.data_ptr() for p in model.parameters()] == addresses
        for p, r in zip(model.parameters(), twin.parameters()):
            torch.testing.assert_close(p, r, **TOL)
    if backend == "triton":
        assert opt._layout.grad_pointers.builds == 1, "the gradient address vector was rebuilt"


def test_hyper_parameters_are_written_in_place_only_when_they_change(kernel_target):
    device, backend = kernel_target
    model, twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, max_grad_norm=0.5, backend=backend)
    opt.use_flat_grads()
    ref = torch.optim.AdamW(twin.parameters(), **HYPER)
    table = None
    for step, hyper in enumerate(SCHEDULE):
        for optimizer, net in ((opt, model), (ref, twin)):
            optimizer.zero_grad()
            _set(optimizer, *hyper)
            _backward(net, step, device)
        torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
        uploads_before = _multi_tensor.uploads()
        opt.step()
        ref.step()
        hyper_table = opt._layout.hyper
        if table is None:  # the first step builds the tables: uploads are expected
            table, address, writes = hyper_table.hyper, hyper_table.hyper.data_ptr(), hyper_table.writes
        else:
            changed = SCHEDULE[step] != SCHEDULE[step - 1]
            assert hyper_table.hyper is table and table.data_ptr() == address
            assert hyper_table.writes == writes + changed
            assert _multi_tensor.uploads() - uploads_before == changed, "only a changed row may be uploaded"
            writes = hyper_table.writes
        for p, r in zip(model.parameters(), twin.parameters()):
            torch.testing.assert_close(p, r, **TOL)


def test_a_new_clip_threshold_reaches_the_device_without_a_new_table(kernel_target):
    device, backend = kernel_target
    model, twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, max_grad_norm=1e6, backend=backend)
    opt.use_flat_grads()
    ref = torch.optim.AdamW(twin.parameters(), **HYPER)
    for step, max_norm in enumerate([1e6, 1e6, 0.05, 0.05]):
        opt.max_grad_norm = max_norm
        for optimizer, net in ((opt, model), (ref, twin)):
            optimizer.zero_grad()
            _backward(net, step, device)
        torch.nn.utils.clip_grad_norm_(twin.parameters(), max_norm)
        opt.step()
        ref.step()
    scalars = opt._layout.hyper.scalars
    assert scalars[0].item() == 0.05
    for p, r in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, r, **TOL)


def test_state_dict_round_trip_with_flat_grads(target):
    """Save, load into a fresh optimizer with flat grads, change the lr: as never stopping."""
    device, backend = target
    model, twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, backend=backend)
    opt.use_flat_grads()
    for step in range(2):
        opt.zero_grad()
        _backward(model, step, device)
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    twin.load_state_dict(model.state_dict())
    resumed = FusedAdamW(twin.parameters(), lr=1.0, backend=backend)
    resumed.use_flat_grads()
    resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
    for step in range(2, 5):
        for optimizer, net in ((opt, model), (resumed, twin)):
            optimizer.zero_grad()
            _set(optimizer, *SCHEDULE[step])
            _backward(net, step, device)
            optimizer.step()
    for p, r in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, r)


def test_capture_needs_cuda_and_graph_step_needs_capture(target):
    device, backend = target
    if device.type == "cuda":
        pytest.skip("on CUDA the capture runs: see the tests below")
    model, _ = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, backend=backend)
    opt.use_flat_grads()
    _backward(model, 0, device)
    opt.step()
    with pytest.raises(RuntimeError, match="needs CUDA params and the Triton backend"):
        opt.capture()
    with pytest.raises(RuntimeError, match="needs capture"):
        opt.graph_step()


_cuda_only = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.mark.parametrize("max_norm", [None, 0.05], ids=["no-clip", "clip"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("_", [pytest.param(None, marks=_cuda_only)], ids=["cuda"])
def test_graph_step_matches_eager_steps_with_a_changing_schedule(_, dtype, max_norm):
    device = torch.device("cuda")
    model, twin = _model_pair(device)
    model.to(dtype)
    twin.to(dtype)
    graphed = FusedAdamW(model.parameters(), **HYPER, max_grad_norm=max_norm)
    eager = FusedAdamW(twin.parameters(), **HYPER, max_grad_norm=max_norm)
    for optimizer in (graphed, eager):
        optimizer.use_flat_grads()
    for step, hyper in enumerate(SCHEDULE):
        for optimizer, net in ((graphed, model), (eager, twin)):
            optimizer.zero_grad()
            _set(optimizer, *hyper)
            _backward(net, step, device)
        if step == 0:
            graphed.step()  # compiles the kernels and creates the state
            graphed.capture()
        else:
            graphed.graph_step()
        eager.step()
        torch.testing.assert_close(graphed.last_grad_sqnorm, eager.last_grad_sqnorm, rtol=1e-6, atol=0.0)
        for p, r in zip(model.parameters(), twin.parameters()):
            torch.testing.assert_close(p, r, atol=0.0, rtol=0.0)
            assert graphed.state[p]["step"].item() == eager.state[r]["step"].item() == step + 1


@pytest.mark.parametrize("_", [pytest.param(None, marks=_cuda_only)], ids=["cuda"])
def test_graph_step_refuses_moved_gradients(_):
    device = torch.device("cuda")
    model, _twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER)
    _backward(model, 0, device)
    opt.step()
    opt.capture()
    opt.zero_grad(set_to_none=True)
    _backward(model, 1, device)
    first = next(model.parameters())
    first.grad = first.grad.clone()  # a new address, as after set_to_none and a fresh backward
    with pytest.raises(RuntimeError, match="changed since capture"):
        opt.graph_step()


class _Replay:
    """Stands in for a CUDA graph on CPU: replay() runs the captured launch again, with the
    arguments it was captured with -- what a graph does -- and writes into the same output."""

    def __init__(self, launch):
        self.launch = launch
        self.output = launch()

    def replay(self):
        self.output.copy_(self.launch())


def test_graph_step_bookkeeping_under_the_interpreter(kernel_target, monkeypatch):
    """capture() / graph_step() host logic with a stand-in graph: schedule changes reach the
    replay, results match torch, and moved gradients or changed options are refused."""
    device, backend = kernel_target
    if device.type == "cuda":
        pytest.skip("the real graph runs in the cuda tests")
    from kernels import optimizer as optimizer_module

    def fake_capture(launch):
        graph = _Replay(launch)
        return graph, graph.output

    monkeypatch.setattr(optimizer_module, "_graphs_available", lambda tables: True)
    monkeypatch.setattr(optimizer_module, "capture", fake_capture)
    model, twin = _model_pair(device)
    opt = FusedAdamW(model.parameters(), **HYPER, max_grad_norm=0.5, backend=backend)
    opt.use_flat_grads()
    ref = torch.optim.AdamW(twin.parameters(), **HYPER)
    for step, hyper in enumerate(SCHEDULE):
        for optimizer, net in ((opt, model), (ref, twin)):
            optimizer.zero_grad()
            _set(optimizer, *hyper)
            _backward(net, step, device)
        total_norm = torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
        if step == 0:
            with pytest.raises(RuntimeError, match="one step"):
                opt.capture()
            opt.step()
            # The stand-in runs the launch once while "capturing": undo that extra step on both sides.
            ref.step()
            opt.capture()
            ref.step()
        else:
            opt.graph_step()
            ref.step()
            torch.testing.assert_close(opt.last_grad_sqnorm, total_norm.square(), rtol=1e-5, atol=0.0)
    for p, r in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, r, **TOL)
        assert opt.state[p]["step"].item() == ref.state[r]["step"].item() == len(SCHEDULE) + 1
    opt.max_grad_norm = None
    with pytest.raises(RuntimeError, match="max_grad_norm on/off"):
        opt.graph_step()
    opt.max_grad_norm = 0.5
    first = next(model.parameters())
    first.grad = first.grad.clone()
    with pytest.raises(RuntimeError, match="changed since capture"):
        opt.graph_step()
